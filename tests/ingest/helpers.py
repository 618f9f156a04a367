"""Shared helpers of the ingest tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import IngestResult, ingest_paths

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
LINEAGE = ["source_kind", "source_file", "source_row", "run_id", "ingested_at", "load_seq"]


def fixture(name: str) -> Path:
    return FIXTURES / name


def settings(warehouse: Path, **kw: object) -> Settings:
    return Settings(warehouse=warehouse, **kw)  # type: ignore[arg-type]


def load(warehouse: Path, *paths: Path, **kw: object) -> IngestResult:
    return ingest_paths(settings(warehouse, **kw), list(paths))


def table(warehouse: Path, name: str = "call_legs", lineage: bool = False) -> pl.DataFrame:
    """The whole table as stored (partition column from the path), sorted by key."""
    files = sorted((warehouse / "tables" / name).rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    df = pl.read_parquet(files, hive_partitioning=True)
    if not lineage:
        df = df.drop([c for c in LINEAGE if c in df.columns])
    return df.sort("report_id")


def rejects(warehouse: Path) -> pl.DataFrame:
    files = sorted((warehouse / "rejects").rglob("*.parquet"))
    return pl.read_parquet(files).sort("source_row") if files else pl.DataFrame()


ROOT = Path(__file__).parents[2]


def run_cdr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`cdr ARGS` in a fresh process (for kill -9, locks and real exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=600,
    )
