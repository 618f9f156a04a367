"""The base tables the emitted views read, registered on a Spark session by name.

`table_files` is the one place that decides which Parquet files make up a table: today every
file under `<warehouse>/tables/<table>/` (and `state/ledger/<table>/`); with snapshot-isolated
tables it is the current snapshot's file list. Everything else takes its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.spark.views import LEDGER_BASE, ledger_columns, table_columns

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


def table_files(settings: Settings) -> list[TableFiles]:
    """Every base table with its current Parquet files (swap this for a snapshot's list)."""
    out = []
    for name in sorted(SCHEMAS):
        schema = SCHEMAS[name]
        root = settings.layout.tables.resolve() / name
        pattern = "**/*.parquet" if schema.partition_by else "*.parquet"
        files = sorted(root.glob(pattern)) if root.is_dir() else []
        out.append(TableFiles(name, root, files, table_columns(schema)))
    for table, base in LEDGER_BASE.items():
        root = settings.layout.ledger.resolve() / table
        files = sorted(root.glob("*.parquet")) if root.is_dir() else []
        out.append(TableFiles(base, root, files, ledger_columns(table)))
    return out


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type of a DuckDB type name (TIMESTAMPTZ -> TIMESTAMP, VARCHAR[] -> ...)."""
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


def read_table(spark: SparkSession, table: TableFiles, fmt: str = "files") -> DataFrame:
    """One base table as a DataFrame with every expected column. `fmt` "delta" reads the
    folder through Spark's Delta reader (when the cluster has it), else the file list."""
    from pyspark.sql import functions as F

    if fmt == "delta":
        df = spark.read.format("delta").load(str(table.root))
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
    return df


def register_tables(spark: SparkSession, tables: list[TableFiles], fmt: str = "files") -> None:
    """Register every base table as a temporary view of its name."""
    for table in tables:
        read_table(spark, table, fmt).createOrReplaceTempView(table.name)
