"""The guarantees of docs/design.md#guarantees when a run dies: a kill -9 mid-merge or
between two table commits, or a failure between them, loses and doubles nothing, and the
ledger says what the run committed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import load, run_cdr, table, unlisted_files

ROOT = Path(__file__).parents[2]


def test_kill_9_mid_merge_then_rerun_loses_and_doubles_nothing(
    tmp_path: Path, generated: Callable[..., Path]
) -> None:
    """The run is killed (-9, a real process); the rerun, in this process (the views it
    would refresh are not looked at), cleans up after it and says so."""
    src = generated(3000)
    killed = tmp_path / "killed"
    proc = run_cdr(
        "--warehouse", str(killed), "ingest", str(src), env={"CDR_FAULT_KILL_AFTER_MERGES": "3"}
    )
    assert proc.returncode == -9, proc.stderr
    # partitions were merged into new files, but nothing is committed: readers see nothing
    assert table(killed).height == 0
    assert len(unlisted_files(killed)) >= 3
    rerun = load(killed, src)
    assert rerun.exit_code == 0, rerun.files
    assert "interrupted" in (rerun.interrupted_note() or "")  # `cdr ingest` prints it
    clean = tmp_path / "clean"
    load(clean, src)
    assert table(killed).equals(table(clean))
    assert table(killed)["report_id"].is_unique().all()
    runs = Ledger(Layout(killed)).runs()
    assert runs["status"].to_list() == ["interrupted", "ok"]
    assert unlisted_files(killed) == []  # the dead run's uncommitted files are gone


def test_kill_9_between_two_table_commits_then_rerun_equals_a_clean_run(
    tmp_path: Path, generated: Callable[..., Path]
) -> None:
    """One run loads calls and device snapshots; it dies right after committing the first
    table. The committed table keeps its rows, the other gets nothing; the file of the
    uncommitted table no longer counts as loaded, so the rerun (in this process: the views
    it would refresh are not looked at) loads it (and only it)."""
    calls = generated(2000)
    devices = ROOT / "data" / "samples" / "device_snapshots.csv"
    killed = tmp_path / "killed"
    proc = run_cdr(
        "--warehouse", str(killed), "ingest", str(calls), str(devices),
        env={"CDR_FAULT_KILL_AT": "commit"},
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert table(killed).height == 2000  # call_legs committed first
    assert table(killed, "device_snapshots").height == 0
    rerun = load(killed, calls, devices)
    assert rerun.exit_code == 0, rerun.files
    clean = tmp_path / "clean"
    load(clean, calls, devices)
    for name in ("call_legs", "device_snapshots"):
        assert table(killed, name).equals(table(clean, name)), name
        assert unlisted_files(killed, name) == []
    files = Ledger(Layout(killed)).files()
    second = files.filter(pl.col("run_id") == files["run_id"][-1])
    # the calls file is skipped (already loaded, not recorded again); the devices file loads
    # the calls file, committed by the killed run, is skipped (and listed so); the snapshots
    # file, which that run never committed, loads
    assert sorted(second.select("table_name", "status").rows(), key=str) == [
        ("device_snapshots", "loaded"),
        (None, "skipped"),
    ]
    first = files.filter(pl.col("run_id") == files["run_id"][0])
    assert first["status"].to_list() == ["loaded", "interrupted"]
    # the killed run's row names the version it committed and counts the rows it holds
    runs = Ledger(Layout(killed)).runs()
    dead = runs.filter(pl.col("run_id") == files["run_id"][0]).row(0, named=True)
    assert dead["status"] == "interrupted"
    assert (dead["table_versions"], dead["files_loaded"], dead["rows_loaded"]) == (
        "call_legs=0",
        1,
        2000,
    )
    # "committed call_legs=0" read as no rows committed: it names the versions as versions
    # and the rows they hold
    assert dead["message"].endswith(
        "it had committed table versions call_legs=0 (1 file(s), 2,000 rows loaded)"
    )


def test_a_run_failing_between_two_table_commits_records_what_it_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generated: Callable[..., Path]
) -> None:
    """The disk fills after the first table's commit: the run fails (exit 6), and its row
    names the version it did commit and counts only the rows that version holds."""
    import errno

    from cdr_pipeline.config import Settings
    from cdr_pipeline.errors import WarehouseUnwritable
    from cdr_pipeline.ingest import faults, ingest_paths

    def full_disk(name: str) -> None:
        if name == "commit":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faults, "point", full_disk)
    calls = generated(500)
    devices = ROOT / "data" / "samples" / "device_snapshots.csv"
    wh = tmp_path / "wh"
    with pytest.raises(WarehouseUnwritable):
        ingest_paths(Settings(warehouse=wh), [calls, devices])
    run = Ledger(Layout(wh)).runs().row(-1, named=True)
    assert (run["status"], run["exit_code"]) == ("failed", 6)
    assert (run["table_versions"], run["files_loaded"], run["rows_loaded"]) == (
        "call_legs=0",
        1,
        500,
    )
    assert table(wh).height == 500 and table(wh, "device_snapshots").height == 0
