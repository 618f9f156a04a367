"""Shared helpers of the ingest tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import IngestResult, ingest_paths
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state.tables import snapshot

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
LINEAGE = ["source_kind", "source_file", "source_row", "run_id", "ingested_at", "load_seq"]


def fixture(name: str) -> Path:
    return FIXTURES / name


def settings(warehouse: Path, **kw: object) -> Settings:
    return Settings(warehouse=warehouse, **kw)  # type: ignore[arg-type]


def load(warehouse: Path, *paths: Path, **kw: object) -> IngestResult:
    return ingest_paths(settings(warehouse, **kw), list(paths))


def table(warehouse: Path, name: str = "call_legs", lineage: bool = False) -> pl.DataFrame:
    """The table's current version (its Delta snapshot; partition column from the path),
    sorted by key."""
    schema = schemas_by_table()[name]
    snap = snapshot(warehouse / "tables" / name, name, schema.partition_by)
    files = snap.all_files()
    if not files:
        return pl.DataFrame()
    df = pl.read_parquet(files, hive_partitioning=True)
    if not lineage:
        df = df.drop([c for c in LINEAGE if c in df.columns])
    return df.sort(list(schema.key))


def unlisted_files(warehouse: Path, name: str = "call_legs") -> list[Path]:
    """Data files under the table's folder that its current version does not list."""
    schema = schemas_by_table()[name]
    root = warehouse / "tables" / name
    listed = set(snapshot(root, name, schema.partition_by).all_files())
    return sorted(p for p in root.rglob("*.parquet") if p not in listed) if root.is_dir() else []


def partition_files(warehouse: Path, name: str = "call_legs") -> dict[str, list[Path]]:
    """partition value -> the files the table's current version lists for it."""
    schema = schemas_by_table()[name]
    return snapshot(warehouse / "tables" / name, name, schema.partition_by).files


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


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """`cdr ARGS` in a fresh process that file permissions apply to: as root, without the
    capabilities that bypass them (`setpriv`), else as the user."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root without setpriv: file permissions do not apply")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    env = {k: v for k, v in os.environ.items() if k not in ("CDR_CONFIG", "CDR_WAREHOUSE")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "cdr_pipeline", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def unreadable_copy(source: Path, target: Path) -> Path:
    """`source` copied to `target`, then made unreadable (mode 000)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0)
    return target


class Blocks(io.RawIOBase):
    """A stream that hands out `data` at most `block` bytes a read: the JSON readers must
    judge an escape, a page or a value the same wherever a read ends."""

    def __init__(self, data: bytes, block: int) -> None:
        self.data, self.block = data, block

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        n = min(self.block, len(self.data), len(buffer))  # type: ignore[arg-type]
        buffer[:n] = self.data[:n]  # type: ignore[index]
        self.data = self.data[n:]
        return n


def cdr_in_process(*args: str) -> Result:
    """`cdr ARGS` in this process, where the process itself is not what a test checks."""
    return CliRunner().invoke(cli, list(args))


def copy_of(warehouse: Path, tmp_path: Path) -> Path:
    """A writable copy of a module's warehouse (tests only read the original)."""
    return Path(shutil.copytree(warehouse, tmp_path / "wh"))
