"""Shared fixtures: one warehouse loaded from the committed samples and validated once (GX is
slow), and helpers that write small Parquet partitions straight into a warehouse layout."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.quality import validate_warehouse
from cdr_pipeline.quality.report import ValidationReport
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state.tables import UNPARTITIONED, commit, snapshot


@dataclass
class Validated:
    settings: Settings
    report: ValidationReport


@pytest.fixture(scope="session")
def clean(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Validated:
    """The samples ingested into a fresh warehouse and validated with --all."""
    settings = Settings(warehouse=tmp_path_factory.mktemp("clean") / "warehouse")
    result = ingest_paths(settings, [samples_dir])
    assert result.total("rows_loaded") > 0
    return Validated(settings, validate_warehouse(settings, "all"))


def table_frame(settings: Settings, table: str, partition: str | None = None) -> pl.DataFrame:
    """Rows of a stored table's current version (one partition, e.g. `call_date=2026-09-02`,
    or the whole of an unpartitioned table), read with polars, not with the code under
    test."""
    schema = schemas_by_table()[table]
    snap = snapshot(settings.layout.tables / table, table, schema.partition_by)
    value = partition.split("=", 1)[1] if partition else UNPARTITIONED
    return pl.read_parquet(snap.partition_files(value))


def write_partition(warehouse: Path, table: str, partition: str | None, df: pl.DataFrame) -> Path:
    """Make `df` the whole content of one partition (or of an unpartitioned table): a new
    file, committed to the table's log in place of the partition's files."""
    schema = schemas_by_table()[table]
    base = warehouse / "tables" / table
    path = (base / partition if partition else base) / f"part-test-{uuid.uuid4().hex}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, compression="zstd")
    value = partition.split("=", 1)[1] if partition else UNPARTITIONED
    commit(base, schema.table_arrow_schema(), schema.partition_by, {value: [path]}, [value], "test")
    return path


def write_in_place(
    warehouse: Path, table: str, df: pl.DataFrame, default: str | None = None
) -> None:
    """`df` written where the loader puts each row: in the partition its timestamp gives
    (`TableSchema.partition_from`, UTC); a row without one in `default`."""
    schema = schemas_by_table()[table]
    if schema.partition_from is None:
        write_partition(warehouse, table, None, df)
        return
    source, fmt = schema.partition_from
    values = df[source].dt.convert_time_zone("UTC").dt.strftime(fmt)
    parts = [f"{schema.partition_by}={v}" if v is not None else default for v in values]
    for part in sorted({p for p in parts if p is not None}):
        write_partition(warehouse, table, part, df.filter(pl.Series(parts) == part))


CALL_DAY = "call_date=2026-09-02"
"""The day of `call_rows`: tests write them back into its partition (validation checks that
each row is in the partition of its start time)."""


@pytest.fixture(scope="session")
def call_rows(clean: Validated) -> pl.DataFrame:
    """20 clean answered call legs of `CALL_DAY` (all with answer and release times)."""
    df = table_frame(clean.settings, "call_legs", CALL_DAY)
    answered = df.filter(pl.col("answer_time").is_not_null() & pl.col("release_time").is_not_null())
    assert answered.height >= 20, "the samples have no 20 answered legs on the day"
    return answered.head(20)


@pytest.fixture
def copy_table(clean: Validated) -> Callable[[Path, str], None]:
    def copy(warehouse: Path, table: str) -> None:
        shutil.copytree(clean.settings.layout.tables / table, warehouse / "tables" / table)

    return copy
