"""The analyst tier: every public view again, in schema `analyst` of `cdr.duckdb`, without
personal data.

Built by `cdr build` next to the full views, in three steps:

1. **Pseudonym map** (`state/privacy/pseudonyms-<build>.parquet`, one per build, never
   rewritten; owner-only like the tables): the distinct personal values of the tables
   (`schema/personal.py`) with their keyed pseudonym
   (HMAC-SHA-256, `state/secret.py`) and, for numbers, the masked form. It is computed in
   Python, because DuckDB has no keyed hash and the key must never sit in the view SQL; the
   views read the map as a file, so `cdr.duckdb` stays openable by any DuckDB client (a BI
   tool, the duckdb CLI) without the project's Python code.
2. **Schema `analyst_base`**: the `stg_*` views with every personal value replaced by its
   pseudonym (dropped fields read as NULL), then every `sql/` view again over them, the
   device-level ones kept as tables of schema `analyst_marts` (`keep_as_tables`). The
   pseudonym of a value is the same in every column of its kind, so every join, count and
   distinct count of the views gives what it gives on raw values.
3. **Schema `analyst`**, what analysts open: each view of `analyst_base` without the dropped
   columns (MACs, public IPs, `extra`, authorisation codes), with number columns shown masked
   (`+420 211 ••• •••`) and their pseudonym beside them in `<column>_pseudonym`; names,
   e-mails and user ids show as pseudonyms.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.schema.personal import (
    ANALYST_NOTE_COLUMNS,
    NUMBER,
    analyst_hidden_columns,
    dropped_columns,
    is_number_column,
    pseudonymised_columns,
)
from cdr_pipeline.state.files import atomic_write_table
from cdr_pipeline.state.secret import (
    PSEUDONYM_PATTERN,
    key_id,
    load_key,
    mask_number,
    prune_pseudonym_maps,
    pseudonym,
    raw_values_sql,
)
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.analyst_files import file_or, with_files
from cdr_pipeline.warehouse.analyst_numbers import (
    number_reading,
    reading_joins,
    readings_sql,
    reads_numbers,
)
from cdr_pipeline.warehouse.binding import bound_columns, deferred

log = logging.getLogger(__name__)

BASE_SCHEMA = "analyst_base"
ANALYST_SCHEMA = "analyst"
KEPT_SCHEMA = "analyst_marts"
"""The analyst tier's own device-level marts, kept as tables (`keep_as_tables`)."""
PSEUDONYM_SUFFIX = "_pseudonym"
HIDDEN_NOTE = "(hidden on the analyst tier: a message may quote the input; see cdr runs)"
"""What the analyst tier shows for a message (`ANALYST_NOTE_COLUMNS`) the full tier has."""

MAP_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("value", pa.string()),
        ("pseudonym", pa.string()),
        ("masked", pa.string()),
    ]
)


def _distinct_values(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    sources: Mapping[str, str] | None = None,
) -> dict[str, set[str]]:
    """Kind -> distinct non-null values of every pseudonymised column of the `stg_` views
    (one scan per table, `raw_values_sql`), or of the SQL of (column_name, value) `sources`
    gives for a table (the call legs' values kept by day, `personal_values.py`)."""
    out: dict[str, set[str]] = {}
    for table in tables:
        kinds = pseudonymised_columns(table)
        if not kinds:
            continue
        sql = (sources or {}).get(table) or raw_values_sql(f"main.stg_{table}", list(kinds))
        queries = [sql]
        if reads_numbers(table, _views(con)):  # the E.164 readings of device numbers
            queries.append(readings_sql(table))
        for query in queries:
            rows = con.execute(query)
            while batch := rows.fetchmany(50_000):
                for column, value in batch:
                    out.setdefault(kinds[str(column)], set()).add(str(value))
    return out


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select view_name from duckdb_views() where schema_name = 'main' "
        "and database_name = current_database()"
    ).fetchall()
    return {str(r[0]) for r in rows}


def pseudonym_table(values: dict[str, set[str]], key: bytes, prefix_digits: int) -> pa.Table:
    """The map rows of `values` (kind -> values) under `key`."""
    kinds: list[str] = []
    raw: list[str] = []
    pseudo: list[str] = []
    masked: list[str | None] = []
    for kind in sorted(values):
        for value in sorted(values[kind]):
            kinds.append(kind)
            raw.append(value)
            pseudo.append(pseudonym(key, kind, value))
            masked.append(mask_number(value, prefix_digits) if kind == NUMBER else None)
    columns = {"kind": kinds, "value": raw, "pseudonym": pseudo, "masked": masked}
    # by polars: `pa.table` of lists imports pandas (a quarter of a second per refresh)
    return (
        pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)).to_arrow().cast(MAP_SCHEMA)
    )


def pseudonym_rows(
    con: duckdb.DuckDBPyConnection, settings: Settings, tables: Sequence[str]
) -> pa.Table:
    """The pseudonym map of the values the `main.stg_` views of `con` hold."""
    key = load_key(settings.layout)
    values = _distinct_values(con, tables)
    rows = pseudonym_table(values, key, settings.privacy_prefix_digits)
    return with_files(con, rows, values, key)


def write_pseudonym_map(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    tables: Sequence[str],
    sources: Mapping[str, str] | None = None,
) -> Path:
    """Write this build's `state/privacy/pseudonyms-<build>.parquet` from the values the
    `main.stg_` views hold now (an erased value leaves the map with the next build);
    `sources` as `_distinct_values` takes them."""
    key = load_key(settings.layout)
    values = _distinct_values(con, tables, sources)
    rows = pseudonym_table(values, key, settings.privacy_prefix_digits)
    table = with_files(con, rows, values, key)
    build = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    path = settings.layout.pseudonym_map(build)
    atomic_write_table(table, path)
    log.info("pseudonym map: %d values under key %s", table.num_rows, key_id(key))
    prune_pseudonym_maps(settings.layout, settings.vacuum_grace_hours, keep=path)
    return path


def pseudonym_sql(value: str, kind: str, source: str) -> str:
    """SQL of the pseudonym of the expression `value` (of `kind`) in the map `source`; a
    value retention or erasure already replaced is its own pseudonym."""
    lookup = (
        f"(select m.pseudonym from {source} as m where m.kind = {lit(kind)} and m.value = {value})"
    )
    replaced = f"regexp_matches({value}, {lit(PSEUDONYM_PATTERN)})"
    return f"case when {replaced} then {value} else {lookup} end"


def _base_staging_sql(
    columns: list[tuple[str, str]], table: str, source: str, reads: bool = False
) -> str:
    """`analyst_base.stg_<table>`: personal values replaced by pseudonyms, dropped fields
    NULL (the columns stay, so the `sql/` views build unchanged); with `reads`, a device
    number by the pseudonym of its E.164 reading (`analyst_numbers.py`)."""
    kinds = pseudonymised_columns(table)
    dropped = set(dropped_columns(table))
    items: list[str] = []
    for name, dtype in columns:
        col = quote(name)
        if reads and name == "phone_number":
            value = pseudonym_sql(number_reading(), kinds[name], source)
            items.append(f"    cast({value} as {dtype}) as {col}")
        elif name in kinds:
            items.append(
                f"    cast({pseudonym_sql(f's.{col}', kinds[name], source)} as {dtype}) as {col}"
            )
        elif name in dropped:
            items.append(f"    cast(NULL as {dtype}) as {col}")
        else:
            items.append(f"    {file_or(name, dtype, f's.{col}', source)}")
    joins = f"\n{reading_joins(table)}" if reads else ""
    return "select\n" + ",\n".join(items) + f"\nfrom main.stg_{table} as s{joins}"


def _hidden_note(value: str, dtype: str = "VARCHAR", shown: str | None = None) -> str:
    """SQL of the analyst tier's note for a message `value` (NULL and empty stay); of a list
    (`VARCHAR[]`, the unknown columns), the note in place of each item (so counts hold),
    unless the SQL `shown` holds: the unknown columns of a file that loaded are its
    header's names (notebook 04's column drift), while a failed file's may be a record its
    first line was taken for (`--kind` of a file without its header)."""
    if dtype == "VARCHAR[]":
        hidden = f"list_transform({value}, lambda x: {lit(HIDDEN_NOTE)})"
        return hidden if shown is None else f"case when {shown} then {value} else {hidden} end"
    return f"case when coalesce({value}, '') = '' then {value} else {lit(HIDDEN_NOTE)} end"


_NOTED_TYPES = ("VARCHAR", "VARCHAR[]")


def _loaded(alias: str, columns: list[tuple[str, str]]) -> str | None:
    """SQL true for a ledger file record that loaded (None for a view without `status`)."""
    return f"{alias}.status = 'loaded'" if ("status", "VARCHAR") in columns else None


def _noted_sql(columns: list[tuple[str, str]], view: str, source: str) -> str:
    """`analyst_base.<view>` of a staging view without personal columns (the ledger's): its
    messages (`ANALYST_NOTE_COLUMNS`) replaced by the note at the base, so no view over it,
    the shipped ones or a SQL folder's own (`select message as error`), shows their text."""
    shown = _loaded("s", columns)
    items = [
        f"    {_hidden_note(f's.{quote(n)}', t, shown)} as {quote(n)}"
        if t in _NOTED_TYPES and n in ANALYST_NOTE_COLUMNS
        else f"    {file_or(n, t, f's.{quote(n)}', source)}"
        for n, t in columns
    ]
    return "select\n" + ",\n".join(items) + f"\nfrom main.{quote(view)} as s"


def _presentation_sql(columns: list[tuple[str, str]], view: str, source: str) -> str:
    """`analyst.<view>`: dropped columns left out, numbers masked beside their pseudonym,
    the pipeline's messages (which may quote the input) replaced by a note."""
    dropped = analyst_hidden_columns()
    items: list[str] = []
    for name, dtype in columns:
        col = quote(name)
        if name in dropped:
            continue
        if dtype == "VARCHAR" and is_number_column(name):
            # a value the map does not know is no personal number (the base views hold
            # only pseudonyms of numbers), so it shows as it is
            lookup = f"(select m.masked from {source} as m where m.pseudonym = b.{col})"
            masked = f"coalesce({lookup}, b.{col})"
            items.append(f"    {masked} as {col}")
            items.append(f"    b.{col} as {quote(name + PSEUDONYM_SUFFIX)}")
        elif dtype in _NOTED_TYPES and name in ANALYST_NOTE_COLUMNS:
            items.append(f"    {_hidden_note(f'b.{col}', dtype, _loaded('b', columns))} as {col}")
        else:
            items.append(f"    b.{col}")
    return "select\n" + ",\n".join(items) + f"\nfrom {BASE_SCHEMA}.{quote(view)} as b"


def create_analyst_views(
    con: duckdb.DuckDBPyConnection,
    view_sql: Sequence[tuple[str, str]],
    tables: Sequence[str],
    map_source: str,
    kept: Sequence[str] = (),
    marts: Mapping[str, str] | None = None,
) -> list[str]:
    """Create schemas `analyst_base` and `analyst` on `con`, whose `main` schema already holds
    every view. `view_sql` is (name, SELECT) of every view in dependency order; `map_source`
    the SQL relation of the pseudonym map; the base views named in `kept` are kept as tables
    (`keep_as_tables`); those `marts` names read the SELECT it gives (a mart's table) in
    place of their SQL. Returns the analyst views' names."""
    con.execute(f"create schema if not exists {BASE_SCHEMA}")
    con.execute(f"create schema if not exists {ANALYST_SCHEMA}")
    personal = set(tables)
    main = bound_columns(con, "main")
    later = deferred(con)
    con.execute(f"set search_path = '{BASE_SCHEMA},main'")
    try:
        for name, sql in view_sql:
            table = name.removeprefix("stg_")
            if name.startswith("stg_") and table in personal:
                reads = reads_numbers(table, main)
                body = _base_staging_sql(main[name], table, map_source, reads)
            elif name.startswith("stg_"):  # the ledger's: its messages become the note
                body = _noted_sql(main[name], name, map_source)
            elif name.startswith("cfg_"):
                body = f"select * from main.{quote(name)}"
            else:
                body = (marts or {}).get(name, sql)
            if name in kept:  # a table before the views that read it are bound
                _keep(con, name, body)
            else:  # bound by the analyst view over it (below), not twice: `binding.py`
                con.execute(f"create or replace view {BASE_SCHEMA}.{quote(name)} {later} as {body}")
    finally:
        con.execute("reset search_path")
    names: list[str] = []
    # the base views have the columns of the main ones (the staging views keep their shape);
    # binding each analyst view binds its base view (one that does not bind fails here)
    for name, _ in view_sql:
        body = _presentation_sql(main[name], name, map_source)
        con.execute(f"create or replace view {ANALYST_SCHEMA}.{quote(name)} as\n{body}")
        names.append(name)
    comment_analyst_views(con, names)
    return names


def keep_as_tables(con: duckdb.DuckDBPyConnection, view_sql: Sequence[tuple[str, str]]) -> None:
    """Compute each base view of `view_sql` (name, SELECT; in dependency order) into a table
    of schema `analyst_marts`, from the pseudonymised views as its base view would, and point
    the base view at the table; again when the table is there (a refresh after new device
    data).

    The device-level marts (`materialize.DEVICE_LEVEL`) are kept so: the full tier keeps them
    as tables, and computed as views at every query the analyst tier's licence reports took
    20-40 times as long as the full tier's (rpt_licence_reconciliation on the samples: 7 s
    against 0.17 s), and binding the analyst views at build time expanded the whole chain
    again for each. The tables hold pseudonyms only, never a raw value."""
    if not view_sql:
        return
    con.execute(f"set search_path = '{BASE_SCHEMA},main'")
    try:
        for name, sql in view_sql:
            _keep(con, name, sql)
    finally:
        con.execute("reset search_path")


def _keep(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """`keep_as_tables` of one view, its names resolved by the caller's search path."""
    table = f"{KEPT_SCHEMA}.{quote(name)}"
    con.execute(f"create schema if not exists {KEPT_SCHEMA}")
    con.execute(f"create or replace table {table} as select * from (\n{sql}\n)")
    con.execute(f"create or replace view {BASE_SCHEMA}.{quote(name)} as from {table}")


def comment_analyst_views(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """The comments of the full views and their columns on the analyst views, which say
    what changed; the internal base views say they are internal."""
    views = dict(
        con.execute(
            "select view_name, comment from duckdb_views() where schema_name = 'main' "
            "and comment is not null"
        ).fetchall()
    )
    columns: dict[str, list[tuple[str, str]]] = {}
    for view, column, comment in con.execute(
        "select table_name, column_name, comment from duckdb_columns() "
        "where schema_name = 'main' and comment is not null"
    ).fetchall():
        columns.setdefault(str(view), []).append((str(column), str(comment)))
    have = bound_columns(con, ANALYST_SCHEMA)
    for name in names:
        base = f"{BASE_SCHEMA}.{quote(name)}"
        con.execute(f"comment on view {base} is 'internal to the analyst tier'")
        target = f"{ANALYST_SCHEMA}.{quote(name)}"
        text = views.get(name, "")
        note = " Analyst tier: personal fields pseudonymised or masked (README: Personal data)."
        con.execute(f"comment on view {target} is {lit(text + note)}")
        present = {c for c, _ in have.get(name, [])}
        for column, comment in columns.get(name, []):
            if column in present:
                con.execute(f"comment on column {target}.{quote(column)} is {lit(comment)}")
        for column in present:
            if column.endswith(PSEUDONYM_SUFFIX):
                of = column.removesuffix(PSEUDONYM_SUFFIX)
                text = f"Keyed pseudonym (HMAC-SHA-256) of {of}, for joining and counting"
                con.execute(f"comment on column {target}.{quote(column)} is {lit(text)}")


MAP_VIEW = f"{BASE_SCHEMA}.pseudonym_map"
"""The view every analyst view reads the map through: moving the views to a new map (an
ingest's view refresh) replaces this one view."""


def map_relation(path: Path) -> str:
    """The SQL relation reading the pseudonym map file."""
    return f"read_parquet({lit(str(path.resolve()))})"


def create_map_view(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """(Re)point `analyst_base.pseudonym_map` at `relation` (the map file or an in-memory
    table); returns the view's name, the `map_source` of `create_analyst_views`."""
    con.execute(f"create schema if not exists {BASE_SCHEMA}")
    con.execute(f"create or replace view {MAP_VIEW} as select * from {relation}")
    con.execute(f"comment on view {MAP_VIEW} is 'internal to the analyst tier: this build''s map'")
    return MAP_VIEW
