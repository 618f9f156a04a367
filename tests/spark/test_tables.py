"""Which reader each base table goes through (no Spark needed: a stand-in session records
what it is asked to read), and which ledger records the Spark views read (a Spark session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.spark.tables import register_tables, table_files
from cdr_pipeline.spark.views import emit_views
from cdr_pipeline.state.ledger import Ledger

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"


class _Frame:
    def __init__(self, columns: list[str], log: list[str], name: str) -> None:
        self.columns = columns
        self._log = log
        self._name = name

    def createOrReplaceTempView(self, view: str) -> None:
        self._log.append(f"{view}: {self._name}")


class _Reader:
    """`spark.read`: `format("delta").load(folder)` or `option(...).parquet(*files)`."""

    def __init__(self, session: _Session) -> None:
        self._session = session
        self._format = "parquet"

    def format(self, fmt: str) -> _Reader:
        self._format = fmt
        return self

    def option(self, key: str, value: str) -> _Reader:
        return self

    def load(self, path: str) -> _Frame:
        return self._session.frame(f"{self._format} {Path(path).name}")

    def parquet(self, *paths: str) -> _Frame:
        return self._session.frame(f"files {len(paths)}")


class _Session:
    def __init__(self, columns: dict[str, list[str]]) -> None:
        self.log: list[str] = []
        self._columns = columns
        self._table = ""

    @property
    def read(self) -> _Reader:
        return _Reader(self)

    def frame(self, how: str) -> _Frame:
        return _Frame(self._columns[self._table], self.log, how)

    def createDataFrame(self, rows: Any, schema: str | None = None) -> _Frame:
        # no schema: an Arrow table the driver read (the ledger's)
        return _Frame(self._columns[self._table], self.log, "empty" if schema else "driver")


def test_delta_reads_only_the_delta_tables(tmp_path: Path) -> None:
    # calls only: the device tables have no folder yet, and the ledger tables are plain
    # Parquet folders (Spark's Delta reader refuses both: "not a Delta table")
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [FIXTURES / "overlap_a.csv"]).exit_code == 0
    tables = table_files(settings)
    session = _Session({t.name: [c for c, _ in t.columns] for t in tables})
    for table in tables:
        session._table = table.name
        register_tables(session, [table], "delta")  # type: ignore[arg-type]
    assert sorted(session.log) == [
        "call_legs: delta call_legs",
        "device_events: empty",
        "device_snapshots: empty",
        "entitlements: empty",
        "ledger_files: driver",
        "ledger_retention: empty",
        "ledger_runs: driver",
        "org_directory: empty",
    ]


def _loaded_paths(spark: Any, settings: Settings) -> list[str]:
    """The files the Spark views read as loaded, through the emitted `stg_ledger_files`."""
    (view,) = [v for v in emit_views(settings, "spark") if v.name == "stg_ledger_files"]
    register_tables(spark, table_files(settings))
    spark.sql(view.statement())
    rows = spark.sql("select path from stg_ledger_files where status = 'loaded'").collect()
    return sorted(Path(r["path"]).name for r in rows)


@pytest.mark.slow  # a Spark session, as the other Spark tests
def test_a_load_its_run_has_not_committed_is_not_read(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run records a file `loaded` before it commits: a Spark build while `cdr ingest`
    runs, or after one was killed before its commit, read that file's days as covered
    without its calls (licences that called then read as idle), where `cdr build` leaves
    the file out."""
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [FIXTURES / "overlap_a.csv"]).exit_code == 0
    during: list[list[str]] = []
    commit = PendingTables.commit

    def commit_later(self: PendingTables) -> dict[str, int]:
        during.append(_loaded_paths(spark, settings))
        return commit(self)

    monkeypatch.setattr(PendingTables, "commit", commit_later)
    assert ingest_paths(settings, [FIXTURES / "overlap_b.csv"]).exit_code == 0
    assert during == [["overlap_a.csv"]]
    assert _loaded_paths(spark, settings) == ["overlap_a.csv", "overlap_b.csv"]


@pytest.mark.slow  # a Spark session, as the other Spark tests
def test_the_compacted_ledger_is_read(spark: Any, tmp_path: Path) -> None:
    """A ledger folder of more than 64 files (a month of nightly runs) is compacted into a
    `_compacted-*.parquet` file, which Spark's file listing skips like `_SUCCESS`: the Spark
    views read only the files written since, or failed (a folder holding only that file)."""
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [FIXTURES / "overlap_a.csv"]).exit_code == 0
    ledger = Ledger(settings.layout)
    for table in ("files", "runs"):
        assert ledger.compact(table) is not None
    assert _loaded_paths(spark, settings) == ["overlap_a.csv"]
    assert ingest_paths(settings, [FIXTURES / "overlap_b.csv"]).exit_code == 0
    assert _loaded_paths(spark, settings) == ["overlap_a.csv", "overlap_b.csv"]
