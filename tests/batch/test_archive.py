"""`cdr nightly --archive`: a re-sent file (content loaded before) leaves the inbox like a
new one and is listed as skipped in the ledger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from tests.ingest.helpers import fixture

ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def nightly(wh: Path, inbox: Path, archive: Path | None) -> Result:
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-03"]
    if archive is not None:
        args += ["--archive", str(archive)]
    return CliRunner().invoke(cli, args, env=ENV)


def test_resent_file_is_archived_and_listed_as_skipped(tmp_path: Path) -> None:
    wh, inbox, archive = tmp_path / "wh", tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "first.csv")
    run = nightly(wh, inbox, archive)
    assert run.exit_code == 0, run.output
    assert (archive / "first.csv").is_file() and not any(inbox.iterdir())

    # the same content again, under another name and in a sub-folder
    (inbox / "resent").mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "resent" / "again.csv")
    run = nightly(wh, inbox, archive)
    assert run.exit_code == 0, run.output
    assert (archive / "resent" / "again.csv").is_file()
    assert not (inbox / "resent" / "again.csv").exists()

    files = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--files", "--json"], env=ENV)
    rows = json.loads(files.output)
    again = [r for r in rows if r["source"].endswith("again.csv")]
    assert [r["status"] for r in again] == ["skipped"]
    assert again[0]["rows_loaded"] == 0


def test_without_archive_a_resent_file_adds_no_run(tmp_path: Path) -> None:
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "first.csv")
    assert nightly(wh, inbox, None).exit_code == 0
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"], env=ENV)
    before = len(json.loads(runs.output))
    run = nightly(wh, inbox, None)
    assert run.exit_code == 0 and "nothing new in the inbox" in run.output
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"], env=ENV)
    assert len(json.loads(runs.output)) == before
    assert (inbox / "first.csv").is_file()
