"""A writer that waits for the lock (`--wait-lock`, 600 s in the shipped unit and cron line)
says so: a nightly waiting for a long manual ingest logged nothing for up to ten minutes,
so its log could not tell a wait from a hang."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.state.lock import writer_lock


def test_a_writer_waiting_for_the_lock_logs_who_holds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = Settings(warehouse=tmp_path / "wh").layout
    got: list[float] = []

    def second() -> None:
        with writer_lock(layout, "cdr nightly", wait_seconds=30):
            got.append(time.monotonic())

    with caplog.at_level(logging.INFO, logger="cdr_pipeline.state.lock"):
        with writer_lock(layout, "cdr ingest"):
            waiter = threading.Thread(target=second)
            waiter.start()
            time.sleep(0.6)
            assert not got  # still waiting
        waiter.join(timeout=10)
    assert got
    line, got_it = [r.getMessage() for r in caplog.records if r.name == "cdr_pipeline.state.lock"]
    assert line.startswith("waiting up to 30 s for the warehouse lock")
    assert f"(pid {os.getpid()}, cdr ingest, since" in line
    # which machine: on a warehouse two of them share, a pid alone named no process
    assert line.endswith(f", on {socket.gethostname()})")
    # how long it waited: its ledger row starts once it has the lock
    assert re.fullmatch(r"got the warehouse lock after \d+ s", got_it)


def test_a_writer_that_gets_the_lock_at_once_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = Settings(warehouse=tmp_path / "wh").layout
    with (
        caplog.at_level(logging.INFO, logger="cdr_pipeline.state.lock"),
        writer_lock(layout, "cdr nightly", wait_seconds=30),
    ):
        pass
    assert not [r for r in caplog.records if r.name == "cdr_pipeline.state.lock"]


def test_a_night_that_waited_starts_in_the_ledger_when_it_got_the_lock(tmp_path: Path) -> None:
    """docs/operations.md: `started` in `cdr runs` is when the night got the lock, so that
    `took` is its work, not a manual ingest's; the run id keeps its launch time."""
    from cdr_pipeline.batch import run_nightly
    from cdr_pipeline.state.ledger import Ledger

    settings = Settings(warehouse=tmp_path / "wh", lock_wait_seconds=30)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    released: list[datetime] = []

    def night() -> None:
        run_nightly(settings, inbox)

    with writer_lock(settings.layout, "cdr ingest (by hand)"):
        waiter = threading.Thread(target=night)
        waiter.start()
        time.sleep(1.5)
        released.append(datetime.now(UTC))
    waiter.join(timeout=120)
    (row,) = Ledger(settings.layout).runs().to_dicts()
    assert row["status"] == "ok"
    assert row["started_at"] >= released[0]
    launched = datetime.strptime(row["run_id"][:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    assert launched < released[0] - timedelta(seconds=1)


def test_a_lock_line_of_another_machine_is_not_taken_for_a_process_here(tmp_path: Path) -> None:
    """A writer on another machine sharing the warehouse (NFS) names its own pid: looked
    up here it named whatever process has that number on this machine."""
    from cdr_pipeline.state.lock import running_writer

    layout = Settings(warehouse=tmp_path / "wh").layout
    layout.lock_file().parent.mkdir(parents=True)
    here = f"pid {os.getpid()}, cdr ingest, since 2026-12-05T02:30:00Z"
    layout.lock_file().write_text(f"{here}, on {socket.gethostname()}\n")
    opened = os.open(layout.lock_file(), os.O_RDONLY)  # as its holder has it open
    try:
        assert running_writer(layout) == f"{here}, on {socket.gethostname()}"
        layout.lock_file().write_text(f"{here}, on {socket.gethostname()}-standby\n")
        assert running_writer(layout) is None
        layout.lock_file().write_text(f"{here}\n")  # written by a version before the host
        assert running_writer(layout) == here
    finally:
        os.close(opened)
