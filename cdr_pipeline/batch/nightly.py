"""`cdr nightly` as library code: fetch, ingest what is new in the inbox, validate, build,
close, report, retention, vacuum and archive, under one run id and the nightly lock (one
night at a time); each stage that writes takes the writer lock for its own while."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdr_pipeline.batch.archive import archive_loaded, refuse_a_new_warehouse_beside_an_archive
from cdr_pipeline.batch.folders import check_inbox
from cdr_pipeline.batch.night_record import NightRecord, night_lock
from cdr_pipeline.batch.stages import (
    InboxFile,
    NightlySummary,
    StageOutcome,
    build_stage,
    close_and_report,
    ingest_summary,
    log_notes,
    planned_close,
    unfinished_erasure,
    validate_build,
    views_see_the_end,
)
from cdr_pipeline.config import SETTINGS_KEYS, Settings, coerce
from cdr_pipeline.errors import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    WarehouseUnwritable,
    free_space,
    known_error,
)
from cdr_pipeline.ingest import (
    Fingerprint,
    IngestResult,
    ProgressFn,
    expand_paths,
    faults,
    ingest_paths,
    new_run_id,
)
from cdr_pipeline.interrupts import STOPPED_BY
from cdr_pipeline.logfields import log_fields
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import check_folder, running_writer

if TYPE_CHECKING:
    from cdr_pipeline.ingest.retention import RetentionResult

log = logging.getLogger(__name__)


def scan_inbox(settings: Settings, inbox: Path) -> list[InboxFile]:
    """Every file of the inbox with whether its content was loaded before (the ledger
    decides, by SHA-256 of the content, never by name or date). Only a file whose size some
    loaded file has is hashed here; any other is new, and ingest hashes it as it reads it."""
    loaded = Ledger(settings.layout).loaded_hashes()
    sizes = set(loaded.values())
    files = []
    for p in expand_paths([inbox]):
        try:
            size = p.stat().st_size
        except OSError:  # gone since the walk, or its folder may not be searched: new
            size = 0  # here, and the ingest fails it alone, naming why
        if size not in sizes:
            files.append(InboxFile(p, "new", size))
            continue
        try:
            fp = Fingerprint.of(p)
        except OSError:  # no read permission: new here; the ingest fails it alone, naming why
            files.append(InboxFile(p, "new", size))
            continue
        files.append(InboxFile(p, "loaded before" if fp.sha256 in loaded else "new", size, fp))
    return files


def run_nightly(
    settings: Settings,
    inbox: Path,
    *,
    archive: Path | None = None,
    retain_days: int | None = None,
    dry_run: bool = False,
    run_date: date | None = None,
    fetch: bool | None = None,
    fetcher: Callable[[Settings], Any] | None = None,
    progress: ProgressFn | None = None,
) -> NightlySummary:
    """The unattended job: (fetch) -> ingest what is new in the inbox -> validate it -> build
    the views -> (close the previous month, with `close_after_days`) -> write the standard
    reports for the previous month and the month to date and the previous month's finance
    summary to `<warehouse>/reports/<run date>/` -> retention -> vacuum -> archive. One lock
    for the whole run: a second nightly exits at once with LockBusy (exit 5). `fetcher` replaces
    `fetch_records(settings)` (tests give it a client with a fake clock)."""
    check_folder(settings.layout)  # a warehouse that is a file: said first, as such
    check_inbox(inbox, archive, settings.warehouse)
    refuse_a_new_warehouse_beside_an_archive(settings.layout, archive)
    from cdr_pipeline.reports.close import reporting_today

    # today where the reports' months are cut: a UTC date would make the report months,
    # and the month closed, those of another day for half of the zones
    summary = NightlySummary(
        run_date=run_date or reporting_today(settings), dry_run=dry_run, root=settings.warehouse
    )
    # checked before any stage runs, by the rules of the retain_days setting
    retain = coerce(SETTINGS_KEYS["retain_days"], retain_days, "--retain-days")
    retain = retain if retain is not None else settings.retain_days
    do_fetch = settings.fetch.nightly if fetch is None else fetch
    run_id = new_run_id(datetime.now(UTC))
    if dry_run:
        # a plan writes nothing, not even the lock file: that would make a typo a warehouse,
        # fail on a read-only warehouse (exit 6), and make the real night wait for a plan
        with log_fields(run_id=run_id):
            holder = running_writer(settings.layout, "nightly.lock")
            if holder:
                log.warning("a nightly is running (%s): files it is loading show as new", holder)
            summary.inbox = scan_inbox(settings, inbox)
            _plan(settings, summary, retain, do_fetch, archive)
        return summary
    with log_fields(run_id=run_id), night_lock(settings, run_id, summary.run_date) as waiting:
        # a run that died claimed files it never committed: not loaded
        from cdr_pipeline.ingest.recover import recover_interrupted

        recover_interrupted(settings, "cdr nightly (recovery)", on_wait=waiting)
        summary.inbox = scan_inbox(settings, inbox)
        record = NightRecord(settings, run_id, summary.run_date)
        record.begin()
        ending, failure = "failed", None
        try:
            _stages(settings, summary, inbox, archive, retain, do_fetch, fetcher, progress, record)
            ending = "ok"
        except KeyboardInterrupt:
            ending = "interrupted"
            raise
        except Exception as exc:  # the row says what the CLI will say: its error, or a bug
            if STOPPED_BY:  # a library made the stop its own error (DuckDB: Query interrupted)
                ending = "interrupted"
            else:
                failure = known_error(exc, settings.warehouse)
            raise
        finally:
            record.end(summary, ending, failure)
        if summary.build is not None:  # built tonight: not when the build failed
            views_see_the_end(settings)
    return summary


def _stages(
    settings: Settings,
    summary: NightlySummary,
    inbox: Path,
    archive: Path | None,
    retain: int | None,
    do_fetch: bool,
    fetcher: Callable[[Settings], Any] | None,
    progress: ProgressFn | None,
    record: NightRecord,
) -> None:
    """The night's stages, in order (see `run_nightly`); `record` is its ledger row."""
    run_id = record.run_id
    if do_fetch:
        with summary.run_stage("fetch") as out:
            if fetcher is None:
                from cdr_pipeline.fetch import fetch_records

                fetcher = fetch_records
            summary.fetch = fetcher(settings)
            fetched = f"{summary.fetch.records:,} records in {len(summary.fetch.pages)} page(s)"
            log_notes(fetch=summary.fetch)  # `cdr fetch` prints them, the night logs
            if summary.fetch.error is not None:  # the night's row says why, and the log
                fetched += f"; {summary.fetch.error.message}"
                code = {"exit_code": summary.fetch.exit_code}
                log.error("fetch: %s", summary.fetch.error.message, extra=code)
            out[:] = [summary.fetch.exit_code, fetched]
    with summary.run_stage("ingest") as out:
        # with an archive, re-sent files go through ingest too: it records them as
        # skipped (runs --files lists them) and the archive stage moves them out of the
        # inbox, where they would otherwise stay for ever
        todo = summary.inbox if archive is not None else summary.new_files
        if summary.new_files or (archive is not None and todo):
            # the scan's digests are reused while a file is unchanged: hashed once
            summary.ingest = ingest_paths(
                settings,
                [f.path for f in todo],
                command="cdr nightly",
                progress=progress,
                run_id=run_id,
                fingerprints={f.path: f.fingerprint for f in todo if f.fingerprint},
                run_date=summary.run_date,
            )
            out[:] = [summary.ingest.exit_code, ingest_summary(summary.ingest)]
            log_notes(summary.ingest)  # what `cdr ingest` prints as notes
            record.running()  # until the night ends: a kill from here is `interrupted`
        else:
            out[:] = [EXIT_OK, "nothing new in the inbox"]
    loaded_rows = summary.ingest.total("rows_loaded") if summary.ingest else 0
    # what tonight loaded and whatever an earlier run loaded but never validated (a
    # nightly killed between its commit and its validation)
    if loaded_rows or summary.fetch is not None or _unvalidated(settings):
        faults.point("validate")
        validate_build(settings, summary, scope="pending")
    else:
        with summary.run_stage("build") as out:
            out[:] = [EXIT_OK, f"nothing new to validate; {build_stage(settings, summary)}"]
    close_and_report(settings, summary)
    if retain:
        _retention(settings, summary, retain, run_id)
    _personal_retention(settings, summary, run_id)
    unfinished_erasure(settings, summary)
    with summary.run_stage("vacuum") as out:
        from cdr_pipeline.ingest.vacuum import vacuum_tables

        summary.vacuum = vacuum_tables(settings, command="cdr nightly (vacuum)")
        out[:] = [
            EXIT_OK,
            f"deleted {summary.vacuum.files} file(s) replaced more than "
            f"{summary.vacuum.grace_hours} hour(s) ago",
        ]
    # files an earlier run committed (a nightly killed before its archive stage) go too
    earlier = [f.path for f in summary.inbox if f.status == "loaded before"]
    if archive is not None and (summary.ingest is not None or earlier):
        with summary.run_stage("archive") as out:
            summary.archived = _archive(summary.ingest, inbox, archive, earlier)
            out[:] = [EXIT_OK, f"{len(summary.archived)} file(s) moved to {archive}"]


def _unvalidated(settings: Settings) -> bool:
    """Whether an ingest run loaded rows that no validation has covered yet."""
    from cdr_pipeline.quality.scope import pending_runs

    return bool(pending_runs(Ledger(settings.layout)))


def _retention_day(settings: Settings, summary: NightlySummary) -> date:
    """The day retention counts back from: the run date, never later than today (a run date
    to come would drop data not yet that old, for good after the vacuum)."""
    from cdr_pipeline.reports.close import reporting_today

    return min(summary.run_date, reporting_today(settings))


def _retention(settings: Settings, summary: NightlySummary, retain: int, run_id: str) -> None:
    """Stage `retention`: call-leg days older than `retain` days leave the table, and the
    views move to that version."""
    from cdr_pipeline.ingest.retention import apply_retention

    with summary.run_stage("retention") as out:
        summary.retention = apply_retention(
            settings, retain, run_id, _retention_day(settings, summary)
        )
        moved = ""
        if summary.retention.dropped:
            # the build stage ran before: without this, cdr.duckdb (its views and its kept
            # fct_calls) showed the dropped days until the next night. The drop left the
            # mark (state/whole_build.py): the refreshed copy's live rows go into a new
            # file, as its freed pages kept the dropped days' numbers and names
            from cdr_pipeline.warehouse import refresh_warehouse

            summary.build = refresh_warehouse(settings)
            moved = f"; {summary.build.describe()}"
        out[:] = [
            EXIT_OK,
            f"dropped {len(summary.retention.dropped)} partition(s) "
            f"before {summary.retention.cutoff} ({summary.retention.rows:,} rows){moved}",
        ]


def _personal_retention(settings: Settings, summary: NightlySummary, run_id: str) -> None:
    """Stage `privacy` (when `[privacy] personal_days` is set): personal fields of old call
    legs become pseudonyms (docs/privacy.md)."""
    if not settings.privacy_personal_days:
        return
    with summary.run_stage("privacy") as out:
        from cdr_pipeline.privacy.retention import apply_personal_retention

        days = settings.privacy_personal_days or 0
        kept = apply_personal_retention(settings, days, run_id, _retention_day(settings, summary))
        out[:] = [
            EXIT_OK,
            f"personal fields pseudonymised in {len(kept.partitions)} partition(s) before "
            f"{kept.cutoff} ({kept.rows:,} rows); raw text of "
            f"{sum(e.rows for e in kept.rejects):,} older reject(s) emptied",
        ]


def _plan(
    settings: Settings,
    summary: NightlySummary,
    retain: int | None,
    do_fetch: bool,
    archive: Path | None,
) -> None:
    from cdr_pipeline.ingest.vacuum import vacuum_tables
    from cdr_pipeline.reports.standard import planned_report_files

    summary.planned_reports = planned_report_files(summary.run_date)
    if retain:
        from cdr_pipeline.ingest.retention import expired_partitions

        summary.retention = expired_partitions(settings, retain, _retention_day(settings, summary))
    # the run fails them: 3
    blocked = {f.path: where for f in summary.inbox if (where := _unlisted(f.path))}
    unlisted = sorted(set(blocked.values()))
    new = [f for f in summary.new_files if f.path not in blocked]
    # the night's last two stages, which delete and move files: the plan named neither
    summary.vacuum = vacuum_tables(settings, dry_run=True)
    moves = _planned_archive(summary, archive, blocked)
    summary.stages.append(
        StageOutcome(
            "plan",
            EXIT_BAD_INPUT if unlisted else EXIT_OK,
            0.0,
            f"{'fetch, then ' if do_fetch else ''}ingest {len(new)} new file(s) of "
            f"{len(summary.inbox) - len(blocked)}; validate; build"
            f"{planned_close(settings, summary.run_date)}; "
            f"{len(summary.planned_reports)} report file(s)"
            + (_planned_drop(summary.retention, len(new)) if summary.retention else "")
            + f"; vacuum {summary.vacuum.files} file(s) replaced more than "
            f"{summary.vacuum.grace_hours} hour(s) ago"
            + moves
            + "".join(
                f"; cannot list {p}: its files would not load (chmod u+rx)" for p in unlisted
            ),
        )
    )


def _planned_archive(
    summary: NightlySummary, archive: Path | None, blocked: dict[Path, Path]
) -> str:
    """The archive stage's part of the plan: the files it would move (those the ingest
    commits: new files that load, and files loaded before, which leave the inbox too)."""
    if archive is None:
        return ""
    earlier = sum(f.status == "loaded before" for f in summary.inbox)
    new = sum(f.status == "new" and f.path not in blocked for f in summary.inbox)
    if not new and not earlier:
        return ""
    parts = [f"the {new} new file(s) that load"] if new else []
    parts += [f"{earlier} file(s) loaded before"] if earlier else []
    return f"; archive {' and '.join(parts)} to {archive}"


def _planned_drop(retention: RetentionResult, new_files: int) -> str:
    """Retention's part of the plan: the partitions before the cutoff now, and, with files
    to load, that their days before it go too (retention runs after the ingest: the plan
    said `drop 0 partition(s)` of a night that then dropped every day it had just loaded)."""
    return f"; drop {len(retention.dropped)} partition(s) before {retention.cutoff}" + (
        f" and any day before it in the {new_files} new file(s)" if new_files else ""
    )


def _unlisted(path: Path) -> Path | None:
    """The folder that keeps `path` from loading: itself, a folder the walk could not list,
    or the one holding it, a folder that may be read but not searched (`chmod -R 644`)."""
    try:
        return path if path.is_dir() else None
    except OSError:
        return path.parent


def _archive(
    result: IngestResult | None, inbox: Path, archive: Path, earlier: Sequence[Path]
) -> list[Path]:
    """`archive_loaded`, a failure to write the archive an exit-6 error of the stage."""
    try:
        return archive_loaded(result, inbox, archive, earlier)
    except OSError as exc:  # the archive's disk, not the warehouse's
        failed = Path(exc.filename) if exc.filename else archive
        later = (
            "the loaded files still in the inbox are archived by the next nightly (they "
            "are committed: it does not load them again)"
        )
        if failed.is_relative_to(inbox):  # taking it out of a read-only or foreign inbox
            raise WarehouseUnwritable(
                f"archiving stopped: {exc.strerror or exc} removing {failed} from the inbox",
                path=str(failed),
                hint=f"give the job write access to the inbox {inbox} (archiving moves "
                f"files out of it); {later}",
            ) from exc
        # the hint for what happened: 'free space on (or give access to)' sent the operator
        # of a read-only archive mount to df first
        todo = {
            errno.ENOSPC: free_space(errno.ENOSPC, str(archive)),
            errno.EDQUOT: free_space(errno.EDQUOT, str(archive)),
            errno.EROFS: f"remount {archive} read-write (it is on a read-only file system)",
            errno.EACCES: f"give the job write access to {archive} (ls -ld {archive})",
            errno.EPERM: f"give the job write access to {archive} (ls -ld {archive})",
        }.get(exc.errno or 0, f"free space on (or give access to) {archive}")
        raise WarehouseUnwritable(
            f"archiving stopped: {exc.strerror or exc} writing {failed}",
            path=str(failed),
            hint=f"{todo}; {later}",
        ) from exc
