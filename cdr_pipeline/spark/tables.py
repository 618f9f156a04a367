"""The base tables the emitted views read, registered by name on a Spark session (or DuckDB).

`table_files` is the one place that decides which Parquet files make up a table: the
current Delta version's file list of every table under `<warehouse>/tables/`, every file of
`state/ledger/<table>/` (with the `files` records of loads those versions do not hold left
out, as `cdr build` does). Everything else takes its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.spark.functions import instant_type_to_spark
from cdr_pipeline.spark.views import (
    LEDGER_BASE,
    LEDGER_BOOKKEEPING,
    ledger_columns,
    table_columns,
)
from cdr_pipeline.state import tables
from cdr_pipeline.state.datafiles import read_files
from cdr_pipeline.state.ledger import RECORD_ID
from cdr_pipeline.state.ledger_files import live_files
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.staging import uncommitted_file_records

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class TableFiles:
    """The files of one base table: `root` is the table folder (Hive partition columns are
    read from the path below it), `files` the Parquet files of the current version."""

    name: str
    root: Path
    files: list[Path] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    """(column, DuckDB type) the table must have (a missing one reads as NULL)."""
    left_out: tuple[str, ...] = ()
    """Ledger record ids (`__record_id`) the views must not read: `files` records of loads
    the tables' listed versions do not hold (a run under way or killed before its commit)."""
    on_driver: bool = False
    """Read by this process and handed to Spark (the ledger's small tables): Spark skips a
    file whose name starts with `_`, as the ledger's compacted files' names do."""


def table_files(settings: Settings) -> list[TableFiles]:
    """Every base table with the Parquet files of its current Delta version (a table folder
    also holds files a later commit replaced, until vacuum: never list the folder)."""
    out = []
    snapshots = {}
    for schema in sorted(SCHEMAS.values(), key=lambda s: s.name):
        name = schema.name
        root = settings.layout.tables.resolve() / name
        snap = snapshots[name] = tables.snapshot(root, name, schema.partition_by)
        out.append(TableFiles(name, root, snap.all_files(), table_columns(schema)))
    listed = {}
    for table in LEDGER_BASE:
        root = settings.layout.ledger.resolve() / table
        listed[table] = (root, live_files(root))  # not what a compaction superseded
    # as `cdr build`: a run records a file `loaded` before it commits, so the ledger listed
    # after the versions may name loads they do not hold (their days read as covered, and
    # licences that called then as idle)
    left_out = tuple(uncommitted_file_records(settings, snapshots, datetime.now(UTC)))
    for table, base in LEDGER_BASE.items():
        root, files = listed[table]
        columns = ledger_columns(table) + LEDGER_BOOKKEEPING
        skip = left_out if table == "files" else ()
        out.append(TableFiles(base, root, files, columns, skip, on_driver=True))
    return out


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type of a DuckDB type name (TIMESTAMPTZ -> TIMESTAMP_LTZ, whatever the
    session's `spark.sql.timestampType`; VARCHAR[] -> ARRAY<STRING>, ...)."""
    dtype = exp.DataType.build(duckdb_type, dialect="duckdb")
    return dtype.transform(instant_type_to_spark).sql(dialect="spark")


def is_delta(table: TableFiles) -> bool:
    """Whether the table folder is a Delta table (the ledger tables are plain Parquet
    folders; a table nothing was loaded into has no folder yet)."""
    return (table.root / "_delta_log").is_dir()


def read_table(spark: SparkSession, table: TableFiles, fmt: str = "files") -> DataFrame:
    """One base table as a DataFrame with every expected column. `fmt` "delta" reads a
    Delta table's folder through Spark's Delta reader (when the cluster has it); the ledger
    tables, which are not Delta tables, and every table otherwise through the file list."""
    from pyspark.sql import functions as F

    if fmt == "delta" and is_delta(table):
        df = spark.read.format("delta").load(str(table.root))
    elif table.files and table.on_driver:
        df = spark.createDataFrame(_read_on_driver(table.files))
    elif table.files:
        df = (
            spark.read.option("basePath", str(table.root))
            .option("mergeSchema", "true")
            .parquet(*(str(f) for f in table.files))
        )
    else:
        ddl = ", ".join(f"`{n}` {spark_type(t)}" for n, t in table.columns)
        return spark.createDataFrame([], schema=ddl)
    present = set(df.columns)
    for name, dtype in table.columns:
        if name not in present:
            df = df.withColumn(name, F.lit(None).cast(spark_type(dtype)))
    if table.left_out:
        record = F.col(RECORD_ID)
        df = df.where(record.isNull() | ~record.isin(list(table.left_out)))
    return df


def _read_on_driver(files: list[Path]) -> pa.Table:
    """The files as one Arrow table, a column some file lacks as NULL: Hadoop's file listing
    leaves out names starting with `_` even when given one by one, so Spark alone read no
    compacted ledger file (a month of nightly runs compacts each folder)."""
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")


def register_tables(spark: SparkSession, tables: list[TableFiles], fmt: str = "files") -> None:
    """Register every base table as a temporary view of its name."""
    for table in tables:
        read_table(spark, table, fmt).createOrReplaceTempView(table.name)


def duckdb_table_sql(table: TableFiles) -> str:
    """A DuckDB SELECT of one base table from its file list (every expected column; a
    column no file holds reads as a typed NULL), to register it for the DuckDB form of
    `cdr sql`."""
    if not table.files:
        items = ", ".join(f"cast(NULL as {t}) as {quote(n)}" for n, t in table.columns)
        return f"select {items} where false"
    hive = any(f.parent != table.root for f in table.files)
    source, present = read_files([str(f) for f in table.files], hive)
    missing = [f"cast(NULL as {t}) as {quote(n)}" for n, t in table.columns if n not in present]
    where = ""
    if table.left_out:
        ids = ", ".join(lit(r) for r in table.left_out)
        where = f" where {quote(RECORD_ID)} is null or {quote(RECORD_ID)} not in ({ids})"
    return f"select *{''.join(', ' + m for m in missing)} from {source}{where}"


def register_duckdb_tables(con: duckdb.DuckDBPyConnection, tables: list[TableFiles]) -> None:
    """Every base table as a DuckDB view of its name."""
    for table in tables:
        con.execute(f"create or replace temp view {table.name} as {duckdb_table_sql(table)}")
