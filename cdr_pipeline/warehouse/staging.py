"""Generated views: `stg_<table>` from the schema registry, the raw ledger, `cfg_settings` and
`cfg_dialling_plans` (warehouse/dialling.py).

`stg_<table>` is never hand-written: its typed column list comes from
`cdr_pipeline.schema.SCHEMAS` (one source of truth). It reads the files of ONE version of the
Delta table, the latest at build time (or the one `--as-of` names): `read_parquet([...the
version's files...], hive_partitioning=true)`. So a query never mixes versions, and a
connection held open keeps its version, whose files stay on disk until `cdr vacuum` removes
them after the grace period. `cdr ingest`, fetch and the nightly run `cdr build` at their
end, so the views move to the new version then. A column the schema knows but no file holds
yet (a schema that grew) reads as a typed NULL; files that hold different columns (written
before and after the schema grew), or types, are read a group at a time and joined by name
(`read_files`). A table with no file becomes an empty typed relation, so the build never fails
on a fresh warehouse.

Each file's columns are read from its footer once: `cdr_meta.file_columns` keeps them by path
for the files of the version, and a refresh (which starts from a copy of the database) reads
only the footers of the files that are new since (about half a millisecond a file, 2 s a build
at ten years of daily files otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import TableSchema, schemas_by_table
from cdr_pipeline.schema.base import DUCKDB_TYPES
from cdr_pipeline.state.datafiles import Columns, read_files
from cdr_pipeline.state.ledger import (
    FILES_SCHEMA,
    RECORD_ID,
    RETENTION_SCHEMA,
    RUNS_SCHEMA,
    WRITTEN_AT,
)
from cdr_pipeline.state.ledger_files import live_files
from cdr_pipeline.state.tables import Snapshot, run_version
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.catalog import ViewSpec
from cdr_pipeline.warehouse.dialling import dialling_view
from cdr_pipeline.warehouse.marts import table_exists
from cdr_pipeline.warehouse.signature import META_SCHEMA

LEDGER_TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    "runs": (RUNS_SCHEMA, ("run_id",)),
    "files": (FILES_SCHEMA, ("run_id", "file_seq")),
    "retention": (RETENTION_SCHEMA, ("run_id", "partition")),
}


def _select_typed(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[tuple[str, str]],
    source: str | None,
    present: set[str] | None = None,
) -> str:
    """`select cast(col as T) as col, ...` over `source` (a column `source` lacks reads as a
    typed NULL), or an empty typed relation when `source` is None. `present`: the columns
    `source` has, when known (otherwise DuckDB describes it)."""
    if present is None:
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


FILE_COLUMNS = f"{META_SCHEMA}.file_columns"
"""Data file path -> its columns and types (JSON), for the files of the built versions."""


def staging_view(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    snap: Snapshot,
    known: dict[str, Columns] | None = None,
) -> tuple[ViewSpec, bool]:
    """The generated `stg_<table>` view over one version's files, and whether it has any;
    `known` as `read_files` takes it."""
    files = [str(f.resolve()) for f in snap.all_files()]
    exists = bool(files)
    columns = [(c.name, DUCKDB_TYPES[c.dtype]) for c in schema.stored_columns]
    if schema.partition_by:
        columns.append(
            (schema.partition_by, DUCKDB_TYPES[schema.column(schema.partition_by).dtype])
        )
    hive = bool(schema.partition_by)
    source, present = read_files(files, hive, known) if exists else (None, set())
    version = "none" if snap.version is None else str(snap.version)
    sql = (
        f"-- grain: one row per {schema.name} record (generated from the schema registry)\n"
        f"-- key: {', '.join(schema.key)}\n"
        f"-- table version: {version}\n" + _select_typed(con, columns, source, present)
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
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    table: str,
    moment: datetime,
    snapshots: Mapping[str, Snapshot] | None = None,
) -> tuple[ViewSpec, bool]:
    """Generated `stg_ledger_<table>` over `state/ledger/<table>/*.parquet`: each record as
    last written by `moment` (the build's, or the time `--as-of` names), so a connection held
    open keeps the ledger of its table versions; `files` keeps only the `loaded` records
    whose rows the versions `snapshots` hold (`_committed_files`)."""
    schema, key = LEDGER_TABLES[table]
    listed = live_files(settings.layout.ledger.resolve() / table)
    exists = bool(listed)
    columns = [(f.name, arrow_to_duckdb(f.type)) for f in schema]
    source: str | None = None
    if exists:
        source = _latest_records(con, listed, moment)
        if table == "files" and snapshots is not None:
            source = _committed_files(con, settings, source, snapshots, moment)
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


def _committed_files(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    files: str,
    snapshots: Mapping[str, Snapshot],
    moment: datetime,
) -> str:
    """The `files` records (`files`, a relation) without the `loaded` ones whose rows the
    versions `snapshots` do not hold. A run records a file `loaded` before its commit, so call
    coverage counted files whose calls the views do not read (a run under way or killed, a
    later run under a connection held open, `--as-of` in the middle of a run) and their
    licences read as idle. A run finished by `moment` holds its `loaded` files at the
    versions its record names; of a run still `running` then, the tables' logs say what it
    committed."""
    listed = live_files(settings.layout.ledger.resolve() / "runs")
    if not listed:
        return files
    runs = _latest_records(con, listed, moment)
    held = "".join(
        f"when {lit(name)} then {snap.version} "
        for name, snap in sorted(snapshots.items())
        if snap.version is not None
    )
    # no table has a version yet (a run recorded before any commit): nothing is held
    held_version = f"case f.table_name {held}else -1 end" if held else "-1"
    open_runs = con.execute(f"select run_id from {runs} where status = 'running'").fetchall()
    pairs = [
        f"({lit(str(run_id))}, {lit(name)})"
        for (run_id,) in open_runs
        for name, snap in sorted(snapshots.items())
        if _committed_by(snap, str(run_id))
    ]
    running = f"(f.run_id, f.table_name) in ({', '.join(pairs)})" if pairs else "false"
    version = (
        "try_cast(regexp_extract(r.table_versions, '(^|,)' || f.table_name || '=([0-9]+)', 2) "
        "as bigint)"
    )
    return (
        f"(select f.* from {files} as f left join {runs} as r on r.run_id = f.run_id "
        "where f.status is distinct from 'loaded' or r.run_id is null "
        f"or (r.status = 'running' and {running}) "
        f"or (r.status is distinct from 'running' "
        f"and coalesce({version}, -1) <= {held_version}))"
    )


def uncommitted_file_records(
    settings: Settings, snapshots: Mapping[str, Snapshot], moment: datetime
) -> list[str]:
    """The record ids of the ledger's `files` records, as written by `moment`, that
    `stg_ledger_files` leaves out over the versions `snapshots`: `loaded` files whose rows
    those versions do not hold (`_committed_files`). For a reader that registers the
    ledger's files itself (the Spark build) and must read the ledger as the views do."""
    listed = live_files(settings.layout.ledger.resolve() / "files")
    if not listed:
        return []
    con = duckdb.connect()
    try:
        files = _latest_records(con, listed, moment)
        if RECORD_ID not in _present_columns(con, files):
            return []  # files older than record ids: runs long finished
        kept = _committed_files(con, settings, files, snapshots, moment)
        rid = quote(RECORD_ID)
        rows = con.execute(
            f"select {rid} from {files} where {rid} is not null "
            f"except select {rid} from {kept} where {rid} is not null order by 1"
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def _committed_by(snap: Snapshot, run_id: str) -> bool:
    """Run `run_id` committed the table at a version `snap` holds."""
    if snap.version is None:
        return False
    version = run_version(snap.root, run_id)
    return version is not None and version <= snap.version


def _latest_records(
    con: duckdb.DuckDBPyConnection, files: Sequence[Path], as_of: datetime | None = None
) -> str:
    """The records of a ledger folder's live `files` (listed now, not at each query: a
    compaction supersedes files without deleting them, `state/ledger_files.py`), the latest
    write of each (a compacted file and a record file may both hold one), of those written
    by `as_of` if given."""
    listed = ", ".join(lit(str(f)) for f in files)
    raw = f"read_parquet([{listed}], union_by_name=true, filename=true)"
    present = _present_columns(con, raw)
    from_name = r"regexp_extract(filename, '([^/]+)\.parquet$', 1)"
    rid = f"coalesce(__record_id, {from_name})" if RECORD_ID in present else from_name
    written = WRITTEN_AT if WRITTEN_AT in present else "NULL::BIGINT"
    when = ""
    if as_of is not None:  # a write time in ns (a file too old to carry one counts)
        ns = int(as_of.timestamp()) * 1_000_000_000 + as_of.microsecond * 1000
        when = f" where {written} is null or {written} <= {ns}"
    return (
        f"(select * from {raw}{when} qualify row_number() over "
        f"(partition by {rid} order by {written} desc nulls last) = 1)"
    )


def settings_view(settings: Settings) -> ViewSpec:
    """`cfg_settings`: the settings SQL may use, so no view hard-codes them."""
    sql = (
        "-- grain: one row\n-- key: reporting_timezone\n"
        "select\n"
        f"    cast({lit(settings.reporting_timezone)} as varchar) as reporting_timezone,\n"
        f"    cast({int(settings.code_expiry_days)} as integer) as code_expiry_days,\n"
        f"    cast({int(settings.idle_days)} as integer) as idle_days,\n"
        f"    cast({float(settings.fetch.late_hours)} as double) as late_hours"
    )
    return ViewSpec(
        name="cfg_settings",
        sql=sql,
        grain="one row",
        key=("reporting_timezone",),
        origin="generated",
        doc="Settings baked in at build time: reporting_timezone, code_expiry_days, idle_days, "
        "late_hours.",
    )


def generated_views(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    snapshots: Mapping[str, Snapshot],
    as_of: datetime | None = None,
) -> tuple[list[ViewSpec], list[str]]:
    """Every generated view (raw tables read from `snapshots`; the ledger as of `as_of`, or
    as written by now, with the files those versions hold), and the raw tables that had no
    file in them."""
    moment = as_of or datetime.now(UTC)
    specs = [settings_view(settings), dialling_view()]
    empty: list[str] = []
    known = _known_columns(con)
    for schema in sorted(schemas_by_table().values(), key=lambda s: s.name):
        spec, exists = staging_view(con, schema, snapshots[schema.name], known)
        specs.append(spec)
        if not exists:
            empty.append(schema.name)
    used = {str(f.resolve()) for snap in snapshots.values() for f in snap.all_files()}
    _remember_columns(con, {path: known[path] for path in sorted(used & known.keys())})
    for table in LEDGER_TABLES:
        spec, exists = ledger_view(con, settings, table, moment, snapshots)
        specs.append(spec)
        if not exists:
            empty.append(f"ledger/{table}")
    return specs, empty


def _known_columns(con: duckdb.DuckDBPyConnection) -> dict[str, Columns]:
    """The columns `FILE_COLUMNS` holds (none in a new or in-memory database)."""
    if not table_exists(con, *FILE_COLUMNS.split(".")):
        return {}
    rows = con.execute(f"select path, columns from {FILE_COLUMNS}").fetchall()
    return {str(path): frozenset(map(tuple, json.loads(columns))) for path, columns in rows}


def _remember_columns(con: duckdb.DuckDBPyConnection, known: Mapping[str, Columns]) -> None:
    """Keep `known` (the files of the versions built) as `FILE_COLUMNS`, in place of what it
    held (a file a version no longer lists is forgotten)."""
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(f"create or replace table {FILE_COLUMNS} (path varchar, columns varchar)")
    # as list parameters: `pa.array` of a Python list imports pandas, a third of a second
    # of every `cdr` process that builds
    con.execute(
        f"insert into {FILE_COLUMNS} select unnest(?::varchar[]), unnest(?::varchar[])",
        [list(known), [json.dumps(sorted(c)) for c in known.values()]],
    )
