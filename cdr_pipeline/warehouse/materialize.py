"""Marts kept as tables in `cdr.duckdb`, recomputed by day.

Most views read the Parquet files of one table version at every query. A view whose rows are
each a function of one call leg and of the device tables, and that many reports read, is kept
as a table instead (`MATERIALIZED`): `fct_webex_go_leg_devices` matches every Webex Go leg to
its device (two range joins per leg), which every licence report and `fct_webex_go_calls`
need. The view keeps its name and columns; it selects from `materialized.<name>`, in the
full tier and in the analyst tier, whose version of it has the same rows.

`cdr build` computes the table whole. The refresh at the end of an ingest or fetch recomputes
only the rows of the days whose leg files changed (new days, merged days, days a record moved
out of, days retention dropped): `cdr_meta.materialized` remembers the file list of each day
and the versions of the other tables the rows were computed from. When another table moved
(new device snapshots or events), every row may change, and the table is computed whole.
Either way the result equals the view's SQL over the same table versions (the parity tests).
`connect_as_of` (time travel) keeps plain views: it builds for one question.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA as ANALYST_BASE
from cdr_pipeline.warehouse.catalog import ViewSpec, read_sql_file
from cdr_pipeline.warehouse.signature import META_SCHEMA

log = logging.getLogger(__name__)

MATERIALIZED: dict[str, str] = {"fct_webex_go_leg_devices": "call_date"}
"""View -> its column holding the call_legs partition (UTC day) each row comes from."""
LEGS = "call_legs"
SCHEMA = "materialized"
STATE = f"{META_SCHEMA}.materialized"


def materialized_specs(sql_dir: Path) -> list[ViewSpec]:
    """The specs of the materialized views `sql_dir` has (a refresh reads no other file)."""
    paths = [sql_dir / f"{name}.sql" for name in MATERIALIZED]
    return [read_sql_file(p) for p in paths if p.is_file()]


@dataclass(frozen=True)
class Materialized:
    """What one refresh did to one materialized view."""

    name: str
    mode: str
    """`full` (computed whole), `days` (the changed days recomputed) or `unchanged`."""
    days: int
    """Days recomputed (`days`), or 0."""


def materialize(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[ViewSpec],
    snapshots: Mapping[str, Snapshot],
    *,
    whole: bool,
) -> list[Materialized]:
    """Bring every materialized view's table to `snapshots` (computed whole when `whole` or
    when the stored state does not allow less) and point the view at it."""
    by_name = {s.name: s for s in specs}
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(f"create table if not exists {STATE} (view_name varchar, state varchar)")
    legs = snapshots.get(LEGS)
    days = {v: sorted(p.name for p in files) for v, files in (legs.files if legs else {}).items()}
    others = {n: s.version for n, s in sorted(snapshots.items()) if n != LEGS}
    done: list[Materialized] = []
    for name, column in MATERIALIZED.items():
        spec = by_name.get(name)
        if spec is None:  # a SQL folder of one's own, without it
            continue
        table = f"{SCHEMA}.{quote(name)}"
        state = None if whole else _stored(con, name)
        if state is None or state.get("others") != others or not _exists(con, name):
            con.execute(f"create or replace table {table} as select * from ({spec.sql})")
            done.append(Materialized(name, "full", 0))
        else:
            held: dict[str, list[str]] = state.get("days", {})
            changed = sorted(d for d in {*days, *held} if days.get(d) != held.get(d))
            if changed:
                listed = ", ".join(
                    f"date {lit(date.fromisoformat(d).isoformat())}" for d in changed
                )
                con.execute(f"delete from {table} where {quote(column)} in ({listed})")
                con.execute(
                    f"insert into {table} select * from ({spec.sql}) "
                    f"where {quote(column)} in ({listed})"
                )
            done.append(Materialized(name, "days" if changed else "unchanged", len(changed)))
        con.execute(f"create or replace view main.{quote(name)} as select * from {table}")
        if _has_view(con, ANALYST_BASE, name):
            # the analyst tier's version has the same rows: no column of it is personal and
            # it joins on user ids and numbers only, whose pseudonyms map one to one (the
            # parity test compares both; test_no_analyst_view_shows_a_personal_value guards)
            con.execute(
                f"create or replace view {ANALYST_BASE}.{quote(name)} as select * from {table}"
            )
        con.execute(f"delete from {STATE} where view_name = ?", [name])
        con.execute(
            f"insert into {STATE} values (?, ?)",
            [name, json.dumps({"others": others, "days": days}, sort_keys=True)],
        )
    for m in done:
        log.info("materialized %s: %s (%d days)", m.name, m.mode, m.days)
    return done


def _stored(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    rows = con.execute(f"select state from {STATE} where view_name = ?", [name]).fetchall()
    return json.loads(rows[0][0]) if rows else None


def _has_view(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_views() where schema_name = ? and view_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [SCHEMA, name],
    ).fetchall()
    return bool(rows[0][0])
