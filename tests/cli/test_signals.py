"""Ctrl-C and SIGTERM (`systemctl stop`, the unit's timeout, a shutdown) stop a command
cleanly: exit 130, the run recorded `interrupted`, nothing staged left behind, and a rerun
equals a clean run. Real processes and signals (`python -m cdr_pipeline`), no mocks."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.cli.context import STDERR, configure_logging, log_now
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.seen import runs_seen
from tests.batch.helpers import cdr_here
from tests.ingest.helpers import ROOT, run_cdr, table


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "calls.csv"
    write_call_export(path, legs=20_000, seed=3, start=date(2026, 9, 1), days=20)
    return path


@pytest.fixture(scope="module")
def built_export(tmp_path_factory: pytest.TempPathFactory, export: Path) -> Path:
    """A warehouse of `export` loaded by `cdr ingest` (in this process), views built: the
    stopped builds' start, which each copies (a build writes). Read it only."""
    wh = tmp_path_factory.mktemp("built_export") / "wh"
    loaded = cdr_here("--warehouse", str(wh), "-q", "ingest", str(export))
    assert loaded.exit_code == 0, loaded.output
    return wh


def _stop_when(
    args: list[str],
    ready: Callable[[], bool],
    signum: int,
    env: dict[str, str] | None = None,
    times: int = 1,
) -> subprocess.CompletedProcess[str]:
    """Run `cdr ARGS`, send `signum` (`times` over) as soon as `ready()`, and wait for it to
    end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdr_pipeline", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # a crash prints every thread's stack (a stop raised mid-`submit` once left a writer
        # thread running under a closed Parquet writer: SIGSEGV)
        env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})},
    )
    deadline = time.monotonic() + 120
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the command ended before the moment to stop it"
    for n in range(times):
        time.sleep(0.05 if n else 0)
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# SIGHUP: the terminal (an ssh session) of a run started by hand closed; Python's default
# ended it at once, exit 129 (no documented code), no log line, the run left `running`
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stopped_ingest_exits_130_recorded_interrupted(
    tmp_path: Path, export: Path, signum: int
) -> None:
    """SIGTERM ended the process on the spot (exit -15): the ledger said `running` until the
    next writer, and the staged files stayed. Sent as the first staged file appears: the
    moment the stager starts its writer threads, where a stop once crashed it (SIGSEGV)."""
    wh = tmp_path / "wh"
    staging = Layout(wh).staging

    def staging_rows() -> bool:
        return staging.is_dir() and any(p.is_file() for p in staging.rglob("*"))

    args = ["--warehouse", str(wh), "ingest", str(export)]
    stopped = _stop_when(args, staging_rows, signum, env={"CDR_CHUNK_ROWS": "500"})
    assert stopped.returncode == 130, stopped.stderr
    word = (
        "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    )
    assert word in stopped.stderr and "unexpected" not in stopped.stderr
    runs = Ledger(Layout(wh)).runs()
    assert runs.select("status", "exit_code").rows() == [("interrupted", 130)]
    # the row names the stop among those it may have been (it said Ctrl-C or SIGTERM)
    named = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    assert named in runs["message"][0]
    assert not staging.exists() or not any(staging.iterdir())
    # the rerun (in this process, and without the views' build `cdr ingest` adds: only its
    # tables are read) loads the whole export
    assert ingest_paths(Settings(warehouse=wh), [export]).exit_code == 0
    assert table(wh).height == 20_000


def test_a_nightly_stopped_at_once_still_ends_both_logs(tmp_path: Path, export: Path) -> None:
    """A second Ctrl-C ends `cdr` at once (as kill -9 would). It wrote one plain line to
    stderr and nothing to stdout: the summary log's tail still read the night before's
    `exit 0`, and the JSON log got a line that is not JSON and no closing exit code."""
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(export, inbox / export.name)
    staging = Layout(wh).staging

    def staging_rows() -> bool:  # inside the ingest's deferred stop: the first one waits
        return staging.is_dir() and any(p.is_file() for p in staging.rglob("*"))

    args = ["--warehouse", str(wh), "--log-json", "nightly", "--inbox", str(inbox)]
    args += ["--run-date", "2026-11-10"]
    stopped = _stop_when(args, staging_rows, signal.SIGINT, {"CDR_CHUNK_ROWS": "500"}, times=2)
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.stdout == (
        "cdr nightly 2026-11-10: exit 130 (interrupted: stopped at once; the next run clears "
        "what this one left)\n"
    )
    lines = [json.loads(line) for line in stopped.stderr.splitlines()]  # each one JSON
    assert "stopped at once" in lines[-2]["message"]
    assert lines[-1]["message"].startswith("cdr nightly finished: exit 130 in ")
    assert lines[-1]["exit_code"] == 130
    assert runs_seen(Ledger(Layout(wh)))["exit_code"].to_list() == [130]


def test_a_line_written_at_once_starts_a_line_of_its_own(capfd: pytest.CaptureFixture[str]) -> None:
    """The lines of a second Ctrl-C go straight to stderr: on a terminal, after the progress
    line of a file (`... 12,000 rows 40%`), on a line of their own as any log line."""
    configure_logging(0, False)
    STDERR.open_line = True
    try:
        log_now(logging.getLogger("cdr_pipeline.cli"), logging.WARNING, "stopped at once")
    finally:
        STDERR.open_line = False
    assert capfd.readouterr().err == "\nWARNING cdr_pipeline.cli: stopped at once\n"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_build_exits_130_not_as_a_bug(
    tmp_path: Path, built_export: Path, signum: int
) -> None:
    """DuckDB turns the interrupt of a query into `RuntimeError: Query interrupted` (exit 1,
    "report it"), or a later statement into a failed-view error (exit 3)."""
    wh = tmp_path / "wh"
    shutil.copytree(built_export, wh)  # what `cdr ingest` of the export left, built
    before = (wh / "cdr.duckdb").read_bytes()

    def building() -> bool:
        return any(wh.glob(".cdr.duckdb.tmp-*[0-9a-f]"))

    stopped = _stop_when(["--warehouse", str(wh), "build", "--full"], building, signum)
    assert stopped.returncode == 130, stopped.stderr
    assert "unexpected" not in stopped.stderr and "does not build" not in stopped.stderr
    assert (wh / "cdr.duckdb").read_bytes() == before  # the previous file stays in place
    assert not any(wh.glob(".cdr.duckdb.tmp-*"))


def test_a_nightly_stopped_in_its_reports_reads_interrupted(tmp_path: Path) -> None:
    """`systemctl stop` while the nightly wrote its reports (or closed a month, or built:
    DuckDB queries) exited 130, but the night's ledger row read `failed`, exit 1,
    "unexpected error": DuckDB's own error for the interrupt ("Query interrupted") reached
    the night as a bug."""
    # SIGTERM alone (what `systemctl stop` sends; a whole night costs ~15 s of a worker):
    # Ctrl-C reaches DuckDB's interrupt by the same handler, which the build's test sends
    signum = signal.SIGTERM
    wh = tmp_path / "wh"
    inbox = tmp_path / "inbox"
    shutil.copytree(ROOT / "data" / "samples", inbox)  # the licence reports: long queries

    seen: list[float] = []

    def reporting() -> bool:  # a while into the reports: a query of one of them running
        if not seen and any((wh / "reports").glob(".*.tmp")):
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() > seen[0] + 0.3

    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-10"]
    stopped = _stop_when(args, reporting, signum)
    assert stopped.returncode == 130, stopped.stderr
    assert "unexpected" not in stopped.stderr
    assert "cdr nightly 2026-11-10: exit 130 (interrupted" in stopped.stdout
    runs = Ledger(Layout(wh)).runs()
    assert runs.select("command", "status", "exit_code").rows() == [
        ("cdr nightly", "interrupted", 130)
    ]
    assert "unexpected" not in str(runs["message"][0])
    rerun = cdr_here(*args)  # the night after, in this process: not the one stopped
    assert rerun.exit_code == 0, rerun.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_cdr_starts_exits_130_and_says_so(tmp_path: Path, signum: int) -> None:
    """A stop while `cdr` imported its commands (a second or more; a shutdown at the timer's
    hour): SIGTERM ended it by Python's default, exit 143, nothing in either log; Ctrl-C
    printed the traceback of an import. Sent once `click` is imported (`-X importtime`
    names each module on stderr as it is done), long before the handlers were installed."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    args = ["--warehouse", str(tmp_path / "wh"), "--log-json", "nightly", "--inbox", str(inbox)]
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "cdr_pipeline", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.split("|")[-1].strip() == "click":
            proc.send_signal(signum)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    word = (
        "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    )
    assert f'"message": "{word}"' in err
    assert '"message": "cdr nightly finished: exit 130' in err
    assert out.splitlines()[-1].endswith(
        ": exit 130 (interrupted: run it again to complete the work)"
    )
    assert not (tmp_path / "wh").exists()  # stopped before it began


def test_a_wrong_flag_in_the_unit_ends_the_summary_log_too(tmp_path: Path) -> None:
    """Every night ends the summary log (stdout) with its line: a usage error did not, so
    its tail showed the night before's `exit 0`."""
    run = run_cdr("--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", "x", "--retain")
    assert run.returncode == 2
    assert run.stdout.splitlines()[-1].endswith(": exit 2 (usage error: see cdr nightly --help)")
    assert "No such option" in run.stderr
