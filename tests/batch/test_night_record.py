"""Every night is a run in the ledger: one that loads nothing, and one killed after its ingest
(reads `interrupted`, not the `ok` its ingest wrote: checked with its next night's validation
in test_nightly_recovery), while a night still running is never taken for one that died."""

from __future__ import annotations

import errno
import json
import shutil
import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.batch.night_record import NightRecord
from cdr_pipeline.batch.stages import NightlySummary
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import LockBusy, WarehouseUnwritable
from cdr_pipeline.ingest.recover import recover_dead
from cdr_pipeline.interrupts import Terminated
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_record
from cdr_pipeline.state.lock import live_run, writer_lock
from tests.batch.helpers import EXPORT, copy_of
from tests.ingest.helpers import fixture, run_cdr

SAMPLES = Path(__file__).parents[2] / "data" / "samples"


def _inbox(tmp: Path) -> Path:
    """An inbox of one call export of a few rows (what these nights load is not the point)."""
    inbox = tmp / "inbox"
    inbox.mkdir()
    shutil.copy(fixture(EXPORT), inbox)
    return inbox


def test_a_night_with_nothing_new_is_a_run(tmp_path: Path) -> None:
    """The second night finds only what the first loaded: it still shows in `cdr runs`, with
    what it saw and how it ended (it used to leave no trace)."""
    settings = Settings(warehouse=tmp_path / "wh")
    inbox = _inbox(tmp_path)
    first = run_nightly(settings, inbox, run_date=date(2026, 11, 3))
    second = run_nightly(settings, inbox, run_date=date(2026, 11, 4))
    assert first.exit_code == second.exit_code == 0
    runs = Ledger(settings.layout).runs()
    assert runs["command"].to_list() == ["cdr nightly", "cdr nightly"]
    last = runs.row(1, named=True)
    assert last["status"] == "ok" and last["exit_code"] == 0
    assert (last["files_seen"], last["files_skipped"], last["rows_loaded"]) == (1, 1, 0)
    assert last["finished_at"] >= last["started_at"]
    # the first night's row names the version its ingest committed
    assert runs["table_versions"][0] == "call_legs=0"
    # and each night the date it ran for (--run-date): a re-run of a past night is told
    assert runs["run_date"].to_list() == [date(2026, 11, 3), date(2026, 11, 4)]
    # the views read the ledger as of their build, the night's build stage: each night read
    # `running` there until the next build. The night's end shows in them too
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        ended = con.execute("select status, exit_code from ingest_runs order by started_at")
        assert ended.fetchall() == [("ok", 0), ("ok", 0)]
    finally:
        con.close()


def test_a_night_still_running_after_its_ingest_has_no_exit_code_yet(
    tmp_path: Path, night_killed_at_validate: tuple[Path, Path]
) -> None:
    """After its ingest the night's row took the ingest's end (exit_code 0, finished_at), so
    `cdr runs --json` said exit 0 for a night still running, or killed before its end."""
    wh, _ = copy_of(night_killed_at_validate, tmp_path)
    (row,) = Ledger(Layout(wh)).runs().to_dicts()
    assert row["status"] == "running"
    assert row["exit_code"] is None and row["finished_at"] is None, row
    assert row["rows_loaded"] > 0  # what the ingest committed is still told


def test_a_running_night_is_not_taken_for_a_dead_one(tmp_path: Path) -> None:
    """A night between its stages holds nightly.lock but not the writer lock: an ingest
    starting then must leave its `running` row alone; once the night is gone, it may not."""
    layout = Layout(tmp_path / "wh")
    ledger = Ledger(layout)
    row = {n: None for n in RUNS_SCHEMA.names}
    row.update(run_id="night-1", command="cdr nightly", status="running")
    row["started_at"] = datetime.now(UTC)
    ledger.write("runs", "night-1", [row], RUNS_SCHEMA)
    with writer_lock(layout, "cdr nightly", name="nightly.lock", run_id="night-1"):
        assert live_run(layout) == "night-1"
        assert recover_dead(layout, ledger) == []
        assert ledger.runs()["status"].to_list() == ["running"]
    assert live_run(layout) is None
    assert recover_dead(layout, ledger) == ["night-1"]
    assert ledger.runs()["status"].to_list() == ["interrupted"]


def test_a_dead_night_whose_pid_is_another_process_now_is_recovered(tmp_path: Path) -> None:
    """A night killed with -9 leaves its line in nightly.lock. After a reboot, or in a
    container, its pid soon belongs to another process: the next `cdr ingest` took the dead
    night for a live one, left its claims on files it never committed, and skipped those
    files as "already loaded" (exit 0, their rows in no table). Whether a night holds the
    lock is the kernel's answer, not the pid's."""
    import os

    layout = Layout(tmp_path / "wh")
    ledger = Ledger(layout)
    row = {n: None for n in RUNS_SCHEMA.names}
    row.update(run_id="night-1", command="cdr nightly", status="running")
    ledger.write("runs", "night-1", [row], RUNS_SCHEMA)
    # the dead night's line, naming a pid alive now (this test's own process)
    line = f"pid {os.getpid()}, cdr nightly, run night-1, since 2026-12-05T02:30:00Z\n"
    layout.lock_file("nightly.lock").write_text(line, encoding="utf-8")
    assert live_run(layout) is None
    assert recover_dead(layout, ledger) == ["night-1"]
    assert ledger.runs()["status"].to_list() == ["interrupted"]


def test_a_night_stopped_by_an_error_records_the_code_the_cli_exits_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error no stage catches (here a full disk while reading the ledger) ends the night:
    its row is failed with the exit code the CLI gives that error (6), not a bug's 1."""
    from cdr_pipeline.batch import nightly

    def full_disk(settings: Settings) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device", str(settings.warehouse))

    monkeypatch.setattr(nightly, "_unvalidated", full_disk)
    settings = Settings(warehouse=tmp_path / "wh")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(OSError):
        run_nightly(settings, inbox, run_date=date(2026, 11, 3))
    (row,) = Ledger(settings.layout).runs().to_dicts()
    assert (row["command"], row["status"], row["exit_code"]) == ("cdr nightly", "failed", 6)
    assert "No space left" in row["message"]


def test_the_nights_date_is_today_in_the_reporting_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2026-11-01T03:00Z it is still October 31 in Los Angeles: the night reports
    September as the previous month and October to date, as finance there counts."""
    from cdr_pipeline.reports import close

    monkeypatch.setattr(close, "_now", lambda: datetime(2026, 11, 1, 3, tzinfo=UTC))
    settings = Settings(warehouse=tmp_path / "wh", reporting_timezone="America/Los_Angeles")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    plan = run_nightly(settings, inbox, dry_run=True)
    assert plan.run_date == date(2026, 10, 31)
    assert run_nightly(Settings(warehouse=tmp_path / "wh"), inbox, dry_run=True).run_date == (
        date(2026, 11, 1)
    )


def test_a_clock_set_back_during_the_night_does_not_leave_it_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine that boots with its clock a month ahead (the timer's `Persistent=true`
    starts the missed night at once) and is set right by NTP during the run: the ledger
    kept the write with the latest wall-clock time, the `running` row of the night's start,
    so the night read `running`, and the next writer called it killed (its `interrupted`
    row lost as well, for a month)."""
    import time

    settings = Settings(warehouse=tmp_path / "wh")
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 30 * 86_400 * 10**9)
    record = NightRecord(settings, "night-1")
    record.begin()
    monkeypatch.setattr(time, "time_ns", real)  # NTP steps the clock back
    record.end(NightlySummary(run_date=date(2026, 11, 3)), "ok")
    ledger = Ledger(settings.layout)
    (row,) = ledger.runs().to_dicts()
    assert (row["status"], row["exit_code"]) == ("ok", 0)
    assert recover_dead(settings.layout, ledger) == []  # not taken for a dead run
    for _ in range(70):  # a compaction keeps the order too
        ledger.write("runs", "other", [row | {"run_id": "other"}], RUNS_SCHEMA)
    ledger.write("runs", "night-1", [row | {"status": "failed"}], RUNS_SCHEMA)
    assert ledger.runs().filter(pl.col("run_id") == "night-1")["status"].item() == "failed"


def test_a_night_stopped_during_its_ingest_says_so_once(tmp_path: Path) -> None:
    """`cdr runs` read "interrupted (Ctrl-C or SIGTERM); nothing uncommitted counts;
    interrupted (Ctrl-C or SIGTERM)" for a night stopped during its ingest: the ingest's row
    said it, and the night's end said it again."""
    settings = Settings(warehouse=tmp_path / "wh")
    record = NightRecord(settings, "night-1")
    record.begin()
    ledger = Ledger(settings.layout)
    (row,) = ledger.runs().to_dicts()
    stopped = "interrupted (Ctrl-C, SIGTERM or SIGHUP); nothing uncommitted counts"
    ledger.write("runs", "night-1", [row | {"message": stopped}], RUNS_SCHEMA)  # the ingest's
    record.end(NightlySummary(run_date=date(2026, 11, 3)), "interrupted")
    (row,) = ledger.runs().to_dicts()
    assert (row["status"], row["exit_code"], row["message"]) == ("interrupted", 130, stopped)


def test_the_run_after_a_killed_one_says_it_died(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A night killed with -9 (the OOM killer, a power cut) was marked interrupted by the
    next writer without a word in that run's log: nightly.jsonl showed the next night as
    an ordinary one, and only `cdr runs` told that the one before had died."""
    import logging

    from cdr_pipeline.state.ledger import run_record

    settings = Settings(warehouse=tmp_path / "wh")
    ledger = Ledger(settings.layout)
    dead = run_record("night-0", "cdr nightly", status="running")
    ledger.write("runs", "night-0", [dead], RUNS_SCHEMA)
    with caplog.at_level(logging.WARNING, logger="cdr_pipeline.ingest.recover"):
        assert recover_dead(settings.layout, ledger) == ["night-0"]
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert line.startswith("run night-0 (cdr nightly, started ")
    assert "ended before it finished (killed or crashed" in line


def _clock_set_back_after_first_read(hours: int) -> type[datetime]:
    """A `datetime` whose first `now()` is `hours` ahead of the real clock and every later
    one real: a machine booted with its clock ahead, then stepped back by NTP mid-run."""
    calls: list[int] = []

    class Stepped(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Stepped:  # type: ignore[override]
            real = datetime.now(tz)
            ahead = timedelta(hours=hours) if not calls else timedelta(0)
            calls.append(1)
            return cls.fromtimestamp((real + ahead).timestamp(), tz)

    return Stepped


def test_a_clock_set_back_mid_run_never_ends_a_run_before_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NTP stepped the clock back 2 h during a night (the machine booted with it ahead):
    `cdr runs` said 'took -7139.6s' and its --json a finished_at before started_at, for the
    night and for a lone ingest. The end is the start plus how long the run took, counted
    on the monotonic clock, which no clock step moves."""
    from cdr_pipeline.batch import night_record
    from cdr_pipeline.ingest import run

    monkeypatch.setattr(night_record, "datetime", _clock_set_back_after_first_read(2))
    monkeypatch.setattr(run, "datetime", _clock_set_back_after_first_read(2))
    settings = Settings(warehouse=tmp_path / "wh")
    assert run_nightly(settings, _inbox(tmp_path), run_date=date(2026, 11, 3)).exit_code == 0
    (night,) = Ledger(settings.layout).runs().iter_rows(named=True)
    took = (night["finished_at"] - night["started_at"]).total_seconds()
    assert 0 <= took < 600, night
    monkeypatch.setattr(run, "datetime", _clock_set_back_after_first_read(2))
    from cdr_pipeline.ingest import ingest_paths

    ingest_paths(settings, [SAMPLES / "entitlements.csv"])
    lone = Ledger(settings.layout).runs().row(-1, named=True)
    assert 0 <= (lone["finished_at"] - lone["started_at"]).total_seconds() < 600, lone


@pytest.mark.parametrize("lock", ["nightly.lock", "writer.lock"])
def test_a_night_refused_by_the_lock_is_a_run_that_says_so(tmp_path: Path, lock: str) -> None:
    """A night refused by the lock (exit 5: another night holding nightly.lock, a long
    `cdr ingest` holding writer.lock past `--wait-lock`) left no row: `cdr runs` and its
    --json, read by a monitoring check the next morning, showed the night before's `ok` as
    the latest night. It is a run, status `locked`, exit 5, naming the holder. In a folder
    that is no warehouse yet it records nothing."""
    inbox = _inbox(tmp_path)
    settings = Settings(warehouse=tmp_path / "wh", lock_wait_seconds=0)
    first = run_nightly(settings, inbox, run_date=date(2026, 11, 3))
    assert first.exit_code == 0
    held = writer_lock(settings.layout, "cdr ingest (by hand)", name=lock)
    with held, pytest.raises(LockBusy):
        run_nightly(settings, inbox, run_date=date(2026, 11, 4))
    runs = Ledger(settings.layout).runs()
    assert runs["status"].to_list() == ["ok", "locked"]
    refused = runs.row(1, named=True)
    assert refused["exit_code"] == 5 and refused["command"] == "cdr nightly"
    assert refused["run_date"] == date(2026, 11, 4)
    assert "another writer holds the warehouse lock" in refused["message"]
    assert "cdr ingest (by hand)" in refused["message"]
    assert refused["finished_at"] >= refused["started_at"]
    nowhere = Settings(warehouse=tmp_path / "typo", lock_wait_seconds=0)
    with writer_lock(nowhere.layout, "cdr nightly", name=lock), pytest.raises(LockBusy):
        run_nightly(nowhere, inbox)
    assert not nowhere.layout.ledger.exists() and not nowhere.layout.tables.exists()


def test_a_night_stopped_while_it_waits_for_the_lock_is_a_run_that_says_so(
    tmp_path: Path,
) -> None:
    """A night stopped by SIGTERM (systemctl stop, a shutdown) while it waited in
    `--wait-lock` exited 130 and left no row: `cdr runs` showed the night before's `ok` as
    the latest night. It is a run, status `interrupted`, exit 130, saying it was waiting."""
    settings = Settings(warehouse=tmp_path / "wh", lock_wait_seconds=60)
    ledger = Ledger(settings.layout)
    before = run_record("night-0", "cdr nightly", status="ok", exit_code=0)
    ledger.write("runs", "night-0", [before], RUNS_SCHEMA)

    def terminate(signum: int, frame: object) -> None:
        raise Terminated  # what the CLI's SIGTERM handler raises

    previous = signal.signal(signal.SIGALRM, terminate)
    try:
        with writer_lock(settings.layout, "cdr ingest (by hand)", name="nightly.lock"):
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(Terminated):
                run_nightly(settings, _inbox(tmp_path), run_date=date(2026, 11, 4))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    runs = ledger.runs()
    assert sorted(runs["status"].to_list()) == ["interrupted", "ok"]
    stopped = runs.filter(pl.col("status") == "interrupted").row(0, named=True)
    assert (stopped["exit_code"], stopped["run_date"]) == (130, date(2026, 11, 4))
    assert "while it waited for the warehouse lock" in stopped["message"]
    assert stopped["finished_at"] >= stopped["started_at"]


@pytest.mark.parametrize("lock", ["nightly.lock", "writer.lock"])
def test_a_night_that_fails_before_its_work_is_a_run_that_says_so(
    tmp_path: Path, lock: str
) -> None:
    """A night that failed before it wrote its row (a lock it may not write: made by hand
    as a folder here, owned by another user in the field; its recovery meeting a full
    disk) exited 6 with no row: `cdr runs` showed the night before's `ok` as the latest
    night. It is a run, status `failed`, with its exit code and its error."""
    settings = Settings(warehouse=tmp_path / "wh")
    ledger = Ledger(settings.layout)
    before = run_record("night-0", "cdr nightly", status="ok", exit_code=0)
    ledger.write("runs", "night-0", [before], RUNS_SCHEMA)
    settings.layout.lock_file(lock).mkdir(parents=True)
    with pytest.raises(WarehouseUnwritable):
        run_nightly(settings, _inbox(tmp_path), run_date=date(2026, 11, 4))
    runs = ledger.runs()
    assert sorted(runs["status"].to_list()) == ["failed", "ok"]
    failed = runs.filter(pl.col("status") == "failed").row(0, named=True)
    assert (failed["exit_code"], failed["run_date"]) == (6, date(2026, 11, 4))
    assert f"the lock {settings.layout.lock_file(lock)} is a folder" in failed["message"]


def test_a_night_killed_during_its_ingest_keeps_the_date_it_ran_for(tmp_path: Path) -> None:
    """A night killed while its ingest committed (kill -9, the OOM killer) left the ingest's
    row, written without the night's date: `cdr runs` showed `nightly` where it showed
    `nightly 11-03` for every other night of --run-date 2026-11-03, and its --json
    `run_date` was null, so a check looking for that night's run found none."""
    wh = tmp_path / "wh"
    killed = run_cdr(
        *("--warehouse", str(wh), "nightly", "--inbox", str(_inbox(tmp_path))),
        *("--run-date", "2026-11-03"),
        env={"CDR_FAULT_KILL_AT": "commit"},
    )
    assert killed.returncode == -9, killed.stderr
    (row,) = Ledger(Layout(wh)).runs().to_dicts()
    assert row["status"] == "running" and row["run_date"] == date(2026, 11, 3)
    shown = run_cdr("--warehouse", str(wh), "runs", "--json")
    (run,) = json.loads(shown.stdout)
    assert (run["status"], run["exit_code"], run["run_date"]) == ("interrupted", 130, "2026-11-03")


def test_a_night_refused_by_the_lock_exits_5_whatever_the_ledger_holds(tmp_path: Path) -> None:
    """Recording a refused night reads the ledger first: a damaged record there (a file
    truncated by hand or by a disk fault) must not turn the lock's exit 5 into the
    ledger's 6; the night's log says why it has no row."""
    settings = Settings(warehouse=tmp_path / "wh", lock_wait_seconds=0)
    ledger = Ledger(settings.layout)
    damaged = ledger.write("runs", "night-0", [run_record("night-0", "cdr nightly")], RUNS_SCHEMA)
    damaged.write_bytes(b"not parquet")
    with (
        writer_lock(settings.layout, "cdr nightly", name="nightly.lock"),
        pytest.raises(LockBusy),
    ):
        run_nightly(settings, _inbox(tmp_path))
