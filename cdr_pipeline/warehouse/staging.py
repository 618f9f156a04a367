"""Generated views: `stg_<table>` from the schema registry, the raw ledger and `cfg_settings`.

`stg_<table>` is never hand-written: its typed column list comes from
`cdr_pipeline.schema.SCHEMAS` (one source of truth). It reads the table's Parquet files
directly (`read_parquet(..., hive_partitioning=true, union_by_name=true)`), so data ingested
after `cdr build` shows without a rebuild. A column the schema knows but no file holds yet
(a schema that grew) reads as a typed NULL. A table with no file at build time becomes an
empty typed relation, so the build never fails on a fresh warehouse; the next `cdr build`
(the nightly run does one) switches it to the files.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import SCHEMAS, TableSchema
from cdr_pipeline.schema.base import DUCKDB_TYPES
from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.catalog import ViewSpec

LEDGER_TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    "runs": (RUNS_SCHEMA, ("run_id",)),
    "files": (FILES_SCHEMA, ("run_id", "file_seq")),
}


def _select_typed(
    con: duckdb.DuckDBPyConnection, columns: Sequence[tuple[str, str]], source: str | None
) -> str:
    """`select cast(col as T) as col, ...` over `source` (a column `source` lacks reads as a
    typed NULL), or an empty typed relation when `source` is None."""
    present = _present_columns(con, source) if source is not None else set()
    items = []
    for name, dtype in columns:
        expr = quote(name) if name in present else "NULL"
        items.append(f"    cast({expr} as {dtype}) as {quote(name)}")
    body = "select\n" + ",\n".join(items)
    if source is None:
        return body + "\nwhere false"
    return body + f"\nfrom {source}"


def _present_columns(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    rows = con.execute(f"describe select * from {source}").fetchall()
    return {str(r[0]) for r in rows}


def table_glob(settings: Settings, schema: TableSchema) -> tuple[str, bool]:
    """(glob of the table's Parquet files, whether any file exists now)."""
    folder = settings.layout.tables.resolve() / schema.name
    pattern = "**/*.parquet" if schema.partition_by else "*.parquet"
    exists = folder.is_dir() and any(folder.glob(pattern))
    return str(folder / pattern), exists


def staging_view(
    con: duckdb.DuckDBPyConnection, settings: Settings, schema: TableSchema
) -> tuple[ViewSpec, bool]:
    """The generated `stg_<table>` view and whether the table had files at build time."""
    glob, exists = table_glob(settings, schema)
    columns = [(c.name, DUCKDB_TYPES[c.dtype]) for c in schema.stored_columns]
    if schema.partition_by:
        columns.append(
            (schema.partition_by, DUCKDB_TYPES[schema.column(schema.partition_by).dtype])
        )
    source: str | None = None
    if exists:
        hive = "true" if schema.partition_by else "false"
        source = f"read_parquet({lit(glob)}, hive_partitioning={hive}, union_by_name=true)"
    sql = (
        f"-- grain: one row per {schema.name} record (generated from the schema registry)\n"
        f"-- key: {', '.join(schema.key)}\n" + _select_typed(con, columns, source)
    )
    spec = ViewSpec(
        name=f"stg_{schema.name}",
        sql=sql,
        grain=f"one row per {schema.name} record",
        key=schema.key,
        origin="generated",
        doc=f"Typed columns of table {schema.name!r} (kind {schema.kind!r}).",
    )
    return spec, exists


_ARROW_TO_DUCKDB = {
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "date32[day]": "DATE",
}


def arrow_to_duckdb(dtype: pa.DataType) -> str:
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ" if dtype.tz else "TIMESTAMP"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return arrow_to_duckdb(dtype.value_type) + "[]"
    return _ARROW_TO_DUCKDB[str(dtype)]


def ledger_view(
    con: duckdb.DuckDBPyConnection, settings: Settings, table: str
) -> tuple[ViewSpec, bool]:
    """Generated `stg_ledger_<table>` over `state/ledger/<table>/*.parquet`."""
    schema, key = LEDGER_TABLES[table]
    folder = settings.layout.ledger.resolve() / table
    exists = folder.is_dir() and any(folder.glob("*.parquet"))
    columns = [(f.name, arrow_to_duckdb(f.type)) for f in schema]
    source: str | None = None
    if exists:
        source = f"read_parquet({lit(str(folder / '*.parquet'))}, union_by_name=true)"
    sql = f"-- grain: one ledger record of {table}\n-- key: {', '.join(key)}\n" + _select_typed(
        con, columns, source
    )
    spec = ViewSpec(
        name=f"stg_ledger_{table}",
        sql=sql,
        grain=f"one ledger record of {table}",
        key=key,
        origin="generated",
        doc=f"Raw ledger table {table!r} (state/ledger/{table}/).",
    )
    return spec, exists


def settings_view(settings: Settings) -> ViewSpec:
    """`cfg_settings`: the settings SQL may use, so no view hard-codes them."""
    sql = (
        "-- grain: one row\n-- key: reporting_timezone\n"
        "select\n"
        f"    cast({lit(settings.reporting_timezone)} as varchar) as reporting_timezone,\n"
        f"    cast({int(settings.code_expiry_days)} as integer) as code_expiry_days,\n"
        f"    cast({int(settings.idle_days)} as integer) as idle_days"
    )
    return ViewSpec(
        name="cfg_settings",
        sql=sql,
        grain="one row",
        key=("reporting_timezone",),
        origin="generated",
        doc="Settings baked in at build time: reporting_timezone, code_expiry_days, idle_days.",
    )


def generated_views(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> tuple[list[ViewSpec], list[str]]:
    """Every generated view, and the raw tables that had no file at build time."""
    specs = [settings_view(settings)]
    empty: list[str] = []
    for schema in sorted(SCHEMAS.values(), key=lambda s: s.name):
        spec, exists = staging_view(con, settings, schema)
        specs.append(spec)
        if not exists:
            empty.append(schema.name)
    for table in LEDGER_TABLES:
        spec, exists = ledger_view(con, settings, table)
        specs.append(spec)
        if not exists:
            empty.append(f"ledger/{table}")
    return specs, empty
