"""A lock path that is a folder (made by hand, "cleaning up" a lock after a crash) is named,
exit 6, with what to do: every writer ended "unexpected IsADirectoryError ... report it",
exit 1, the nightly included, each night."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.errors import EXIT_ENVIRONMENT
from tests.ingest.helpers import fixture

CLEAN_ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def test_a_lock_that_is_a_folder_is_named_not_a_bug(tmp_path: Path) -> None:
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    inbox.mkdir()
    (wh / "state" / "writer.lock").mkdir(parents=True)
    ingest = ["--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv"))]
    run = CliRunner().invoke(cli, ingest, env=CLEAN_ENV)
    assert run.exit_code == EXIT_ENVIRONMENT, run.output
    lock = wh / "state" / "writer.lock"
    assert f"the lock {lock} is a folder, not a file" in run.output
    assert f"rmdir {lock}" in run.output and "unexpected" not in run.output
    lock.rmdir()
    (wh / "state" / "nightly.lock").mkdir()
    night = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox)]
    run = CliRunner().invoke(cli, night, env=CLEAN_ENV)
    assert run.exit_code == EXIT_ENVIRONMENT, run.output
    assert "nightly.lock is a folder, not a file" in run.stdout.splitlines()[-1]
    (wh / "state" / "nightly.lock").rmdir()
    assert CliRunner().invoke(cli, ingest, env=CLEAN_ENV).exit_code == 0


def test_a_lock_that_is_a_pipe_or_a_device_is_named_not_a_bug(tmp_path: Path) -> None:
    """A lock linked to /dev/null ("so it never blocks") or a named pipe in its place:
    every writer ended "unexpected OSError: [Errno 22] Invalid argument ... report it",
    exit 1 (the lock's line cannot be emptied on a device), or hung opening the pipe."""
    import os

    wh = tmp_path / "wh"
    lock = wh / "state" / "writer.lock"
    lock.parent.mkdir(parents=True)
    ingest = ["--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv"))]
    for make, kind in (
        (lambda: lock.symlink_to(os.devnull), "a device"),
        (lambda: os.mkfifo(lock), "a named pipe"),
    ):
        make()
        run = CliRunner().invoke(cli, ingest, env=CLEAN_ENV)
        assert run.exit_code == EXIT_ENVIRONMENT, run.output
        assert f"the lock {lock} is {kind}, not a file" in run.output
        assert f"rm {lock}" in run.output and "unexpected" not in run.output
        lock.unlink()
    assert CliRunner().invoke(cli, ingest, env=CLEAN_ENV).exit_code == 0


def test_runs_does_not_hang_on_a_lock_that_is_a_named_pipe(tmp_path: Path) -> None:
    """`cdr runs` read the holder's line of each lock: a named pipe in the place of
    nightly.lock blocked that read forever, so the morning's monitoring check hung."""
    import os
    import subprocess
    import sys

    wh = tmp_path / "wh"
    run = CliRunner().invoke(
        cli, ["--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv"))], env=CLEAN_ENV
    )
    assert run.exit_code == 0, run.output
    os.mkfifo(wh / "state" / "nightly.lock")
    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", "--warehouse", str(wh), "runs", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **CLEAN_ENV},
    )
    assert done.returncode == 0, done.stderr
    assert '"status": "ok"' in done.stdout
