"""The executor side of distributed ingest with relative paths: a task runs in a working
folder of its own (a YARN container's), not the driver's. No Spark needed: a stand-in
session runs the tasks' function in another folder, as an executor would."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.spark.ingest import COMMAND, stage_on_spark

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
Batches = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


class _Tasks:
    def __init__(self, n: int, executor_folder: Path) -> None:
        self.n, self.folder = n, executor_folder
        self.run: Batches | None = None

    def mapInArrow(self, run: Batches, schema: str) -> _Tasks:  # pyspark's name
        self.run = run
        return self

    def collect(self) -> list[dict[str, Any]]:
        assert self.run is not None
        before = os.getcwd()
        os.chdir(self.folder)  # the executor's own working folder
        try:
            batch = pa.record_batch([pa.array(range(self.n), pa.int64())], names=["id"])
            out = [b.to_pylist() for b in self.run(iter([batch]))]
        finally:
            os.chdir(before)
        return [row for rows in out for row in rows]


class _Session:
    def __init__(self, executor_folder: Path) -> None:
        self.folder = executor_folder

    def range(self, start: int, end: int, step: int, partitions: int) -> _Tasks:
        return _Tasks(end - start, self.folder)


def test_relative_paths_mean_the_drivers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, executor = tmp_path / "driver", tmp_path / "executor"
    (driver / "inbox").mkdir(parents=True)
    executor.mkdir()
    for name in ("overlap_a.csv", "bad_rows.csv"):
        shutil.copy(FIXTURES / name, driver / "inbox" / name)
    monkeypatch.chdir(driver)  # `--warehouse wh inbox/`, run from the shared mount
    settings = Settings(warehouse=Path("wh"), max_reject_rate=0.9)
    session = _Session(executor)
    result = ingest_paths(
        settings,
        [Path("inbox")],
        command=COMMAND,
        stage_files=lambda tasks: stage_on_spark(session, tasks),  # type: ignore[arg-type]
    )
    expected = ingest_paths(Settings(warehouse=Path("local"), max_reject_rate=0.9), [Path("inbox")])

    def outcomes(files: list[Any]) -> list[tuple[Any, ...]]:
        return [(f.source, f.status, f.rows_read, f.rows_loaded, f.rows_rejected) for f in files]

    assert outcomes(result.files) == outcomes(expected.files)
    assert [f.status for f in result.files] == ["loaded", "loaded"]
    assert result.exit_code == expected.exit_code == 0
    assert list(executor.iterdir()) == []  # nothing written in the executor's folder
