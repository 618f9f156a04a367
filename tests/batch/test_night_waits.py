"""A night waiting for a lock (`--wait-lock`) is a run of the ledger from the start of its
wait, `waiting`; killed there (kill -9, the OOM killer) it reads `interrupted`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.cli import ingest as cli_ingest
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import LockBusy
from cdr_pipeline.ingest import recover
from cdr_pipeline.ingest.recover import recover_dead, recover_interrupted
from cdr_pipeline.state import waits
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_record
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.waits import WaitMark
from tests.batch.helpers import cdr_here
from tests.ingest.helpers import ROOT


def _warehouse(tmp: Path, wait: float = 0.0) -> tuple[Settings, Path]:
    """A warehouse whose ledger holds the night before's `ok`, and an empty inbox."""
    settings = Settings(warehouse=tmp / "wh", lock_wait_seconds=wait)
    before = run_record("night-0", "cdr nightly", status="ok", exit_code=0)
    Ledger(settings.layout).write("runs", "night-0", [before], RUNS_SCHEMA)
    inbox = tmp / "inbox"
    inbox.mkdir()
    return settings, inbox


def _runs(settings: Settings) -> list[dict[str, Any]]:
    """`cdr runs --json`, as a monitoring check reads it."""
    result = cdr_here("--warehouse", str(settings.warehouse), "runs", "--json")
    assert result.exit_code == 0, result.output
    runs: list[dict[str, Any]] = json.loads(result.stdout)
    return runs


def _tonight(settings: Settings, timeout: float) -> dict[str, Any] | None:
    """The ledger's row of tonight's night once it has one (None after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = Ledger(settings.layout).runs().to_dicts()
        if len(rows) > 1:
            return rows[-1]
        time.sleep(0.05)
    return None


def test_a_night_waiting_for_the_lock_is_a_run_waiting_until_it_ends(tmp_path: Path) -> None:
    """A night waiting for another night's lock had no row until its wait ended: `cdr runs`
    showed the night before's `ok` as the latest. It reads `waiting` (no exit code yet),
    the holder's recovery does not take it for a night that died, and its end replaces it
    (here `locked`: the lock still held after its --wait-lock)."""
    settings, inbox = _warehouse(tmp_path, wait=2)
    refused: list[LockBusy] = []

    def night() -> None:
        try:
            run_nightly(settings, inbox, run_date=date(2026, 11, 4))
        except LockBusy as exc:
            refused.append(exc)

    with writer_lock(settings.layout, "cdr nightly (the night before)", name="nightly.lock"):
        waiter = threading.Thread(target=night)
        waiter.start()
        row = _tonight(settings, timeout=1.5)
        assert row is not None, "no row while the night waits"
        assert (row["status"], row["exit_code"]) == ("waiting", None)
        assert "cdr nightly (the night before)" in row["message"]
        with writer_lock(settings.layout, "cdr nightly (the night before)"):
            assert recover_dead(settings.layout, Ledger(settings.layout)) == []
        assert [r["status"] for r in _runs(settings)] == ["ok", "waiting"]
        waiter.join(timeout=30)
    assert refused
    assert [(r["status"], r["exit_code"]) for r in _runs(settings)] == [("ok", 0), ("locked", 5)]


@pytest.mark.slow
def test_a_night_killed_while_it_waits_for_the_lock_is_a_run_that_says_so(
    tmp_path: Path,
) -> None:
    """A night killed with -9 (the OOM killer, a stop timeout's SIGKILL) while it waited in
    `--wait-lock` left no row: `cdr runs` showed the night before's `ok` as the latest
    night, the next morning and for good. Its `waiting` row reads `interrupted`, exit 130,
    as soon as its process is gone, and the next writer records it so."""
    settings, inbox = _warehouse(tmp_path)
    args = ["--warehouse", str(settings.warehouse), "nightly", "--inbox", str(inbox)]
    with writer_lock(settings.layout, "cdr nightly (the night before)", name="nightly.lock"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cdr_pipeline", *args, "--wait-lock", "120"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            row = _tonight(settings, timeout=60)
            assert row is not None and row["status"] == "waiting", row
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
        # while the night before still holds its lock: the dead night's own lock tells
        seen = _runs(settings)[-1]
        assert (seen["status"], seen["exit_code"]) == ("interrupted", 130)
        assert "the process ended while it waited (killed" in seen["message"]
        assert "waiting for the warehouse lock (" in seen["message"]
    assert recover_interrupted(settings, "cdr ingest") == [row["run_id"]]
    recorded = Ledger(settings.layout).runs().row(-1, named=True)
    assert (recorded["status"], recorded["exit_code"]) == ("interrupted", 130)
    assert not list((settings.layout.state / "waits").iterdir())  # its file removed


def _waiting_row(settings: Settings, run_id: str) -> None:
    row = run_record(run_id, "cdr nightly", status="waiting", message="waiting for (x)")
    Ledger(settings.layout).write("runs", run_id, [row], RUNS_SCHEMA)


def test_a_waiting_night_whose_file_was_removed_reads_interrupted(tmp_path: Path) -> None:
    """A `waiting` row whose file in `state/waits/` was deleted by hand (or the whole
    folder) read `waiting` in `cdr runs` for good, and no writer ever recorded it: only a
    file found unlocked counted as a night that died, and no process can hold a file that is
    not there. It reads `interrupted`, exit 130, and the next writer records it so; a night
    with a later row keeps it."""
    settings, _ = _warehouse(tmp_path)
    _waiting_row(settings, "night-1")
    _waiting_row(settings, "night-2")  # its end recorded after its file was removed
    done = run_record("night-2", "cdr nightly", status="ok", exit_code=0)
    Ledger(settings.layout).write("runs", "night-2", [done], RUNS_SCHEMA)
    (settings.layout.state / "waits").mkdir(parents=True)  # an empty folder, or none
    seen = {r["run_id"]: r for r in _runs(settings)}
    assert (seen["night-1"]["status"], seen["night-1"]["exit_code"]) == ("interrupted", 130)
    assert "or its file in state/waits was removed" in seen["night-1"]["message"]
    assert (seen["night-2"]["status"], seen["night-2"]["exit_code"]) == ("ok", 0)
    assert recover_interrupted(settings, "cdr ingest") == ["night-1"]
    recorded = {r["run_id"]: r for r in Ledger(settings.layout).runs().to_dicts()}
    assert (recorded["night-1"]["status"], recorded["night-1"]["exit_code"]) == (
        "interrupted",
        130,
    )
    assert recorded["night-2"]["status"] == "ok"


def test_a_live_waiter_is_never_taken_for_a_night_whose_file_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait files are listed before the rows are read; a night that starts its wait in
    between (its file locked after the listing, its row written before the read) is alive:
    neither `cdr runs` nor the next writer may call it dead because the listing missed its
    file. Here the night takes its file and writes its row right after each listing."""
    settings, _ = _warehouse(tmp_path)
    marks: list[WaitMark] = []
    listed = waits.gone_waits

    def listing_then_a_night_starts(layout: Layout) -> set[str]:
        gone = listed(layout)
        mark = WaitMark(layout, f"night-{len(marks) + 1}")
        assert mark.take()
        marks.append(mark)
        _waiting_row(settings, mark.run_id)
        return gone

    monkeypatch.setattr(recover, "gone_waits", listing_then_a_night_starts)
    monkeypatch.setattr(cli_ingest, "gone_waits", listing_then_a_night_starts)
    try:
        assert [r["status"] for r in _runs(settings)] == ["ok", "waiting"]
        assert recover_interrupted(settings, "cdr ingest") == []
        assert [r["status"] for r in _runs(settings)] == ["ok", "waiting", "waiting", "waiting"]
    finally:
        for mark in marks:
            mark.release()
