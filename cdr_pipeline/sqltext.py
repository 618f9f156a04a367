"""Quoting for SQL text the pipeline builds (view definitions, merges, quality batches)."""

from __future__ import annotations

from pathlib import Path


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str | Path) -> str:
    """A SQL string literal (paths and settings are baked into SQL text)."""
    return "'" + str(value).replace("'", "''") + "'"
