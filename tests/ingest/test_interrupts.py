"""A stop (Ctrl-C, SIGTERM) during an ingest is raised at a checkpoint, never at whatever
bytecode the main thread runs: raised inside `ThreadPoolExecutor.submit` it left a writer
thread nobody waited for, and the process died of SIGSEGV. Real signals sent to this
process, a real ingest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline import interrupts
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.results import ProgressEvent
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import ROOT, settings, table


@pytest.fixture(autouse=True)
def _no_stop_left() -> Iterator[None]:
    """Each test starts and ends with no stop remembered: the CLI run in this process later
    would take one for its own (exit 130 instead of its error's code)."""
    interrupts.reset()
    yield
    interrupts.reset()


def _stop_self(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)  # handled before the next bytecode of the main thread


def test_inside_deferred_a_stop_waits_for_the_checkpoint() -> None:
    # what this process had (a Spark test run earlier in this pytest worker leaves pyspark's
    # own Ctrl-C handler in place of Python's default one)
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _stop_self()
        reached.append("after the signal")  # not raised here
        assert interrupts.pending()
        interrupts.checkpoint()
        reached.append("after the checkpoint")
    assert reached == ["after the signal"]
    assert not interrupts.pending()
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_leaving_the_block_raises_a_stop_still_waiting() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _stop_self()
    assert not interrupts.pending()


def test_a_commit_block_leaves_the_stop_to_the_next_checkpoint() -> None:
    with interrupts.deferred(raise_at_end=False):
        _stop_self()
    assert interrupts.pending()  # the commit counted as done; the caller stops next
    with pytest.raises(KeyboardInterrupt):
        interrupts.checkpoint()


def test_an_error_ending_the_block_carries_the_stop() -> None:
    with pytest.raises(ValueError), interrupts.deferred():
        _stop_self()
        raise ValueError("the block failed")
    assert not interrupts.pending()  # no stray stop for the next run of this process
    interrupts.checkpoint()


def test_sigterm_left_to_its_default_is_not_taken_over() -> None:
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with interrupts.deferred():
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler


def test_a_stop_mid_ingest_is_raised_at_a_checkpoint(tmp_path: Path) -> None:
    """The stop comes while the first chunks are staged; it surfaces in `checkpoint`, the
    run is recorded `interrupted`, nothing is staged or loaded, and a rerun loads it all."""
    export = tmp_path / "calls.csv"
    write_call_export(export, legs=6_000, seed=5, start=date(2026, 9, 1), days=10)
    wh = tmp_path / "wh"
    cfg = settings(wh, chunk_rows=500)
    sent = []

    def progress(event: ProgressEvent) -> None:
        if event.rows_read >= 1_500 and not sent:
            sent.append(event.rows_read)
            _stop_self()

    with pytest.raises(KeyboardInterrupt) as stopped:
        ingest_paths(cfg, [export], progress=progress)
    assert sent, "the ingest ended before the moment to stop it"
    where = traceback.extract_tb(stopped.value.__traceback__)[-1]
    assert (Path(where.filename).name, where.name) == ("interrupts.py", "checkpoint")
    runs = Ledger(Layout(wh)).runs()
    assert runs.select("status", "exit_code").rows() == [("interrupted", 130)]
    assert not Layout(wh).staging.exists() or not any(Layout(wh).staging.rglob("*.parquet"))
    assert table(wh).is_empty()
    assert ingest_paths(cfg, [export]).exit_code == 0
    assert table(wh).height == 6_000


def test_a_second_ctrl_c_stops_at_once() -> None:
    """Asked twice, `cdr` stops without waiting for its checkpoint (as kill -9 would, which
    the warehouse survives); exit 130 and a message, not a traceback."""
    code = (
        "import os, signal, time\n"
        "from cdr_pipeline import interrupts\n"
        "interrupts.EXIT_ON_SECOND_STOP[0] = True\n"
        "with interrupts.deferred():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.2)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "    print('not stopped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 130, done.stderr
    assert "stopped at once" in done.stderr and "not stopped" not in done.stdout


def test_in_a_notebook_a_second_ctrl_c_raises_at_once() -> None:
    """A library caller's process (a notebook kernel) is not ended: the second stop raises
    KeyboardInterrupt where it lands, as Python does."""
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _stop_self()
        reached.append("first remembered")
        _stop_self()
        reached.append("second raised before this")
    assert reached == ["first remembered"]
    assert not interrupts.pending()


def test_a_command_counts_only_its_own_stops(tmp_path: Path) -> None:
    """A stop remembered by an earlier call in this process (a notebook cell) does not turn a
    later command's error into "interrupted" (exit 130 instead of 3)."""
    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _stop_self()
    assert interrupts.STOPPED_BY
    missing = tmp_path / "missing.csv"
    done = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "ingest", str(missing)])
    assert done.exit_code == 3, done.output


def test_a_run_stopped_before_its_commit_counts_nothing_loaded(tmp_path: Path) -> None:
    """The first file was merged (not committed) when the stop came during the second: the
    run's totals said 'loaded 3,000' while its file records, corrected by the recovery, and
    the table said nothing was."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_call_export(first, legs=3_000, seed=6, start=date(2026, 9, 1), days=5)
    write_call_export(second, legs=6_000, seed=7, start=date(2026, 9, 1), days=5)
    wh = tmp_path / "wh"
    sent = []

    def progress(event: ProgressEvent) -> None:
        if event.source == str(second) and event.rows_read >= 1_500 and not sent:
            sent.append(event.rows_read)
            _stop_self()

    with pytest.raises(KeyboardInterrupt):
        ingest_paths(settings(wh, chunk_rows=500), [first, second], progress=progress)
    assert sent, "the ingest ended before the moment to stop it"
    ledger = Ledger(Layout(wh))
    run = ledger.runs().row(0, named=True)
    assert (run["status"], run["files_loaded"], run["rows_loaded"]) == ("interrupted", 0, 0)
    assert run["rows_read"] >= 3_000  # what was read stays told
    assert ledger.files()["status"].to_list() == ["interrupted"]
    assert ledger.files()["webex_go_rows"].to_list() == [0]  # none of them loaded either
    assert table(wh).is_empty()
