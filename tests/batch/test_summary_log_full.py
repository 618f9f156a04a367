"""The nightly's stdout is its summary log (`/var/log/cdr/nightly-summary.log`): a full or
capped disk there is named as such, never blamed on the warehouse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import writer_lock
from tests.cli.test_full_stdout import to_full_stdout


def _night(args: list[str]) -> subprocess.CompletedProcess[str]:
    return to_full_stdout(["--log-json", *args])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_summary_log_names_the_standard_output(tmp_path: Path) -> None:
    """/var/log full: the night did its work (`cdr runs`: exit 0), then its table could not
    be written. It said "no space left writing WAREHOUSE ... df -h WAREHOUSE", the wrong
    disk to free, and exited 120 (Python's flush at exit failed once more, "Exception
    ignored"), a code no table documents, where the cron line's mail says "failed with
    exit 120". It is exit 6 naming the standard output, with the night's own exit code."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wh = tmp_path / "wh"
    done = _night(["--warehouse", str(wh), "nightly", "--inbox", str(inbox)])
    assert done.returncode == 6, done.stderr
    records = [json.loads(ln) for ln in done.stderr.splitlines() if ln.strip()]
    (error,) = [r for r in records if r["level"] == "error"]
    assert error["message"].startswith("no space left writing the standard output"), error
    assert "the night itself ended with exit 0" in error["message"], error
    assert str(wh) not in error["message"].split("(warehouse:")[0], error
    assert "Exception ignored" not in done.stderr
    assert Ledger(Layout(wh)).runs()["exit_code"].to_list() == [0]

    # a night stopped before its table (the lock) keeps its own error and exit code
    with writer_lock(Layout(wh), "cdr nightly (the first run)", name="nightly.lock"):
        held = _night(["--warehouse", str(wh), "nightly", "--inbox", str(inbox)])
    assert held.returncode == 5, held.stderr
    assert "the first run" in held.stderr and "Exception ignored" not in held.stderr
