"""Distributed ingest: Spark tasks stage the files, this process commits them.

Each task runs the project's own per-file staging (`cdr_pipeline.ingest.stage.stage_file`:
sniff, read, normalize, quarantine into staged Parquet under the run's staging folder) on
one file and hands back a small description of what it staged. The driver then does what
`cdr ingest` does after staging, in the same file order and under the same writer lock:
skip re-deliveries, gate on the reject rate, merge with Report ID dedup across the whole
table, install the rejects, record each file in the ledger, and make one Delta commit per
table. The result equals `cdr ingest` of the same files (docs/spark.md).

The tasks use `mapInArrow`, which classic sessions and Spark Connect both run; the
executors need the package installed and the warehouse on a file system they share with
the driver (their staged files are renamed into the tables).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import CdrError, ConfigError
from cdr_pipeline.ingest.results import IngestResult
from cdr_pipeline.ingest.run import ingest_paths
from cdr_pipeline.ingest.stage import FileTask, StagedFile, stage_file
from cdr_pipeline.state.files import apply_file_mode

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COMMAND = "python -m cdr_pipeline.spark ingest"
"""How the ledger names these runs."""

_OUTPUT = "seq long, staged binary"


def ingest_on_spark(
    spark: SparkSession,
    settings: Settings,
    paths: Sequence[Path],
    *,
    kind: str | None = None,
    source_kind: str | None = None,
) -> IngestResult:
    """Ingest files or folders with the files staged by Spark tasks, one file per task, and
    committed by this process (the single writer). Same arguments, result, ledger and
    exit codes as `cdr ingest` (`ingest_paths`)."""
    return ingest_paths(
        settings,
        paths,
        kind=kind,
        source_kind=source_kind,
        command=COMMAND,
        stage_files=lambda tasks: stage_on_spark(spark, tasks),
    )


def stage_on_spark(spark: SparkSession, tasks: list[FileTask]) -> list[StagedFile]:
    """Run `stage_file` for every task on the cluster, one file per Spark task; returns
    what each staged, in the tasks' order. Raises the error of a task that found the
    warehouse cannot be written (exit 6, as `cdr ingest`); nothing is committed then."""
    if not tasks:
        return []
    # the tasks travel inside the function (pickled once, broadcast by Spark when large);
    # `range` with one partition per file gives each task exactly one file
    blobs = [pickle.dumps(task) for task in tasks]
    cwd = os.getcwd()  # what relative paths are relative to

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _stage_batches(blobs, batches, cwd)

    frame = spark.range(0, len(tasks), 1, len(tasks)).mapInArrow(run, _OUTPUT)
    staged: dict[int, StagedFile] = {}
    for row in frame.collect():
        one = pickle.loads(row["staged"])  # our own tasks' output
        if isinstance(one, CdrError):  # the warehouse cannot be written: the run stops (exit 6)
            raise one
        staged[row["seq"]] = one
    return [staged[i] for i in range(len(tasks))]


@contextmanager
def _in_driver_folder(task: FileTask, cwd: str) -> Iterator[None]:
    """Relative paths (`--warehouse wh inbox/`, run from the shared mount) resolved as on
    the driver: an executor's working folder is its own (a YARN container's), where they
    named nothing ("No such file or directory" for every file). Absolute paths need none.
    Changing folder keeps the names the ledger and the lineage record those of `cdr ingest`."""
    paths = (task.path, task.folder, task.settings.warehouse)
    if all(p.is_absolute() for p in paths):
        yield
        return
    before = os.getcwd()
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise ConfigError(
            f"relative paths name files in {cwd}, which this executor cannot open ({exc})",
            hint="give --warehouse and the input paths as absolute paths every node sees",
        ) from exc
    try:
        yield
    finally:
        os.chdir(before)


def _stage_batches(
    blobs: list[bytes], batches: Iterator[pa.RecordBatch], cwd: str
) -> Iterator[pa.RecordBatch]:
    """The executor side: stage the files whose numbers arrive, each into a folder of its
    own attempt (a retried or speculative attempt never writes where another one does),
    relative paths taken from the driver's working folder `cwd`."""
    from pyspark import TaskContext

    context = TaskContext.get()
    attempt = context.attemptNumber() if context is not None else 0
    for batch in batches:
        numbers = batch.column("id").to_pylist()
        out = []
        for number in numbers:
            task: FileTask = pickle.loads(blobs[number])  # pickled by the driver
            apply_file_mode(task.settings.file_mode)  # staged files become table files
            folder = task.folder.with_name(f"{task.folder.name}-a{attempt}")
            try:
                with _in_driver_folder(task, cwd):
                    staged: StagedFile | CdrError = stage_file(
                        dataclasses.replace(task, folder=folder)
                    )
            except CdrError as exc:  # raised again by the driver, with its exit code
                staged = exc
            out.append(pickle.dumps(staged))
        yield pa.RecordBatch.from_arrays(
            [pa.array(numbers, pa.int64()), pa.array(out, pa.binary())], names=["seq", "staged"]
        )
