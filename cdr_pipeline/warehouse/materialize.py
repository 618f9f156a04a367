"""Marts kept as tables in `cdr.duckdb`, recomputed by day or by call.

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
  changed day. They are deleted and computed again from the legs of the days they span
  and, of the days either side, the legs of these calls and those a transfer on their days
  points at (a transfer's other call lies within 24 hours).
When another table a view reads moved (new device snapshots or events), every row may change,
and that table is computed whole. Either way the result equals the view's SQL over the same
table versions (the parity tests). `connect_as_of` (time travel) keeps plain views: it builds
for one question.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.schema.personal import pseudonymised_columns
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA as ANALYST_BASE
from cdr_pipeline.warehouse.analyst import MAP_VIEW, pseudonym_sql
from cdr_pipeline.warehouse.catalog import ViewSpec, read_sql_file
from cdr_pipeline.warehouse.signature import META_SCHEMA

log = logging.getLogger(__name__)

LEGS = "call_legs"
LEG_VIEW = "fct_call_legs"
SCHEMA = "materialized"
STATE = f"{META_SCHEMA}.materialized"
LEGS_PER_STEP = 250_000
"""Legs of the changed days a by-call refresh recomputes at a time, at most (a day with more
is a step of its own). Memory follows a step's legs, not the table's: within the build's
`build_memory_mb` DuckDB spills what does not fit, but not everything spills. Measured at
5M legs with the default 448 MiB: after a re-delivery of 10 % of the records over every day
(stored calls deleted and recomputed in each step), steps of 500,000 legs ran out of memory
and steps of 250,000 took 62 s with the process at 0.69 GB. Larger steps are faster when
they fit (a full build at 5M with 600 MiB: 35 s at 800,000 a step, 51 s at 150,000)."""
SCOPED = "__legs_in_scope"
"""The legs a by-call refresh recomputes from (the view's SQL reads them in place of
`fct_call_legs`)."""


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


MATERIALIZED: dict[str, Mart] = {
    # no output column is personal and it joins on user ids and numbers only, whose
    # pseudonyms map one to one (the parity test compares both tiers;
    # test_no_analyst_view_shows_a_personal_value guards)
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


def materialized_specs(sql_dir: Path) -> list[ViewSpec]:
    """The specs of the materialized views `sql_dir` has (a refresh reads no other file)."""
    paths = [sql_dir / f"{name}.sql" for name in MATERIALIZED]
    return [read_sql_file(p) for p in paths if p.is_file()]


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


def leg_rows(snapshots: Mapping[str, Snapshot]) -> dict[date, int]:
    """UTC day -> its legs in the version `snapshots` holds (`LEGS_PER_STEP` for a day the
    log does not count)."""
    legs = snapshots.get(LEGS)
    if legs is None:
        return {}
    return {date.fromisoformat(v): legs.rows.get(v, LEGS_PER_STEP) for v in legs.files}


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
    when the stored state does not allow less) and point the view at it."""
    by_name = {s.name: s for s in specs}
    con.execute(f"create schema if not exists {SCHEMA}")
    ensure_state(con)
    days, rows = leg_days(snapshots), leg_rows(snapshots)
    done: list[Materialized] = []
    for name, mart in MATERIALIZED.items():
        spec = by_name.get(name)
        if spec is None:  # a SQL folder of one's own, without it
            continue
        others = {n: s.version for n, s in sorted(snapshots.items()) if n != LEGS and mart.others}
        table = f"{SCHEMA}.{quote(name)}"
        exists = table_exists(con, SCHEMA, name)
        changed = None if whole or not exists else changed_days(con, name, days, others)
        # a view of one's own SQL without the columns a by-call refresh reads: whole
        by_call = mart.by_call and _callable(con, spec, table if exists else None)
        if mart.by_call and not by_call:
            changed = None
        if changed is None and by_call:
            # computed whole as every day changed into an empty table: by steps, so memory
            # follows a step's legs, not the table's (at once: 1.5 GB at 1M legs, 11 GB at 10M)
            con.execute(f"create or replace table {table} as select * from ({spec.sql}) limit 0")
            calls = _refresh_calls_by_steps(
                con, table, spec.sql, sorted(map(date.fromisoformat, days)), rows
            )
            done.append(Materialized(name, "full", len(days), calls))
        elif changed is None:
            con.execute(f"create or replace table {table} as select * from ({spec.sql})")
            done.append(Materialized(name, "full", 0))
        elif not changed:
            done.append(Materialized(name, "unchanged", 0))
        elif by_call:
            calls = _refresh_calls_by_steps(con, table, spec.sql, changed, rows)
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
        remember(con, name, days, others)
    for m in done:
        log.info("materialized %s: %s (%d days, %d rows)", m.name, m.mode, m.days, m.rows)
    return done


BY_CALL_COLUMNS = frozenset(
    {"correlation_id", "first_start_time", "last_release_time", "transfer_correlation_ids"}
)
"""What `_refresh_calls` reads of a by-call table (`sql/fct_calls.sql` has them)."""


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
    shipped = default_sql_dir() / f"{spec.name}.sql"
    return shipped.is_file() and read_sql_file(shipped).sql == spec.sql


def _pseudonymised(mart: Mart) -> str:
    """The `replace (...)` clause of the analyst tier's view of `mart`'s table, or ''."""
    kinds = pseudonymised_columns(LEGS)
    items = [
        f"{pseudonym_sql(quote(out), kinds[src], MAP_VIEW)} as {quote(out)}"
        for out, src in (mart.analyst or {}).items()
    ]
    return f"replace ({', '.join(items)}) " if items else ""


def dates_sql(days: Sequence[date]) -> str:
    return ", ".join(f"date {lit(d.isoformat())}" for d in days)


def _refresh_days(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, column: str, changed: Sequence[date]
) -> None:
    """Recompute the rows of the `changed` days (each row comes from one leg's day)."""
    listed = dates_sql(changed)
    con.execute(f"delete from {table} where {quote(column)} in ({listed})")
    con.execute(f"insert into {table} select * from ({sql}) where {quote(column)} in ({listed})")


def _ranges(days: Sequence[date]) -> list[tuple[date, date]]:
    """`days` (sorted) as runs of consecutive days: (first, day after the last)."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0], d + timedelta(days=1))
        else:
            runs.append((d, d + timedelta(days=1)))
    return runs


def _midnight(d: date) -> str:
    return f"timestamptz {lit(f'{d.isoformat()} 00:00:00+00')}"


def steps(changed: Sequence[date], rows: Mapping[date, int]) -> list[list[date]]:
    """`changed` (sorted) in runs whose legs (`rows`) add up to at most `LEGS_PER_STEP` (a
    day with more is a step of its own; a day without legs now, e.g. one retention dropped,
    weighs nothing)."""
    out: list[list[date]] = []
    held = 0
    for d in changed:
        n = rows.get(d, 0)
        if not out or held + n > LEGS_PER_STEP:
            out.append([])
            held = 0
        out[-1].append(d)
        held += n
    return out


def _refresh_calls_by_steps(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    changed: Sequence[date],
    rows: Mapping[date, int],
) -> int:
    """`_refresh_calls` a step of changed days at a time (`steps`). Each step is a refresh
    of its own over the legs as they are now (a call across steps is recomputed again by
    the later one, from its stored span), so the steps add up to the whole; returns the
    calls recomputed, a call counted once per step that recomputed it."""
    calls = 0
    for step in steps(changed, rows):
        calls += _refresh_calls(con, table, sql, step)
        # commit each step, so that what it deleted and wrote leaves the transaction's
        # memory before the next (the file is the build's own until it is renamed into
        # place, and is deleted if the build fails)
        con.commit()
        con.begin()
    return calls


def _refresh_calls(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, changed: Sequence[date]
) -> int:
    """Recompute the calls the `changed` days can have changed (see the module's doc);
    returns how many calls were recomputed."""
    listed = dates_sql(changed)
    legs = f"main.{LEG_VIEW}"
    # the legs of the changed days and a day either side, read once (each read of the legs
    # view costs a quarter of a second of planning over every file, whatever it reads)
    near = dates_sql(sorted({d + timedelta(days=k) for d in changed for k in (-1, 0, 1)}))
    con.execute(
        f"""create or replace temp table __near as
        select correlation_id, call_date, local_call_id, transfer_related_call_id
        from {legs} where call_date in ({near})"""
    )
    spanned = " or ".join(
        f"(first_start_time < {_midnight(end)} and last_release_time >= {_midnight(start)})"
        for start, end in _ranges(changed)
    )
    con.execute(
        f"""create or replace temp table __calls as
        select correlation_id from __near where call_date in ({listed})
        union
        select correlation_id from {table} where {spanned}"""
    )
    # transfer links: calls that named one of these, and calls whose transfer points at a
    # leg on a changed day (its own leg lies within 24 hours: a day either side)
    con.execute(
        f"""insert into __calls
        select t.correlation_id from (
            select correlation_id, unnest(transfer_correlation_ids) as other from {table}
            where transfer_correlation_ids is not null
        ) as t
        semi join __calls as c on t.other = c.correlation_id
        union
        select correlation_id from __near
        where transfer_related_call_id in (
            select local_call_id from __near where call_date in ({listed})
        )
        except
        select correlation_id from __calls"""
    )
    # the days their legs lie on: the changed ones, and those their stored rows spanned
    first, last = (
        f"cast(timezone('UTC', t.{c}) as date)" for c in ("first_start_time", "last_release_time")
    )
    spans = con.execute(
        f"""select distinct unnest(generate_series({first}, {last}, interval 1 day))::date
        from {table} as t semi join __calls using (correlation_id)"""
    ).fetchall()
    scope = sorted({*changed, *(r[0] for r in spans)})
    # of the days either side, only the legs of these calls (a call not yet stored may
    # reach there) and those a transfer on the scope's days may point at (within 24 hours):
    # every leg of the days either side computed as well would triple a one-day step's work
    beside = sorted({d + timedelta(days=k) for d in scope for k in (-1, 1)} - set(scope))
    con.execute(
        f"""create or replace temp table __targets as
        select distinct transfer_related_call_id as id from {legs}
        where call_date in ({dates_sql(scope)}) and transfer_related_call_id is not null"""
    )
    con.execute(
        f"""create or replace temp view {SCOPED} as
        select * from {legs} where call_date in ({dates_sql(scope)})
        union all
        select * from {legs} where call_date in ({dates_sql(beside)}) and (
            correlation_id in (select correlation_id from __calls)
            or local_call_id in (select id from __targets)
        )"""
    )
    scoped = re.sub(rf"\b(?:main\.)?{LEG_VIEW}\b", SCOPED, sql)
    con.execute(f"delete from {table} where correlation_id in (select * from __calls)")
    con.execute(
        f"insert into {table} select * from ({scoped}) "
        "where correlation_id in (select * from __calls)"
    )
    calls = int(con.execute("select count(*) from __calls").fetchall()[0][0])
    # not in a `finally`: after a failed statement the transaction is aborted, a drop would
    # fail as well and hide the first error (the build's connection and its temp objects
    # are thrown away then)
    con.execute(f"drop view if exists {SCOPED}")
    for temp in ("__calls", "__targets", "__near"):
        con.execute(f"drop table if exists {temp}")
    return calls


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
