"""Marts kept as tables in `cdr.duckdb`, recomputed by day, by call, or whole.

Most views read the Parquet files of one table version at every query. A view that many
reports read and that is costly to compute is kept as a table instead (`MATERIALIZED`); the
view keeps its name and columns and selects from `materialized.<name>`.

- `fct_webex_go_leg_devices` matches every Webex Go leg to its device (two range joins per
  leg), which every licence report and `fct_webex_go_calls` need. Each of its rows is a
  function of one leg and the device tables: it is kept **by day**.
- `fct_calls` groups every leg by Correlation ID, which made one month cost as much as the
  whole history. A call's legs may lie on several days (a call across UTC midnight), and a
  call names the calls it was transferred to: it is kept **by call**.

`cdr build --full` computes the tables whole (`fct_calls` by the refresh's own steps over
every day, into an empty table, so memory follows a step's legs, `LEGS_PER_STEP`). The
refresh at the end of an ingest or fetch (and plain `cdr build`) finds the days whose leg
files changed (new days, merged days, days a record moved out of, days retention dropped)
from `cdr_meta.materialized`, which remembers the file list of each day and the versions
of the other tables the rows were computed from:
- by day: the rows of the changed days are deleted and computed again;
- by call: the calls that can have changed are those with a leg on a changed day now, those
  whose legs spanned a changed day before (from the stored row's first start and last
  release), and the calls whose transfer links name one of them or point at a leg on a
  changed day. They are deleted and computed again from every leg of the changed days and,
  of the other days they span and the days either side, the legs of these calls and those a
  transfer of theirs points at (a transfer's other call lies within 24 hours). A day that a
  later step of the same refresh recomputes is not read: that step recomputes every call
  with a leg there, or pointing at one, from all its legs.
- whole: the device-level views (`DEVICE_LEVEL`: device history, licence segments and
  days, activation codes, violations) read no call legs; each is computed whole when a
  table besides call_legs moved, and kept otherwise. A folder with a device-level view of
  its own SQL (which may read call legs) has them computed whole at every refresh.
When another table a view reads moved (new device snapshots or events), every row may change,
and that table is computed whole. Either way the result equals the view's SQL over the same
table versions (the parity tests). `connect_as_of` (time travel) keeps plain views: it builds
for one question (its analyst tier computes its device-level marts into tables of the
in-memory database, `analyst.keep_as_tables`).
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

from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.schema.personal import pseudonymised_columns
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import quote
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA as ANALYST_BASE
from cdr_pipeline.warehouse.analyst import MAP_VIEW, keep_as_tables, pseudonym_sql
from cdr_pipeline.warehouse.by_call import (
    LEGS,
    dates_sql,
    leg_rows,
    refresh_calls_by_steps,
)
from cdr_pipeline.warehouse.catalog import ViewSpec, order_views, read_sql_dir, read_sql_file
from cdr_pipeline.warehouse.signature import META_SCHEMA

log = logging.getLogger(__name__)

SCHEMA = "materialized"
STATE = f"{META_SCHEMA}.materialized"


@dataclass(frozen=True)
class Mart:
    """How one materialized view's table is kept."""

    by_call: bool
    """Kept by call (`correlation_id`, rows from legs of any day), else by day."""
    day_column: str = "call_date"
    """By day: the column holding the call_legs partition (UTC day) each row comes from."""
    others: bool = True
    """It reads tables besides call_legs: when one of them moves, it is computed whole."""
    analyst: Mapping[str, str] | None = None
    """When the analyst tier's version reads the table too: its personal output columns ->
    the call_legs column each comes from, replaced by their pseudonyms (a pseudonym maps one
    to one, so the grouping and every count come out the same); empty when no column is
    personal. None: the analyst tier computes its own from its pseudonymised views."""
    legs: bool = True
    """It reads call legs. A device-level view reads none: it is computed whole when a
    table it reads moved, else kept as it is."""


DEVICE_LEVEL = (
    "int_device_observations",
    "int_device_presence",
    "int_device_attribute_history",
    "fct_device_status_history",
    "dim_webex_go_devices",
    "fct_device_licence_segments",
    "fct_licence_segments",
    "int_device_as_of",
    "fct_licence_days",
    "fct_activation_codes",
    "fct_licence_holdings",
    "fct_device_violations",
)
"""Device-level views (device snapshots and events, no call legs), in the order they read
each other. Each is small (a row per device, segment or day held: thousands), but a report
recomputed all of them for every view that reads them: the licence reports of one month at
10M legs spent 0.4 of their 0.55-0.86 s there and took 0.16-0.18 s with them kept as
tables. The analyst tier computes its own from its pseudonymised views."""

MATERIALIZED: dict[str, Mart] = {
    **{name: Mart(by_call=False, legs=False) for name in DEVICE_LEVEL},
    # no output column is personal, but its match reads the text of user ids and numbers
    # (a UUID in any case, a number's digits), which pseudonyms hide: the analyst tier
    # always reads the full tier's rows (`analyst_reads_full_tier`; the parity test
    # compares both tiers; test_no_analyst_view_shows_a_personal_value guards)
    "fct_webex_go_leg_devices": Mart(by_call=False, analyst={}),
    "fct_calls": Mart(
        by_call=True,
        others=False,
        analyst={
            "calling_number": "calling_number",
            "called_number": "called_number",
            "originating_user_uuid": "user_uuid",
            "originating_user_name": "user_name",
        },
    ),
}


def materialized_specs(sql_dir: Path, generated: Sequence[ViewSpec]) -> list[ViewSpec]:
    """The specs of the materialized views `sql_dir` has, in the order the views read each
    other (`generated`: the generated views they may read). A table is computed from the
    tables before it: in a folder of one's own, a device-level view may read one that the
    shipped chain keeps after it."""
    ordered = order_views([*generated, *read_sql_dir(sql_dir)])
    return [spec for spec in ordered if spec.name in MATERIALIZED]


@dataclass(frozen=True)
class Materialized:
    """What one refresh did to one materialized view."""

    name: str
    mode: str
    """`full` (computed whole), `days` (the changed days recomputed), `calls` (the calls of
    the changed days recomputed) or `unchanged`."""
    days: int
    """Days changed (`days`, `calls`), or 0."""
    rows: int = 0
    """Calls recomputed (`calls`, and `full` by call), a call once per step that recomputed
    it; or 0."""

    def summary(self) -> str:
        if self.mode == "days":
            return f"{self.name}: {self.days} day(s) recomputed"
        if self.mode == "calls":
            return f"{self.name}: {self.rows:,} call(s) of {self.days} day(s) recomputed"
        return f"{self.name}: {'computed whole' if self.mode == 'full' else 'unchanged'}"


def leg_days(snapshots: Mapping[str, Snapshot]) -> dict[str, list[str]]:
    """UTC day -> the names of its call_legs files, in the version `snapshots` holds."""
    legs = snapshots.get(LEGS)
    return {v: sorted(p.name for p in files) for v, files in (legs.files if legs else {}).items()}


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(f"create table if not exists {STATE} (view_name varchar, state varchar)")


def changed_days(
    con: duckdb.DuckDBPyConnection,
    name: str,
    days: Mapping[str, list[str]],
    others: Mapping[str, int | None],
) -> list[date] | None:
    """The days whose files differ from those `name` was last computed from (sorted); None
    when it must be computed whole (nothing stored, or another table it reads moved)."""
    state = _stored(con, name)
    if state is None or state.get("others") != others:
        return None
    held: dict[str, list[str]] = state.get("days", {})
    return sorted(date.fromisoformat(d) for d in {*days, *held} if days.get(d) != held.get(d))


def remember(
    con: duckdb.DuckDBPyConnection,
    name: str,
    days: Mapping[str, list[str]],
    others: Mapping[str, int | None],
) -> None:
    """Record what `name` is now computed from (`changed_days` compares with it)."""
    con.execute(f"delete from {STATE} where view_name = ?", [name])
    con.execute(
        f"insert into {STATE} values (?, ?)",
        [name, json.dumps({"others": others, "days": days}, sort_keys=True)],
    )


def materialize(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[ViewSpec],
    snapshots: Mapping[str, Snapshot],
    *,
    whole: bool,
) -> list[Materialized]:
    """Bring every materialized view's table to `snapshots` (computed whole when `whole` or
    when the stored state does not allow less) and point the view at it; `specs` in
    dependency order (a table is computed from those before it)."""
    by_name = {s.name: s for s in specs}
    con.execute(f"create schema if not exists {SCHEMA}")
    ensure_state(con)
    days, rows = leg_days(snapshots), leg_rows(snapshots)
    own_device_level = _own_device_level(by_name)
    done: list[Materialized] = []
    for spec in specs:  # a SQL folder of one's own may lack some
        name, mart = spec.name, MATERIALIZED.get(spec.name)
        if mart is None:
            continue
        others = {n: s.version for n, s in sorted(snapshots.items()) if n != LEGS and mart.others}
        table = f"{SCHEMA}.{quote(name)}"
        exists = table_exists(con, SCHEMA, name)
        held = days if mart.legs else {}  # a device-level view: whole or unchanged
        # a device-level view of one's own may read call legs or the ledger: whole every time
        anew = whole or not exists or (own_device_level and not mart.legs)
        changed = None if anew else changed_days(con, name, held, others)
        # a view of one's own SQL without the columns a by-call refresh reads: whole
        by_call = mart.by_call and _callable(con, spec, table if exists else None)
        if mart.by_call and not by_call:
            changed = None
        if changed is None and by_call:
            # computed whole as every day changed into an empty table: by steps, so memory
            # follows a step's legs, not the table's (at once: 1.5 GB at 1M legs, 11 GB at 10M)
            con.execute(f"create or replace table {table} as select * from ({spec.sql}) limit 0")
            calls = refresh_calls_by_steps(
                con, table, spec.sql, sorted(map(date.fromisoformat, days)), rows
            )
            done.append(Materialized(name, "full", len(days), calls))
        elif changed is None:
            con.execute(f"create or replace table {table} as select * from ({spec.sql})")
            done.append(Materialized(name, "full", 0))
        elif not changed:
            done.append(Materialized(name, "unchanged", 0))
        elif by_call:
            calls = refresh_calls_by_steps(con, table, spec.sql, changed, rows)
            done.append(Materialized(name, "calls", len(changed), calls))
        else:
            _refresh_days(con, table, spec.sql, mart.day_column, changed)
            done.append(Materialized(name, "days", len(changed)))
        con.execute(f"create or replace view main.{quote(name)} as select * from {table}")
        if _analyst_reads_table(con, mart, spec):
            con.execute(
                f"create or replace view {ANALYST_BASE}.{quote(name)} as "
                f"select * {_pseudonymised(mart)}from {table}"
            )
        remember(con, name, held, others)
    for m in done:
        log.info("materialized %s: %s (%d days, %d rows)", m.name, m.mode, m.days, m.rows)
    return done


BY_CALL_COLUMNS = frozenset(
    {"correlation_id", "first_start_time", "last_release_time", "transfer_correlation_ids"}
)
"""What `_refresh_calls` reads of a by-call table (`sql/fct_calls.sql` has them)."""


def _own_device_level(by_name: Mapping[str, ViewSpec]) -> bool:
    """Whether a device-level view of the folder is SQL of one's own. The shipped ones read
    device snapshots and events only, so they are kept after an ingest of calls; one's own
    may read call legs (a device's last call) or the ledger, and every view after it in
    the chain reads it: they are computed whole at every refresh (they are small)."""
    return any(not _shipped(by_name[name]) for name in DEVICE_LEVEL if name in by_name)


def _shipped(spec: ViewSpec) -> bool:
    """Whether the view's SQL is the shipped `sql/` file's (not a folder's own)."""
    shipped = default_sql_dir() / f"{spec.name}.sql"
    return shipped.is_file() and read_sql_file(shipped).sql == spec.sql


def _callable(con: duckdb.DuckDBPyConnection, spec: ViewSpec, table: str | None) -> bool:
    """Whether the view's rows (the stored table's columns when there is one, else the
    SQL's) have the columns a by-call refresh reads."""
    relation = table or f"({spec.sql}) limit 0"
    columns = {str(r[0]) for r in con.execute(f"describe select * from {relation}").fetchall()}
    return columns >= BY_CALL_COLUMNS


def _analyst_reads_table(con: duckdb.DuckDBPyConnection, mart: Mart, spec: ViewSpec) -> bool:
    """Whether the analyst tier's version of the view may read the table: the mart says
    which of its columns are personal for the shipped SQL only (the parity tests compare
    both tiers on it); a view of one's own SQL may have others, so the analyst tier computes
    it from its pseudonymised views."""
    if mart.analyst is None or not _has_view(con, ANALYST_BASE, spec.name):
        return False
    return _shipped(spec)


def analyst_reads_full_tier(con: duckdb.DuckDBPyConnection, specs: Sequence[ViewSpec]) -> None:
    """Point the analyst tier's version of each mart without a personal column at the full
    tier's view, also where the mart is no table (time travel). Such a mart's SQL may read
    the text of personal values (`fct_webex_go_leg_devices` matches a UUID in any case and a
    number by its digits), which its pseudonym hides: computed from the analyst tier's views
    it would match other devices. Its rows hold nothing personal, so both tiers share them."""
    for spec in specs:
        mart = MATERIALIZED.get(spec.name)
        if mart is None or mart.analyst is None or mart.analyst:
            continue
        if _analyst_reads_table(con, mart, spec):
            con.execute(
                f"create or replace view {ANALYST_BASE}.{quote(spec.name)} as "
                f"select * from main.{quote(spec.name)}"
            )


def keep_analyst_device_level(
    con: duckdb.DuckDBPyConnection, specs: Sequence[ViewSpec], done: Sequence[Materialized]
) -> None:
    """After a refresh that computed the device-level tables again (another table than
    call_legs moved), compute the analyst tier's own again (`analyst.keep_as_tables`), over
    the refresh's pseudonym map, in the order of `specs` (dependency order). Kept
    otherwise: their rows come from the device-level tables' inputs and the key only (a new
    key is a whole build)."""
    if all(m.mode == "unchanged" for m in done if m.name in DEVICE_LEVEL):
        return
    keep_as_tables(con, [(s.name, s.sql) for s in specs if s.name in DEVICE_LEVEL])


def _pseudonymised(mart: Mart) -> str:
    """The `replace (...)` clause of the analyst tier's view of `mart`'s table, or ''."""
    kinds = pseudonymised_columns(LEGS)
    items = [
        f"{pseudonym_sql(quote(out), kinds[src], MAP_VIEW)} as {quote(out)}"
        for out, src in (mart.analyst or {}).items()
    ]
    return f"replace ({', '.join(items)}) " if items else ""


def _refresh_days(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, column: str, changed: Sequence[date]
) -> None:
    """Recompute the rows of the `changed` days (each row comes from one leg's day)."""
    listed = dates_sql(changed)
    con.execute(f"delete from {table} where {quote(column)} in ({listed})")
    con.execute(f"insert into {table} select * from ({sql}) where {quote(column)} in ({listed})")


def _stored(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    rows = con.execute(f"select state from {STATE} where view_name = ?", [name]).fetchall()
    return json.loads(rows[0][0]) if rows else None


def _has_view(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_views() where schema_name = ? and view_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])
