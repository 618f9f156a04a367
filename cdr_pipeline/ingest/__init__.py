"""Streaming ingest: sniff -> read chunk -> normalize -> check rows -> stage -> merge."""
