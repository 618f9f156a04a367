"""`-q` ("only errors"): a cron job running `cdr -q ...` gets nothing on stderr when all
went well, and still the whole error (message, hint, warehouse) when something failed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from tests.ingest.helpers import FIXTURES

EXPORT = FIXTURES / "bom_crlf.csv"
CLEAN_ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=CLEAN_ENV)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    wh = tmp_path / "wh"
    assert invoke("--warehouse", str(wh), "-q", "ingest", str(EXPORT)).exit_code == 0
    return wh


@pytest.mark.parametrize(
    "command",
    [
        ["vacuum"],
        ["vacuum", "--dry-run"],
        ["report", "restatements"],
        ["ingest", str(EXPORT)],  # loaded before: a note says it was skipped
    ],
)
def test_quiet_prints_no_summary_or_note_on_stderr(command: list[str], warehouse: Path) -> None:
    run = invoke("--warehouse", str(warehouse), "-q", *command)
    assert run.exit_code == 0, run.output
    assert run.stderr == ""


def test_quiet_samples_prints_no_summary(tmp_path: Path) -> None:
    run = invoke("-q", "samples", "--rows", "200", "--days", "6", "--out", str(tmp_path / "s"))
    assert run.exit_code == 0, run.output
    assert run.stderr == ""


def test_quiet_keeps_the_whole_error(warehouse: Path) -> None:
    run = invoke("--warehouse", str(warehouse), "-q", "report", "nosuch")
    assert run.exit_code == 2
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error: unknown report 'nosuch'")
    assert lines[1].startswith("hint: ")
    assert lines[2] == f"warehouse: {warehouse} (from --warehouse)"


def test_quiet_keeps_warnings(tmp_path: Path) -> None:
    """-q leaves out progress, notes and summaries, never a warning (README: "nothing on
    stderr but errors ... and warnings"): a set that runs into today says so under -q too."""
    today = date.today().isoformat()
    out = str(tmp_path / "s")
    run = invoke("-q", "samples", "--rows", "200", "--days", "6", "--start", today, "--out", out)
    assert run.exit_code == 0, run.output
    assert "today or later" in run.stderr
    assert "legs" not in run.stderr  # the summary stays out


def test_quiet_with_log_json_keeps_only_warnings_and_errors(tmp_path: Path) -> None:
    """--log-json raises the level to info so that the per-file lines are logged; -q beside
    it still means errors and warnings only (README, "Command line")."""
    out = str(tmp_path / "s")
    run = invoke("--log-json", "-q", "samples", "--rows", "200", "--days", "6", "--out", out)
    assert run.exit_code == 0, run.output
    assert run.stderr == ""
