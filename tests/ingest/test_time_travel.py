"""`--as-of` at the edges: a moment before anything was loaded or in the future is refused
(exit 3) instead of answering with empty or still-changing figures and exit 0; the finance
outputs honour it, and a command that cannot answer as of a moment says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from tests.ingest.helpers import fixture, load


def _cdr(wh: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--warehouse", str(wh), *args])


def test_as_of_before_the_first_commit_or_in_the_future_exits_3(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"))
    assert _cdr(wh, "build").exit_code == 0
    early = _cdr(wh, "report", "hourly-volume", "--as-of", "2001-01-01")
    assert early.exit_code == 3, early.output
    assert "nothing had been loaded into the warehouse yet" in early.output
    assert "the first commit was at" in early.output
    # a local time written without its zone reads as UTC: ahead of UTC it is in the future
    ahead = (datetime.now(UTC) + timedelta(hours=2)).replace(tzinfo=None).isoformat()
    late = _cdr(wh, "report", "hourly-volume", "--as-of", ahead)
    assert late.exit_code == 3 and "is in the future" in late.output, late.output
    now = _cdr(wh, "report", "hourly-volume", "--as-of", datetime.now(UTC).isoformat())
    assert now.exit_code == 0, now.output
