"""The distinct personal values of the call legs, kept by day in `cdr.duckdb`.

The pseudonym map of each build (`analyst.write_pseudonym_map`) holds every personal value
the tables hold now, no more: an erased or dropped value leaves it with the next build. For
the call legs, finding those values scanned every personal column of every leg: a third of
the refresh after a one-day ingest at 10M legs. `cdr_meta.personal_values` keeps them by
UTC day instead (the day's distinct values of each column), and the refresh replaces the
rows of the days whose files changed (the same comparison of file lists as the marts kept as
tables, `materialize.changed_days`), so the map's values still equal a whole scan (the
parity test). The table is as private as the rest of `cdr.duckdb`; `cdr forget` and the
privacy retention build whole, which computes it again from the scrubbed legs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.schema.personal import personal_columns, pseudonymised_columns
from cdr_pipeline.state.secret import raw_values_sql
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.warehouse.analyst import create_map_view, map_relation, write_pseudonym_map
from cdr_pipeline.warehouse.materialize import (
    LEGS,
    changed_days,
    dates_sql,
    ensure_state,
    leg_days,
    remember,
    table_exists,
)
from cdr_pipeline.warehouse.signature import META_SCHEMA

log = logging.getLogger(__name__)

TABLE = f"{META_SCHEMA}.personal_values"
NAME = "personal_values"
"""Its entry in `cdr_meta.materialized` (the days' files it was computed from)."""


def _by_day_sql(where: str) -> str:
    """(call_date, column_name, value) of the legs `where` selects, distinct per day."""
    columns = list(pseudonymised_columns(LEGS))
    legs = f"(select * from main.stg_{LEGS} where {where})"
    return raw_values_sql(legs, columns, by="call_date")


def leg_values(
    con: duckdb.DuckDBPyConnection, snapshots: Mapping[str, Snapshot], *, whole: bool
) -> str:
    """Bring `cdr_meta.personal_values` to the call legs of `snapshots` (whole when `whole`
    or nothing usable is stored); returns the SQL of the legs' distinct (column_name,
    value)."""
    ensure_state(con)
    days = leg_days(snapshots)
    exists = table_exists(con, META_SCHEMA, NAME)
    changed = None if whole or not exists else changed_days(con, NAME, days, {})
    if not days:
        con.execute(
            f"create or replace table {TABLE} (call_date date, column_name varchar, value varchar)"
        )
    elif changed is None:
        con.execute(f"create or replace table {TABLE} as {_by_day_sql('true')}")
    elif changed:
        listed = dates_sql(changed)
        con.execute(f"delete from {TABLE} where call_date in ({listed})")
        con.execute(f"insert into {TABLE} {_by_day_sql(f'call_date in ({listed})')}")
    remember(con, NAME, days, {})
    log.debug("personal values of the call legs: %s", "whole" if changed is None else changed)
    return f"select distinct column_name, value from {TABLE}"


def personal_tables() -> list[str]:
    """The tables with a personal column."""
    return sorted(t for t in schemas_by_table() if personal_columns(t))


def write_map(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    snapshots: Mapping[str, Snapshot],
    *,
    whole: bool,
) -> str:
    """This build's pseudonym map file, from the call legs' values kept by day and the other
    tables' scanned, and `analyst_base.pseudonym_map` pointed at it; returns the view."""
    sources = {LEGS: leg_values(con, snapshots, whole=whole)}
    path = write_pseudonym_map(con, settings, personal_tables(), sources)
    return create_map_view(con, map_relation(path))
