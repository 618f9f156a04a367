"""A command started with its stderr closed (`2>&-` in a cron line, a daemon that closed
it) runs as with stderr on /dev/null: its log lines are dropped, its exit code is its
work's. A real process, since the closed descriptor is the point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import FIXTURES, ROOT


def test_a_closed_stderr_does_not_turn_a_run_into_exit_1(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    args = ["--warehouse", str(wh), "ingest", str(FIXTURES / "not_dch.csv")]
    run = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "cdr_pipeline", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
        cwd=ROOT,
        timeout=600,
    )
    # it was exit 1, "unexpected AttributeError" ('NoneType' object has no attribute
    # 'isatty'), told to nobody, before the file was read; a file that is no export (no
    # build to wait for) is the run's own exit 3, named in the table on stdout
    assert run.returncode == 3, run.stdout
    assert "not_dch.csv" in run.stdout and "failed" in run.stdout
    runs = Ledger(Layout(wh)).runs()
    assert [(r["status"], r["exit_code"]) for r in runs.to_dicts()] == [("failed", 3)]


def test_a_stderr_that_takes_no_write_exits_6_saying_so_on_stdout(tmp_path: Path) -> None:
    """`cdr --log-json nightly ... 2>> nightly.jsonl` with that disk full (here /dev/full,
    which fails every write with ENOSPC) lost every log line, error lines included, and
    exited 3 (or 0) as if they had been written. It exits 6, a write the machine did not
    take (docs/operations.md), and its stdout (the summary log) says so and gives the
    run's own exit code."""
    wh = tmp_path / "wh"
    args = ["--log-json", "--warehouse", str(wh), "ingest", str(FIXTURES / "not_dch.csv")]
    run = _with_stderr_full(args)
    assert run.returncode == 6, run.stdout
    assert "not_dch.csv" in run.stdout  # the table, written before the log was found lost
    assert "the log (stderr) could not be written (No space left on device)" in run.stdout
    assert "the command itself ended with exit 3" in run.stdout
    runs = Ledger(Layout(wh)).runs()
    assert [(r["status"], r["exit_code"]) for r in runs.to_dicts()] == [("failed", 3)]
    # with --json, stdout is the JSON document alone (a line after it failed `jq`): the
    # exit code says the log was lost
    run = _with_stderr_full([*args, "--json"])
    assert run.returncode == 6, run.stdout
    assert json.loads(run.stdout)["files"][0]["exit_code"] == 3


def _with_stderr_full(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`cdr ARGS` with its stderr on /dev/full, which fails every write with ENOSPC."""
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "cdr_pipeline", *args],
            stdout=subprocess.PIPE,
            stderr=full,
            text=True,
            env=os.environ,
            cwd=ROOT,
            timeout=600,
        )
