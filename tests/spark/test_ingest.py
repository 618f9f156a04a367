"""Distributed ingest (`python -m cdr_pipeline.spark ingest`) equals `cdr ingest` of the same
files: every table, the quarantined rows and the ledger's accounting of every file.

Two runs each way over the same input paths (lineage columns name the path): the samples
with a re-delivered copy, quarantined rows, an empty, a header-only and an unreadable file;
then an overlapping export that re-delivers and updates records of the first run, a file
the ledger already holds, and a ZIP without extension. Only what depends on the run itself
(run id, load time, load sequence number) may differ.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import IngestResult, ingest_paths
from cdr_pipeline.ingest.stage import FileTask, StagedFile
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.spark.ingest import COMMAND, ingest_on_spark, stage_on_spark
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.tables import snapshot

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
PER_RUN = ["run_id", "ingested_at", "load_seq"]
"""Columns that name the run or when it ran: the only ones allowed to differ."""
pytestmark = pytest.mark.slow  # a Spark session, as the other Spark tests

LEDGER_PER_RUN = ["run_id", "seconds", "loaded_at", "__record_id", "__written_at"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spark_ingest_inputs")
    first, second = root / "first", root / "second"
    shutil.copytree(samples_dir, first)
    shutil.copy(samples_dir / "entitlements.csv", first / "zz_entitlements_again.csv")
    for name in ("overlap_a.csv", "bad_rows.csv", "empty.csv", "header_only.csv", "not_dch.csv"):
        shutil.copy(FIXTURES / name, first / name)
    second.mkdir()
    for name in ("overlap_b.csv", "zip_without_extension"):
        shutil.copy(FIXTURES / name, second / name)
    shutil.copy(FIXTURES / "overlap_a.csv", second / "overlap_a_again.csv")
    return first, second


def _settings(root: Path) -> Settings:
    # half the rows of a file may be quarantined: bad_rows.csv loads, with rejects
    return Settings(warehouse=root, max_reject_rate=0.5)


def test_distributed_ingest_equals_cdr_ingest(
    spark: Any, tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    local, distributed = _settings(tmp_path / "local"), _settings(tmp_path / "spark")
    staged: list[StagedFile] = []

    def stage_and_keep(tasks: list[FileTask]) -> list[StagedFile]:
        out = stage_on_spark(spark, tasks)
        staged.extend(out)
        return out

    runs = [
        ([inputs[0]], 3),  # not_dch.csv fails
        ([inputs[1], inputs[0] / "dch_export_2026-09-30_2026-10-31.csv"], 0),
    ]
    for paths, exit_code in runs:
        expected = ingest_paths(local, paths)
        got = ingest_paths(distributed, paths, command=COMMAND, stage_files=stage_and_keep)
        assert _outcomes(got) == _outcomes(expected)
        assert got.exit_code == expected.exit_code == exit_code
        assert got.table_versions == expected.table_versions
        _assert_same_warehouse(local, distributed)

    # the files were staged by Spark tasks (each in its attempt's folder), not in this process
    assert len(staged) == len(list(inputs[0].iterdir())) + len(list(inputs[1].iterdir())) + 1
    folders = {s.folder.parent.name for f in staged for s in f.sources if s.folder is not None}
    assert folders and all(name.endswith("-a0") for name in folders)
    # and with the warehouse's file mode: the staged files became table files
    data = list(distributed.layout.tables.rglob("*.parquet"))
    assert data and all(p.stat().st_mode & 0o777 == distributed.file_mode for p in data)
    # the runs covered what must agree: loads, duplicates, updates, rejects, skips, failures
    files = Ledger(distributed.layout).files()
    for column in ("rows_loaded", "rows_duplicate", "rows_updated", "rows_rejected"):
        assert files[column].sum() > 0, column
    assert set(files["status"]) == {"loaded", "empty", "skipped", "failed"}
    assert set(Ledger(distributed.layout).runs()["command"]) == {COMMAND}


def test_entry_point_then_same_files_again_skips_them(
    spark: Any, tmp_path: Path, inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m cdr_pipeline.spark ingest` (in-process: it reuses the session) loads the
    files, rebuilds the views and exits 0; a second run of the same files loads nothing (the
    ledger's content digests) and commits no new table version."""
    from cdr_pipeline.spark.__main__ import main

    warehouse = tmp_path / "wh"
    argv = ["ingest", "--warehouse", str(warehouse), "--max-reject-rate", "0.5", str(inputs[1])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "overlap_b.csv\tcalls\tloaded, 5 read" in out
    assert (warehouse / "cdr.duckdb").is_file()
    again = ingest_on_spark(spark, _settings(warehouse), [inputs[1]])
    assert [f.status for f in again.files] == ["skipped"] * len(list(inputs[1].iterdir()))
    assert again.table_versions == {}


def test_entry_point_shows_the_notes_cdr_ingest_shows(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Header drift (a column Control Hub added) and a skipped re-delivery are notes on
    stderr, as `cdr ingest` prints them: the operator of a distributed ingest must see
    them too."""
    from cdr_pipeline.spark.__main__ import main

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURES / "drift_columns.csv", inbox / "drift_columns.csv")
    argv = ["ingest", "--warehouse", str(tmp_path / "wh"), str(inbox)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "drift_columns.csv: new columns kept in 'extra': Future column" in err
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "drift_columns.csv: already loaded" in err


def _outcomes(result: IngestResult) -> list[tuple[object, ...]]:
    fields = ["path", "source", "status", "kind", "rows_read", "rows_loaded", "rows_duplicate"]
    fields += ["rows_rejected", "rows_updated", "webex_go_rows", "exit_code", "message"]
    return [tuple(getattr(f, name) for name in fields) for f in result.files]


def _assert_same_warehouse(a: Settings, b: Settings) -> None:
    for name in schemas_by_table():
        left = _table(a, name)
        assert_frame_equal(left, _table(b, name))
        assert name != "call_legs" or left.height > 0
    assert_frame_equal(_rejects(a), _rejects(b))
    assert_frame_equal(_ledger_files(a), _ledger_files(b))
    assert_frame_equal(_ledger_runs(a), _ledger_runs(b))


def _ledger_runs(settings: Settings) -> pl.DataFrame:
    """Each run's totals (files seen, loaded, skipped, failed; rows), in run order."""
    runs = Ledger(settings.layout).runs().sort("started_at")
    per_run = ["run_id", "command", "started_at", "finished_at"]
    return runs.drop([c for c in [*per_run, *LEDGER_PER_RUN] if c in runs.columns])


def _table(settings: Settings, name: str) -> pl.DataFrame:
    schema = schemas_by_table()[name]
    snap = snapshot(settings.layout.table(name), name, schema.partition_by)
    files = snap.all_files()
    if not files:
        return pl.DataFrame()
    df = pl.read_parquet(files, hive_partitioning=schema.partition_by is not None)
    return df.drop([c for c in PER_RUN if c in df.columns]).sort(list(schema.key))


def _rejects(settings: Settings) -> pl.DataFrame:
    """Every quarantined row, with the rejects file it is published in."""
    root = settings.layout.rejects
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(str(f.relative_to(root))).alias("file"))
        for f in sorted(root.rglob("*.parquet"))
    ]
    assert frames, "no rows quarantined"
    return pl.concat(frames).drop("run_id", "rejected_at").sort("file", "source_row")


def _ledger_files(settings: Settings) -> pl.DataFrame:
    """The ledger's record of every file, numbered by run instead of the run id."""
    ledger = Ledger(settings.layout)
    order = ledger.runs().sort("started_at")["run_id"].to_list()
    files = ledger.files()
    number = pl.col("run_id").replace_strict(order, list(range(len(order))))
    return (
        files.with_columns(number.alias("run"))
        .drop([c for c in LEDGER_PER_RUN if c in files.columns])
        .sort("run", "file_seq", "source")
    )
