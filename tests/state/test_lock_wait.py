"""A writer that waits for the lock (`--wait-lock`, 600 s in the shipped unit and cron line)
says so: a nightly waiting for a long manual ingest logged nothing for up to ten minutes,
so its log could not tell a wait from a hang."""

from __future__ import annotations

import logging
import os
import threading
import time
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
    (line,) = [r.getMessage() for r in caplog.records if r.name == "cdr_pipeline.state.lock"]
    assert line.startswith("waiting up to 30 s for the warehouse lock")
    assert f"(pid {os.getpid()}, cdr ingest, since" in line


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
