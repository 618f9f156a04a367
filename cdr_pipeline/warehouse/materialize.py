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
  release), and the calls whose transfer or related links name one of them or point at a
  leg on a changed day. They are deleted and computed again from every leg of the changed
  days and, of the other days they span and the days either side, the legs of these calls
  and those a link of theirs points at (a linked call lies within 24 hours). A day that a
  later step of the same refresh recomputes is not read: that step recomputes every call
  with a leg there, or pointing at one, from all its legs.
- whole: the device-level views (`DEVICE_LEVEL`: device history, licence segments and
  days, activation codes, violations) read no call legs; each is computed whole when a
  table besides call_legs moved, and kept otherwise. A folder with a device-level view of
  its own SQL (which may read call legs) has them computed whole at every refresh. So are
  the views of the ingest ledger (`PER_BUILD`: call coverage and the licence reports'
  months), at every refresh: the ledger's views are generated anew by every build.
When another table a view reads moved (new device snapshots or events), every row may change,
and that table is computed whole. Either way the result equals the view's SQL over the same
table versions (the parity tests). An in-memory database made for one question (time travel,
`connect_as_of`; a month's finance figures, `reports/figures.py`) keeps only the device-level
marts and those of the ledger, computed whole into its own tables (so does its analyst tier,
`analyst.keep_as_tables`): the calls stay views, which a month's question filters. Every
licence report reads the device-level chain: as views, a month's four finance reports on the
samples took 10 s, 2 s as tables.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import quote
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA as ANALYST_BASE
from cdr_pipeline.warehouse.analyst import keep_as_tables
from cdr_pipeline.warehouse.by_call import (
    LEGS,
    LINK_COLUMNS,
    dates_sql,
    leg_rows,
    refresh_calls_by_steps,
)
from cdr_pipeline.warehouse.catalog import ViewSpec, order_views, read_sql_dir
from cdr_pipeline.warehouse.marts import (
    DEVICE_LEVEL,
    MATERIALIZED,
    SCHEMA,
    analyst_reads_table,
    analyst_table_sql,
    shipped,
    table_exists,
)
from cdr_pipeline.warehouse.signature import META_SCHEMA

log = logging.getLogger(__name__)

STATE = f"{META_SCHEMA}.materialized"


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
        if self.mode == "full" and self.rows:
            return f"{self.name}: computed whole ({self.rows:,} call(s) of {self.days} day(s))"
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


class Keeper:
    """Brings materialized views' tables to `snapshots`, one view at a time, in dependency
    order (a table is computed from those before it): `keep` each spec as its view is
    created (a whole build: the views after it then bind over a table, not over the chain of
    views it reads, a third of the build's time) or after them all (`materialize`). `only`
    names the marts to keep, the others staying views: an in-memory database made for one
    question (time travel, a month's finance figures) keeps the device-level ones, small
    and read by every licence report."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        snapshots: Mapping[str, Snapshot],
        *,
        whole: bool,
        only: Collection[str] | None = None,
    ) -> None:
        self.con, self.whole, self.only = con, whole, only
        self.days, self.rows = leg_days(snapshots), leg_rows(snapshots)
        self.versions = {n: s.version for n, s in sorted(snapshots.items()) if n != LEGS}
        self.own_device_level = False
        self.done: list[Materialized] = []

    def start(self, specs: Sequence[ViewSpec]) -> None:
        """Before the first `keep`: every view of the folder (whether a device-level view
        is SQL of one's own)."""
        self.own_device_level = _own_device_level({s.name: s for s in specs})
        self.con.execute(f"create schema if not exists {SCHEMA}")
        ensure_state(self.con)

    def keep(self, spec: ViewSpec) -> None:
        """Bring `spec`'s table to the snapshots (computed whole when `whole` or when the
        stored state does not allow less) and point its view at it; not a mart: nothing."""
        con, name, mart = self.con, spec.name, MATERIALIZED.get(spec.name)
        if mart is None or (self.only is not None and name not in self.only):
            return
        others = self.versions if mart.others else {}
        table = f"{SCHEMA}.{quote(name)}"
        exists = table_exists(con, SCHEMA, name)
        held = self.days if mart.legs else {}  # a device-level view: whole or unchanged
        # a device-level view of one's own may read call legs or the ledger: whole every time
        anew = (
            self.whole
            or not exists
            or mart.every_build  # over the ledger, which every build reads anew
            or (self.own_device_level and not mart.legs)
        )
        changed = None if anew else changed_days(con, name, held, others)
        # a view of one's own SQL without the columns a by-call refresh reads: whole
        by_call = mart.by_call and _callable(con, spec, table if exists else None)
        if mart.by_call and not by_call:
            changed = None
        if changed is None and by_call:
            # computed whole as every day changed into an empty table: by steps, so memory
            # follows a step's legs, not the table's (at once: 1.5 GB at 1M legs, 11 GB at 10M)
            con.execute(f"create or replace table {table} as select * from ({spec.sql}) limit 0")
            every_day = sorted(map(date.fromisoformat, self.days))
            calls = refresh_calls_by_steps(con, table, spec.sql, every_day, self.rows)
            self.done.append(Materialized(name, "full", len(self.days), calls))
        elif changed is None:
            con.execute(f"create or replace table {table} as select * from ({spec.sql})")
            self.done.append(Materialized(name, "full", 0))
        elif not changed:
            self.done.append(Materialized(name, "unchanged", 0))
        elif by_call:
            calls = refresh_calls_by_steps(con, table, spec.sql, changed, self.rows)
            self.done.append(Materialized(name, "calls", len(changed), calls))
        else:
            _refresh_days(con, table, spec.sql, mart.day_column, changed)
            self.done.append(Materialized(name, "days", len(changed)))
        con.execute(f"create or replace view main.{quote(name)} as select * from {table}")
        if analyst_reads_table(con, mart, spec):
            con.execute(
                f"create or replace view {ANALYST_BASE}.{quote(name)} as "
                f"{analyst_table_sql(mart, table)}"
            )
        remember(con, name, held, others)

    def finish(self) -> list[Materialized]:
        for m in self.done:
            log.info("materialized %s", m.summary())
        return self.done


def materialize(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[ViewSpec],
    snapshots: Mapping[str, Snapshot],
    *,
    whole: bool,
) -> list[Materialized]:
    """Bring every materialized view's table to `snapshots` and point the view at it
    (`Keeper`); `specs` in dependency order."""
    keeper = Keeper(con, snapshots, whole=whole)
    keeper.start(specs)
    for spec in specs:  # a SQL folder of one's own may lack some
        keeper.keep(spec)
    return keeper.finish()


BY_CALL_COLUMNS = frozenset(
    {"correlation_id", "first_start_time", "last_release_time", *LINK_COLUMNS}
)
"""What a by-call refresh (`by_call._find_calls`) reads of a by-call table
(`sql/fct_calls.sql` has them)."""


def _own_device_level(by_name: Mapping[str, ViewSpec]) -> bool:
    """Whether a device-level view of the folder is SQL of one's own. The shipped ones read
    device snapshots and events only, so they are kept after an ingest of calls; one's own
    may read call legs (a device's last call) or the ledger, and every view after it in
    the chain reads it: they are computed whole at every refresh (they are small)."""
    return any(not shipped(by_name[name]) for name in DEVICE_LEVEL if name in by_name)


def _callable(con: duckdb.DuckDBPyConnection, spec: ViewSpec, table: str | None) -> bool:
    """Whether the view's rows (the stored table's columns when there is one, else the
    SQL's) have the columns a by-call refresh reads."""
    relation = table or f"({spec.sql}) limit 0"
    columns = {str(r[0]) for r in con.execute(f"describe select * from {relation}").fetchall()}
    return columns >= BY_CALL_COLUMNS


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
