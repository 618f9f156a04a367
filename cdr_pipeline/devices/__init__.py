"""Webex Go devices: ingest derivations of snapshots, activation events and entitlements.

The lifecycle itself (status history, activation codes, licence holdings and days, rule
violations) is derived in SQL views under `sql/` (one place only); see
docs/inputs-devices.md.
"""
