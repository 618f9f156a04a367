"""The nightly's own row in the run ledger: every night is a run of `cdr runs`, also one that
loads nothing, and a night killed in a later stage (validation, reports, retention...)
reads `interrupted`, not the `ok` its ingest had written.

The row is the ingest's (they share one run id): `running` from the start of the night, the
ingest's counts once it has loaded, and the night's exit code, stage failures and the
table versions it committed (its ingest's, then those of tables only retention changed) at
its end. Every write carries the date the night ran for (`run_date`: `--run-date`, or
today in the reporting zone), so that `cdr runs` tells a re-run of a past night.
While the night runs, its lock (`nightly.lock`) names the run, so that another writer does
not take the `running` row for a run that died (`lock.live_run`). A night refused by a
lock before it began (exit 5: another night, a long `cdr ingest`) is a run too, `locked`:
a monitoring check of `cdr runs` saw no row for it and took the night before's `ok` for
tonight's. So is a night stopped before it wrote its row (SIGTERM while it waits for a
lock): `interrupted`, exit 130; and one that failed there (a lock it may not write):
`failed`, with its exit code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from cdr_pipeline.batch.stages import NightlySummary
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_INTERRUPTED, CdrError, LockBusy, known_error
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_ending, run_record
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.tables import format_versions, parse_versions
from cdr_pipeline.state.waits import WaitMark

log = logging.getLogger(__name__)

COMMAND = "cdr nightly"


class NightRecord:
    """Writes the night's ledger row (best effort: a ledger that cannot be written, e.g. a
    full disk, is logged, and the night's own exit code says what went wrong)."""

    def __init__(self, settings: Settings, run_id: str, run_date: date | None = None) -> None:
        self.settings, self.run_id, self.run_date = settings, run_id, run_date
        self.ledger = Ledger(settings.layout)
        self.started = datetime.now(UTC)
        self._clock = time.monotonic()

    def _row(self) -> dict[str, Any]:
        """The run's latest row (the ingest's, once it ran), or a new one."""
        found = self.ledger.runs().filter(pl.col("run_id") == self.run_id)
        if not found.is_empty():
            return found.row(0, named=True)
        return run_record(self.run_id, COMMAND)

    def _write(self, row: dict[str, Any]) -> None:
        # the date it ran for: each write, as its ingest writes the row without it
        row.update(command=COMMAND, started_at=self.started, run_date=self.run_date)
        try:
            self.ledger.write("runs", self.run_id, [row], RUNS_SCHEMA)
        except OSError as exc:
            log.warning("the ledger does not record the nightly's run (%s)", exc)

    def begin(self) -> None:
        """At the start of the night (its run id is new: no row to read)."""
        self._write(run_record(self.run_id, COMMAND, status="running"))

    def running(self) -> None:
        """After the night's ingest recorded how it ended: the night goes on."""
        # the ingest's end is not the night's: no exit code or end until `end` writes them
        self._write({**self._row(), "status": "running", "exit_code": None, "finished_at": None})

    def end(self, summary: NightlySummary, ending: str, failure: CdrError | None = None) -> None:
        """The night's last word: `ending` is ok (it ran to its end), interrupted (Ctrl-C,
        SIGTERM) or failed (`failure`, an error no stage caught; None for a bug)."""
        row = self._row()
        status, code = run_ending(summary.exit_code, ending, failure)
        failed = [
            f"{s.name}: {s.summary}" for s in summary.stages if s.exit_code and s.name != "ingest"
        ]
        stopped = "interrupted (Ctrl-C, SIGTERM or SIGHUP)"
        if ending == "interrupted" and stopped not in (row.get("message") or ""):
            failed.append(stopped)  # unless its ingest, stopped, said so
        elif ending == "failed":
            failed.append(failure.one_line() if failure is not None else "unexpected error")
        if summary.ingest is None:  # a night that ingested nothing: what its inbox held
            skipped = len(summary.inbox) - len(summary.new_files)
            row.update(files_seen=len(summary.inbox), files_skipped=skipped)
        row.update(
            status=status,
            exit_code=code,
            # its start plus how long it ran, not the wall clock now: a clock set back
            # mid-run (NTP stepping a clock the machine booted with 2 h ahead) made a night
            # finish before it started, 'took -7139.6s' in cdr runs
            finished_at=self.started + timedelta(seconds=time.monotonic() - self._clock),
            message="; ".join(m for m in (row.get("message"), *failed) if m) or None,
        )
        try:
            from cdr_pipeline.ingest.pending import committed_versions

            # what the night committed: its ingest's versions (those that first hold the
            # files it loaded: call coverage reads them), then tables only a later stage
            # (retention, personal retention) committed
            versions = committed_versions(self.settings.layout, self.run_id)
            versions.update(parse_versions(row.get("table_versions")))
            row["table_versions"] = format_versions(versions) or None
        except Exception as exc:  # a damaged log must not hide how the night ended
            log.warning("the nightly's table versions are not known (%s)", exc)
        self._write(row)


@contextmanager
def night_lock(settings: Settings, run_id: str, run_date: date) -> Iterator[Callable[[str], None]]:
    """Hold `nightly.lock` for the night. A night refused by a lock before it wrote its row
    (`nightly.lock`: another night; `writer.lock`, which its recovery takes first: a long
    `cdr ingest`; still held after `lock_wait_seconds`) records one, status `locked`, exit
    5, naming the holder, and raises `LockBusy`. A night stopped before it wrote its row
    (SIGTERM, Ctrl-C while it waits for a lock: a `systemctl stop`, a shutdown) records one
    too, status `interrupted`, exit 130: it had no row, so `cdr runs` showed the night
    before's `ok` as the latest night. So does a night that failed there (a lock file it
    may not write, its recovery meeting a full disk): `failed`, with its exit code. The row
    is a new record file, as every ledger write is: it touches nothing the holder writes.
    A night that waits for a lock has a row from the start of its wait, `waiting`, which
    `cdr runs` and the next writer read as `interrupted` once its process is gone (kill -9
    in the wait: `state/waits.py`); it yields the hook that writes it for the writer lock's
    wait of its recovery."""
    started, clock = datetime.now(UTC), time.monotonic()
    held = False
    mark = WaitMark(settings.layout, run_id)

    def waiting(holder: str) -> None:
        if mark.fd is None and mark.take():  # once: the first lock it waits for
            row = {"status": "waiting", "message": f"waiting for the warehouse lock ({holder})"}
            _record_unstarted(settings, run_id, run_date, row, (started, None))

    try:
        with writer_lock(
            settings.layout,
            COMMAND,
            settings.lock_wait_seconds,
            name="nightly.lock",
            run_id=run_id,
            on_wait=waiting,
        ):
            held = True
            yield waiting
    except LockBusy as exc:
        ended = started + timedelta(seconds=time.monotonic() - clock)
        row = {"status": "locked", "exit_code": exc.exit_code, "message": exc.one_line()}
        _record_unstarted(settings, run_id, run_date, row, (started, ended))
        raise
    except KeyboardInterrupt:
        ended = started + timedelta(seconds=time.monotonic() - clock)
        where = (
            "before its work began (in its recovery, or waiting for the writer lock)"
            if held
            else "while it waited for the warehouse lock"
        )
        row = {
            "status": "interrupted",
            "exit_code": EXIT_INTERRUPTED,
            "message": f"interrupted (Ctrl-C, SIGTERM or SIGHUP) {where}",
        }
        _record_unstarted(settings, run_id, run_date, row, (started, ended))
        raise
    except Exception as exc:
        # a lock or a ledger this user may not write, a recovery that met a full disk:
        # the night exited 6 (or 1) with no row, and `cdr runs` showed the night before's
        # `ok` as the latest night
        ended = started + timedelta(seconds=time.monotonic() - clock)
        failure = known_error(exc, settings.warehouse)
        status, code = run_ending(0, "failed", failure)
        said = failure.one_line() if failure is not None else "unexpected error"
        row = {"status": status, "exit_code": code, "message": said}
        _record_unstarted(settings, run_id, run_date, row, (started, ended))
        raise
    finally:  # after its last row: from here a `waiting` row is a night that died
        mark.release()


def _record_unstarted(
    settings: Settings,
    run_id: str,
    run_date: date,
    ending: dict[str, Any],
    times: tuple[datetime, datetime | None],
) -> None:
    """The row (`ending`: status, exit code, message) of a night that ended before it wrote
    its own (refused by a lock, stopped while it waited), unless the night has a row already
    but its `waiting` one (a stage refused or stopped later: the night's own end recorded
    it), or the folder holds no ledger or table yet (a typo of the warehouse must not become
    one; its lock made `state/`)."""
    layout = settings.layout
    if not (layout.ledger.is_dir() or layout.tables.is_dir()):
        return
    try:
        ledger = Ledger(layout)
        found = ledger.runs().filter(pl.col("run_id") == run_id)
        if not found.filter(pl.col("status") != "waiting").is_empty():
            return
        row = run_record(
            run_id,
            COMMAND,
            started_at=times[0],
            finished_at=times[1],
            run_date=run_date,
            **ending,
        )
        ledger.write("runs", run_id, [row], RUNS_SCHEMA)
    except (OSError, CdrError) as exc:  # a full disk, a damaged record: the lock is the news
        log.warning("the ledger does not record how the night ended (%s)", exc)
