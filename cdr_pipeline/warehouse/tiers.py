"""The two tiers a reader may read: `full` (schema `main`) or `analyst` (pseudonymised,
`warehouse/analyst.py`), and which one a reader gets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import duckdb

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.warehouse.analyst import ANALYST_SCHEMA

TIER_ENV = "CDR_TIER"
TIERS = ("analyst", "full")


def resolve_tier(
    default: str, env: Mapping[str, str] | None = None, warehouse: Path | None = None
) -> str:
    """The tier a reader uses: `CDR_TIER` (`analyst` or `full`) when set, else `default`.
    `CDR_TIER=full` is honoured only for the owner of `warehouse` (when given): in a
    warehouse shared read-only with a group (`file_mode = 0o640`) the group reads the
    analyst tier."""
    text = (os.environ if env is None else env).get(TIER_ENV, "").strip().lower()
    tier = text or default
    if tier not in TIERS:
        raise ConfigError(f"{TIER_ENV}: bad value {text!r}", hint="analyst (pseudonymised) or full")
    if text == "full" and warehouse is not None and (warehouse / "state").is_dir():
        owner = (warehouse / "state").stat().st_uid
        if owner != os.geteuid():
            raise ConfigError(
                f"{TIER_ENV}=full: only the owner of {warehouse} (uid {owner}) reads the full tier",
                hint=f"unset {TIER_ENV} to read the analyst tier",
            )
    return tier


def use_tier(con: duckdb.DuckDBPyConnection, tier: str) -> None:
    """Make unqualified view names read `tier`: `analyst` puts the schema of the analyst
    tier first (a warehouse built before it existed is an error, never the full views)."""
    if tier == "full":
        return
    found = con.execute(
        "select count(*) from duckdb_schemas() where schema_name = ?", [ANALYST_SCHEMA]
    ).fetchone()
    if not found or not found[0]:
        raise ConfigError(
            "this cdr.duckdb has no analyst tier",
            hint="run `cdr build` to create it (or set CDR_TIER=full where you may see "
            "personal data)",
        )
    con.execute(f"set search_path = '{ANALYST_SCHEMA}'")
