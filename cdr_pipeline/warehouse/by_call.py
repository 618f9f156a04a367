"""The by-call refresh of a kept mart (`fct_calls`): which calls the changed days can have
changed, recomputed in steps of at most `LEGS_PER_STEP` legs (see `warehouse/materialize.py`
for the whole scheme)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, timedelta

import duckdb

from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit

LEGS = "call_legs"
LEG_VIEW = "fct_call_legs"
LEGS_PER_STEP = 250_000
"""Legs of the changed days a by-call refresh recomputes at a time, at most (a day with more
is a step of its own). Memory follows a step's legs, not the table's: within the build's
`build_memory_mb` DuckDB spills what does not fit, but not everything spills. Measured at
5M legs with the default 448 MiB: after a re-delivery of 10 % of the records over every day
(stored calls deleted and recomputed in each step), steps of 500,000 legs ran out of memory
and steps of 250,000 took 62 s with the process at 0.69 GB. Larger steps are faster when
they fit (a full build at 5M with 600 MiB: 35 s at 800,000 a step, 51 s at 150,000)."""
COMMIT_AFTER_DELETED = 25_000
COMMIT_AFTER_WRITTEN = 500_000
"""The steps of a refresh commit once they have deleted `COMMIT_AFTER_DELETED` stored calls
or written `COMMIT_AFTER_WRITTEN` since the last commit. A delete is held in the
transaction's memory until the commit, appended rows only in part (DuckDB writes their row
groups to the file as they fill); never committing appended calls took a 10M `cdr build
--full` from 931 to 1013 MB RSS. A step also commits before it deletes a call when the steps
since the last commit appended rows (`_commit_before_delete`)."""
NAMING = ("transfer_related_call_id", "related_call_id")
"""The columns by which a leg names another call by its Local call ID (`fct_calls` links
them); each is matched as it is and as its `call_id_stem`."""
NAMED_FORMS = tuple(form for c in NAMING for form in (c, f"call_id_stem({c})"))
"""What of a leg is matched with another leg's Local call ID."""
LINK_COLUMNS = ("transfer_correlation_ids", "related_correlation_ids")
"""The stored links of a by-call table: the other calls its legs name."""
SCOPED = "__legs_in_scope"
"""The legs a by-call refresh recomputes from (the view's SQL reads them in place of
`fct_call_legs`)."""


def leg_rows(snapshots: Mapping[str, Snapshot]) -> dict[date, int]:
    """UTC day -> its legs in the version `snapshots` holds (`LEGS_PER_STEP` for a day the
    log does not count)."""
    legs = snapshots.get(LEGS)
    if legs is None:
        return {}
    return {date.fromisoformat(v): legs.rows.get(v, LEGS_PER_STEP) for v in legs.files}


def dates_sql(days: Sequence[date]) -> str:
    return ", ".join(f"date {lit(d.isoformat())}" for d in days)


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


def refresh_calls_by_steps(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    changed: Sequence[date],
    rows: Mapping[date, int],
) -> int:
    """Recompute the calls the `changed` days can have changed (`_find_calls`,
    `_replace_calls`) a step of days at a time (`steps`). Each step is a refresh of its own
    over the legs as they are now (a call across steps is recomputed again by
    the later one, from its stored span), so the steps add up to the whole; returns the
    calls recomputed, a call counted once per step that recomputed it."""
    calls = deleted = written = 0
    later = set(changed)  # the days of the steps still to come
    for step in steps(changed, rows):
        later.difference_update(step)
        _find_calls(con, table, step, later)
        if written and _commit_before_delete(con, table):
            deleted = written = 0
        recomputed, gone = _replace_calls(con, table, sql)
        calls += recomputed
        deleted, written = deleted + gone, written + recomputed
        if deleted > COMMIT_AFTER_DELETED or written > COMMIT_AFTER_WRITTEN:
            # commit, so that what the steps deleted and wrote leaves the transaction's
            # memory before the next (the file is the build's own until it is renamed into
            # place, and is deleted if the build fails)
            _commit(con)
            deleted = written = 0
    return calls


def _commit(con: duckdb.DuckDBPyConnection) -> None:
    con.commit()
    con.begin()


def _commit_before_delete(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Commit when the step is about to delete stored calls (`__calls`); the caller knows
    rows were appended since the last commit. A delete of any row appended in the same
    transaction makes DuckDB's commit append every row of that transaction again (its row
    groups, already written as they filled, are not used): at 1M legs in 5 steps, each
    deleting the few calls crossing in from the step before, the final commit took 1 s of
    CPU instead of 0.05. Returns whether it committed."""
    hit = con.execute(
        f"select exists (select 1 from {table} semi join __calls using (correlation_id))"
    ).fetchall()[0][0]
    if hit:
        _commit(con)
    return bool(hit)


def _find_calls(
    con: duckdb.DuckDBPyConnection,
    table: str,
    changed: Sequence[date],
    later: AbstractSet[date] = frozenset(),
) -> None:
    """Find the calls the `changed` days can have changed (see the module's doc, `__calls`)
    and the legs they are recomputed from (`SCOPED`). The `later` days are changed days a
    later step recomputes: their legs are not read now."""
    listed = dates_sql(changed)
    legs = f"main.{LEG_VIEW}"
    # the legs of the changed days and a day either side, read once (each read of the legs
    # view costs a quarter of a second of planning over every file, whatever it reads)
    near_days = {d + timedelta(days=k) for d in changed for k in (-1, 0, 1)}
    con.execute(
        f"""create or replace temp table __near as
        select correlation_id, call_date, local_call_id, {", ".join(NAMING)}
        from {legs} where call_date in ({dates_sql(sorted(near_days))})"""
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
    # transfer and related links: calls that named one of these, and calls whose transfer
    # or related call ID points at a leg on a changed day (its own leg lies within 24 hours:
    # a day either side)
    stored = " union all ".join(
        f"select correlation_id, unnest({c}) as other from {table} where {c} is not null"
        for c in LINK_COLUMNS
    )
    # one semi join of every form a leg names (`x in (...) or y in (...)` ran four mark
    # joins over every leg near, each building the changed days' IDs again: 3x the CPU)
    naming = f"""select n.correlation_id from (
            select correlation_id, unnest([{", ".join(NAMED_FORMS)}]) as id from __near
            where {" or ".join(f"{c} is not null" for c in NAMING)}
        ) as n semi join (
            select local_call_id as id from __near where call_date in ({listed})
        ) as o using (id)"""
    con.execute(
        f"""insert into __calls
        select t.correlation_id from ({stored}) as t
        semi join __calls as c on t.other = c.correlation_id
        union
        {naming}
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
    # every leg of the changed days is read (each of their calls is recomputed); of the other
    # days their stored rows spanned and of the days either side, only the legs of these
    # calls (a call not yet stored may reach there) and those a transfer of theirs may point
    # at (within 24 hours). Reading those days whole made a step of one new day compute the
    # day before as well (its calls across midnight span it): twice the work of a nightly
    # and of each step of a first load. A day a later step recomputes is not read at all:
    # that step recomputes every call with a leg there, or pointing at one, from all its legs.
    near_scope = {d + timedelta(days=k) for d in scope for k in (-1, 0, 1)}
    others = sorted(near_scope - set(changed) - later)
    # what the legs of these calls name: from `__near` when it holds every day of the scope
    # (calls spanning no more than a day either side of the changed days: nearly all)
    con.execute(
        f"""create or replace temp table __scope_naming as
        select {", ".join(NAMING)} from {"__near" if near_days >= set(scope) else legs}
        where call_date in ({dates_sql(scope)})
        and ({" or ".join(f"{c} is not null" for c in NAMING)})
        and (call_date in ({listed}) or correlation_id in (select correlation_id from __calls))"""
    )
    named = " union ".join(
        f"select {form} as id from __scope_naming where {form} is not null" for form in NAMED_FORMS
    )
    con.execute(f"create or replace temp table __targets as {named}")
    # the few legs of the other days, read once (the view's SQL may read its legs several
    # times, and each read decodes every column of those days before filtering)
    con.execute(
        f"""create or replace temp table __others as
        select * from {legs} where call_date in ({dates_sql(others)}) and (
            correlation_id in (select correlation_id from __calls)
            or local_call_id in (select id from __targets)
        )"""
    )
    con.execute(
        f"""create or replace temp view {SCOPED} as
        select * from {legs} where call_date in ({listed})
        union all
        select * from __others"""
    )


def _replace_calls(con: duckdb.DuckDBPyConnection, table: str, sql: str) -> tuple[int, int]:
    """Delete the stored rows of `__calls` and compute them again from `SCOPED` (after
    `_find_calls`); returns how many calls were recomputed and how many rows were deleted."""
    scoped = re.sub(rf"\b(?:main\.)?{LEG_VIEW}\b", SCOPED, sql)
    deleted = con.execute(
        f"delete from {table} where correlation_id in (select * from __calls)"
    ).fetchall()[0][0]
    con.execute(
        f"insert into {table} select * from ({scoped}) "
        "where correlation_id in (select * from __calls)"
    )
    calls = int(con.execute("select count(*) from __calls").fetchall()[0][0])
    # not in a `finally`: after a failed statement the transaction is aborted, a drop would
    # fail as well and hide the first error (the build's connection and its temp objects
    # are thrown away then)
    con.execute(f"drop view if exists {SCOPED}")
    for temp in ("__calls", "__scope_naming", "__targets", "__near", "__others"):
        con.execute(f"drop table if exists {temp}")
    return calls, int(deleted)
