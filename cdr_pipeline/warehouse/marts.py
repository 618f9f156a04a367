"""Which marts are kept as tables (`MATERIALIZED`) and how the analyst tier reads them.

The tables themselves are kept by `warehouse/materialize.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.schema.personal import pseudonymised_columns
from cdr_pipeline.text import quote
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA as ANALYST_BASE
from cdr_pipeline.warehouse.analyst import MAP_VIEW, pseudonym_sql
from cdr_pipeline.warehouse.by_call import LEGS
from cdr_pipeline.warehouse.catalog import ViewSpec, read_sql_file

SCHEMA = "materialized"


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
    every_build: bool = False
    """It reads the ingest ledger (`PER_BUILD`): computed whole at every refresh."""


DEVICE_LEVEL = (
    "int_device_observations",
    "int_device_presence",
    "int_device_attribute_history",
    "fct_device_status_history",
    "dim_webex_go_devices",
    "fct_device_licence_segments",
    "fct_licence_segments",
    "int_device_as_of",
    "fct_licence_device_months",
    "fct_licence_unit_months",
    "fct_licence_days",
    "fct_activation_codes",
    "fct_licence_holdings",
    "fct_device_violations",
)
"""Device-level views (device snapshots and events, no call legs), in the order they read
each other. Each is small (a row per device, segment or day held: thousands), but a report
recomputed all of them for every view that reads them: the licence reports of one month at
10M legs spent 0.4 of their 0.55-0.86 s there and took 0.16-0.18 s with them kept as
tables. The device and licence-unit months (a licence piece in each month it touches) are
kept too: the one-month reconciliation bound `fct_licence_unit_months` five times and
`fct_licence_device_months` twice. The analyst tier computes its own from its
pseudonymised views."""

PER_BUILD = ("int_call_coverage", "fct_licence_months")
"""Views of the ingest ledger: the days call data covers, and the licence reports' months
with their coverage. They read no call legs, but the ledger's views (`stg_ledger_files`,
`stg_ledger_retention`) are generated anew by every build, their records as of the
build's moment: each is computed whole at every refresh, from the ledger as the build
reads it (a few rows per file loaded: milliseconds), so the table equals its view
between builds. The licence reports read the months twice (the reconciliation directly and
through `fct_licence_unit_usage`), and as views binding them took most of a one-month
report's time: at 10M legs 0.4 of `explain rpt_licence_reconciliation`'s 1.1 s on a busy
machine. Nothing in their rows is personal: the analyst tier reads the same tables."""

MATERIALIZED: dict[str, Mart] = {
    **{name: Mart(by_call=False, legs=False) for name in DEVICE_LEVEL},
    **{name: Mart(by_call=False, legs=False, analyst={}, every_build=True) for name in PER_BUILD},
    # no output column is personal, but its match reads the text of user ids and numbers
    # (a UUID in any case, a number's digits), which pseudonyms hide: the analyst tier
    # always reads the full tier's rows (`analyst_tables`; the parity test
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


def shipped(spec: ViewSpec) -> bool:
    """Whether the view's SQL is the shipped `sql/` file's (not a folder's own)."""
    shipped = default_sql_dir() / f"{spec.name}.sql"
    return shipped.is_file() and read_sql_file(shipped).sql == spec.sql


def analyst_reads_table(con: duckdb.DuckDBPyConnection, mart: Mart, spec: ViewSpec) -> bool:
    """Whether the analyst tier's version of the view may read the table: the mart says
    which of its columns are personal for the shipped SQL only (the parity tests compare
    both tiers on it); a view of one's own SQL may have others, so the analyst tier computes
    it from its pseudonymised views."""
    if mart.analyst is None or not has_view(con, ANALYST_BASE, spec.name):
        return False
    return shipped(spec)


def analyst_table_sql(mart: Mart, table: str) -> str:
    """The analyst tier's view of a mart's table: its personal columns as pseudonyms."""
    return f"select * {pseudonymised(mart)}from {table}"


def analyst_tables(con: duckdb.DuckDBPyConnection, specs: Sequence[ViewSpec]) -> dict[str, str]:
    """Name -> SELECT of the analyst tier's base view of each mart it may read from the full
    tier (the shipped SQL: `analyst_reads_table`), so that the analyst views after it bind
    over that from the start:
    - a mart kept as a table already (a whole build keeps them as the views are created):
      the table, its personal columns as pseudonyms;
    - else a mart without a personal column (time travel keeps only the device-level ones):
      the full tier's view. Its SQL may read the text of personal values
      (`fct_webex_go_leg_devices` matches a UUID in any case and a number by its digits),
      which a pseudonym hides: computed from the analyst tier's views it would match other
      devices. Its rows hold nothing personal, so both tiers share them."""
    out: dict[str, str] = {}
    for spec in specs:
        mart = MATERIALIZED.get(spec.name)
        if mart is None or mart.analyst is None or not shipped(spec):
            continue
        if table_exists(con, SCHEMA, spec.name):
            out[spec.name] = analyst_table_sql(mart, f"{SCHEMA}.{quote(spec.name)}")
        elif not mart.analyst:
            out[spec.name] = f"select * from main.{quote(spec.name)}"
    return out


def pseudonymised(mart: Mart) -> str:
    """The `replace (...)` clause of the analyst tier's view of `mart`'s table, or ''."""
    kinds = pseudonymised_columns(LEGS)
    items = [
        f"{pseudonym_sql(quote(out), kinds[src], MAP_VIEW)} as {quote(out)}"
        for out, src in (mart.analyst or {}).items()
    ]
    return f"replace ({', '.join(items)}) " if items else ""


def has_view(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return _listed(con, "duckdb_views()", "view_name", schema, name)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return _listed(con, "duckdb_tables()", "table_name", schema, name)


def _listed(
    con: duckdb.DuckDBPyConnection, catalog: str, column: str, schema: str, name: str
) -> bool:
    query = f"select count(*) from {catalog} where schema_name = ? and {column} = ?"
    return bool(con.execute(query, [schema, name]).fetchall()[0][0])
