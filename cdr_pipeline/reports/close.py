"""Month close: freeze a month's finance reports, and reopen a closed month.

`close_month` computes the finance reports of the month over one pinned version of every
table (views built in memory over those versions, as `--as-of` does), and writes them as
Parquet with a manifest that records the versions, under `<warehouse>/closed/<YYYY-MM>/`
(`reports/frozen.py`). It holds the warehouse writer lock, writes into a hidden temp folder
and renames it into place, so a month is closed whole or not at all. A closed month is
never recomputed: closing it again returns the existing close. A month is refused unless
its call coverage is full and it has ended, except with `force` and a reason, which the
manifest and the journal keep. `reopen_month` moves the frozen figures aside (kept for
audit) and records why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cdr_pipeline import __version__
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT, EXIT_USAGE, CdrError, InputError
from cdr_pipeline.reports.close_check import check_month, joined_hints
from cdr_pipeline.reports.close_hold import (
    close_held_back,
    months_text,
    next_month,
    validation_hold,
)
from cdr_pipeline.reports.figures import compute_figures, org_peak, pinned_connection
from cdr_pipeline.reports.frozen import (
    JOURNAL,
    MANIFEST,
    ClosedMonth,
    month_text,
    open_months_before,
    read_close,
    read_journal,
    remove_killed_closes,
    unreconciled_status,
    warn_unreconciled,
)
from cdr_pipeline.reports.overlaps import overlap_note
from cdr_pipeline.reports.restate import dropped_since_close, retention_drops
from cdr_pipeline.reports.run import figure_settings, parse_month
from cdr_pipeline.state.files import atomic_write_bytes, atomic_write_table, file_sha256, fsync_dir
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.lock import writer_lock

log = logging.getLogger(__name__)


class CloseRefused(CdrError):
    """The month is not complete (call coverage not full, not over yet, or device data ending
    before its end), or the latest validation of a table failed."""

    exit_code = EXIT_BAD_INPUT


class CloseUsageError(CdrError):
    exit_code = EXIT_USAGE


@dataclass
class CloseResult:
    close: ClosedMonth
    already_closed: bool
    """True when the month was closed before: nothing was written."""


@dataclass
class ReopenResult:
    month: str
    reason: str
    reopened_at: datetime
    kept_in: str
    """Where the reopened month's frozen figures were moved (relative to the warehouse)."""


def _now() -> datetime:
    return datetime.now(UTC)


def reporting_today(settings: Settings) -> date:
    """Today's date in the reporting time zone, whose calendar months the reports cut: a
    month has ended when that date is in the next month (in America/Los_Angeles, September
    lasts until 2026-10-01T07:00Z). Asked of DuckDB, whose zone rules date the views' calls:
    Python's zoneinfo reads older system zone files first (tzdata 2025b: Vancouver UTC-8)."""
    import duckdb

    with duckdb.connect() as con:
        sql = "select cast(timezone($1, $2::timestamptz) as date)"
        ((today,),) = con.execute(sql, [settings.reporting_timezone, _now()]).fetchall()
    return today


def close_month(
    settings: Settings,
    month: str | date,
    *,
    force: bool = False,
    reason: str | None = None,
    today: date | None = None,
    command: str = "cdr close",
    held: Sequence[tuple[str, str]] = (),
) -> CloseResult:
    """Close `month` (`YYYY-MM`): freeze its finance reports. Idempotent. Raises
    `CloseRefused` (exit 3) for an incomplete month, or while the latest validation of a
    table failed (`close_hold.validation_hold`), unless `force` with a `reason`, naming
    every reason at once. `held`: (why, what to do) of the nightly's reasons to hold an
    open month back though complete (`close_hold.close_held_back`): refused with them and
    the month's own reasons."""
    first_day = parse_month(month)
    assert first_day is not None
    reason = (reason or "").strip() or None
    if force and reason is None:
        raise CloseUsageError(
            "--force needs --reason: a forced close records why the month was closed "
            "with incomplete data",
            hint='for example --force --reason "Sept export lost; figures agreed with AP"',
        )
    layout = settings.layout
    with writer_lock(layout, command, settings.lock_wait_seconds):
        remove_killed_closes(layout)  # a close killed while writing its hidden folder
        read_journal(layout)  # a journal it cannot add its line to: refused before any change
        existing = read_close(layout, first_day)
        if existing is not None:
            log.info("%s is already closed (on %s)", existing.month, existing.closed_at)
            _journal_close(layout, existing)  # a close killed before its line
            return CloseResult(existing, already_closed=True)
        con, versions = pinned_connection(settings)
        try:
            # not after today in the reporting zone (the nightly's run date is a UTC date)
            now = reporting_today(settings)
            now = now if today is None else min(today, now)
            if first_day > now:
                # --force is for incomplete data; a month to come would stay closed empty
                raise CloseRefused(
                    f"{month_text(first_day)} has not begun (today is {now.isoformat()})",
                    hint=f"close it on {next_month(first_day).isoformat()} or later; --force "
                    "closes a month of incomplete data, never one to come",
                )
            check = check_month(con, first_day, now)
            coverage, covered, days, problem = (
                check.coverage,
                check.covered,
                check.days,
                check.problem,
            )
            # no reason to refuse on its own (an org may want usage figures only), but a
            # refusal says it too: mended for the other reasons only, the rerun would freeze
            # every reconciliation row as no_entitlement (no_call_data), to be reopened
            unreconciled = "entitlements" not in versions
            also = (
                "; no entitlements are loaded either: closed so, every reconciliation row "
                f"would be frozen as {unreconciled_status(coverage)}, without cost"
                if unreconciled
                else ""
            )
            also_hints = ["load finance's entitlements (cdr ingest FILE)"] if unreconciled else []
            # data known bad holds every close back, the nightly's and one by hand
            bad = validation_hold(layout)
            holds = [*held, *([bad] if bad and not force else [])]
            if holds:
                # every reason at once, the month's own among them: one rerun fixes all
                whys = "; ".join(why for why, _ in holds)
                hint = joined_hints([what for _, what in holds] + check.hints + also_hints)
                by_hand = command == "cdr close"  # the nightly's summary names the month
                lead = f"{month_text(first_day)} is not closed: " if by_hand else ""
                then = ", and the next nightly closes it" if problem is None and not by_hand else ""
                anyway = (
                    ", or close it by hand"
                    if problem is None and bad is None
                    else ', or close it anyway with --force --reason "why"'
                )
                raise CloseRefused(
                    lead
                    + (whys if problem is None else f"{whys}; and it is not complete: {problem}")
                    + also,
                    hint=f"{hint}{then}{anyway}",
                )
            if problem and not force:
                hint = joined_hints(check.hints + also_hints)
                raise CloseRefused(
                    f"{month_text(first_day)} is not complete: {problem}{also}",
                    hint=f'{hint}, or close it anyway with --force --reason "why"',
                )
            tables = compute_figures(con, first_day)
            peak = org_peak(con, first_day)
            basis = figure_settings(con)
            overlaps = overlap_note(con, first_day)  # shown with the figures it explains
        finally:
            con.close()
        close = ClosedMonth(
            month=month_text(first_day),
            closed_at=datetime.now(UTC).replace(microsecond=0),
            versions=versions,
            call_coverage=coverage,
            covered_days=covered,
            days_in_month=days,
            forced=bool(problem or bad) and force,
            reason=reason,
            closed_by=command,
            pipeline_version=__version__,
            licences_held_peak=peak,
            settings=basis,
            overlaps=overlaps,
        )
        _write_close(layout, close, tables)
        _journal_close(layout, close)
    log.info(
        "closed %s (%s; coverage %s)",
        close.month,
        close.versions_text(),
        coverage,
        extra={"month": close.month},
    )
    warn_unreconciled(close)
    return CloseResult(close, already_closed=False)


def _write_close(layout: Layout, close: ClosedMonth, tables: dict[str, Any]) -> None:
    """Write the frozen reports and the manifest into a hidden folder, then rename it."""
    target = layout.closed_month(close.month)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        for name, table in tables.items():
            path = tmp / f"{name}.parquet"
            atomic_write_table(table, path)
            close.reports[name] = {
                "file": path.name,
                "rows": int(table.num_rows),
                "sha256": file_sha256(path),
            }
        manifest = json.dumps(close.to_dict(), indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(manifest.encode(), tmp / MANIFEST)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)


def _journal(
    layout: Layout,
    action: str,
    month: str,
    when: datetime,
    reason: str | None,
    **extra: Any,
) -> None:
    """Append one line to `closed/journal.jsonl` (rewritten whole, then renamed)."""
    path = layout.closed / JOURNAL
    old = path.read_bytes() if path.is_file() else b""
    entry = {"action": action, "month": month, "at": when.isoformat(), "reason": reason, **extra}
    atomic_write_bytes(old + (json.dumps(entry, ensure_ascii=False) + "\n").encode(), path)


def _journal_close(layout: Layout, close: ClosedMonth) -> None:
    """The journal line of `close`, unless the journal has it: the folder is renamed into
    place first, so a close killed between the two is closed without its line, which the
    rerun (already closed) writes."""
    at = close.closed_at.isoformat()
    for entry in read_journal(layout):
        if (entry.get("action"), entry.get("month"), entry.get("at")) == ("close", close.month, at):
            return
    _journal(layout, "close", close.month, close.closed_at, close.reason, forced=close.forced)


def reopen_month(
    settings: Settings, month: str | date, reason: str, command: str = "cdr reopen"
) -> ReopenResult:
    """Reopen a closed month: its frozen figures move to `closed/.reopened/` (kept, never
    read again) and the journal records `reason`; reports recompute it until it is closed
    again."""
    first_day = parse_month(month)
    assert first_day is not None
    reason = reason.strip()
    if not reason:
        raise CloseUsageError(
            "reopening a month needs a reason", hint='pass --reason "why the month changes"'
        )
    layout = settings.layout
    with writer_lock(layout, command, settings.lock_wait_seconds):
        read_journal(layout)  # a journal it cannot add its line to: refused before any change
        close = read_close(layout, first_day)
        if close is not None and dropped_since_close(retention_drops(settings), close):
            # recomputed, the month would lose the calls retention took (idle unknown), and
            # it could not be closed again but forced: the frozen figures are its record
            raise CloseRefused(
                f"{close.month} is not reopened: retention (retain_days) dropped call legs "
                "of it since its close, so its frozen figures are the only full record of "
                "the month; recomputed it would lose those calls and could not be closed "
                "again with full call coverage",
                hint="its frozen figures stand; report corrections to them apart",
            )
        if close is not None:
            now = datetime.now(UTC).replace(microsecond=0)
            kept = layout.closed / ".reopened" / f"{close.month}-{now:%Y%m%dT%H%M%SZ}"
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.rename(layout.closed_month(close.month), kept)
            fsync_dir(layout.closed)
        else:  # a reopen killed between the move and its journal line is completed
            kept, close = _unjournaled_reopen(layout, month_text(first_day))
            now = datetime.strptime(kept.name[-16:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        _journal(layout, "reopen", close.month, now, reason, closed_at=close.closed_at.isoformat())
    log.info("reopened %s: %s", close.month, reason, extra={"month": close.month})
    return ReopenResult(close.month, reason, now, str(kept.relative_to(layout.root)))


def _unjournaled_reopen(layout: Layout, month: str) -> tuple[Path, ClosedMonth]:
    """The kept folder and close of a reopen of `month` that the journal lacks (killed after
    moving the folder, before its line); else `month` is not closed: InputError."""
    done = {
        e.get("closed_at")
        for e in read_journal(layout)
        if e.get("action") == "reopen" and e.get("month") == month
    }
    for kept in sorted((layout.closed / ".reopened").glob(f"{month}-*")):
        if (kept / MANIFEST).is_file():
            close = ClosedMonth.from_dict(json.loads((kept / MANIFEST).read_text("utf-8")))
            if close.closed_at.isoformat() not in done:
                return kept, close
    raise InputError(
        f"{month} is not closed", hint="`cdr report restatements` lists the closed months"
    )


def close_due_month(
    settings: Settings,
    run_date: date,
    command: str = "cdr nightly",
    failed_files: Sequence[str] = (),
) -> str:
    """The nightly's close: the month before `run_date` once `close_after_days` days of
    the new month have passed (`run_date` - its first day ≥ the setting). An incomplete
    month is not closed, nor one while the latest validation of a table failed or a file
    of the night (`failed_files`) failed to load (`close_hold.py`): the text says why, and
    the next night tries again. Returns what happened, for the run summary, naming the
    older months still open."""
    if settings.close_after_days is None:
        return "not configured (close_after_days)"
    text = _close_previous(settings, run_date, command, failed_files)
    previous = (run_date.replace(day=1) - timedelta(days=1)).replace(day=1)
    left = open_months_before(settings.layout, previous)
    if left:
        # never closed by a later night: say so each night, or nobody hears of it again
        months = months_text(left)
        log.warning(
            "month close: %s not closed; the nightly closes only the previous month", months
        )
        text += (
            f"; {months} {'is' if len(left) == 1 else 'are'} not closed either: the nightly "
            f"closes only the previous month (`cdr close {month_text(left[0])}`)"
        )
    return text


def _close_previous(
    settings: Settings, run_date: date, command: str, failed_files: Sequence[str]
) -> str:
    assert settings.close_after_days is not None
    first = run_date.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    waited = (run_date - first).days
    if waited < settings.close_after_days:
        return (
            f"{month_text(previous)} closes after {settings.close_after_days} day(s) "
            f"of the new month ({waited} so far)"
        )
    try:
        result = close_month(
            settings,
            previous,
            today=run_date,
            command=command,
            held=close_held_back(failed_files),
        )
    except CloseRefused as exc:
        log.warning("month close: %s", exc.message, extra={"month": month_text(previous)})
        # its own hint: --force closes incomplete data, never a month to come (--run-date)
        return (
            f"{month_text(previous)} not closed: {exc.message}; {exc.hint} "
            f"(`cdr close {month_text(previous)}`)"
        )
    if result.already_closed:
        return f"{result.close.month} already closed on {result.close.closed_at:%Y-%m-%d}"
    return f"closed {result.close.month} ({result.close.versions_text()})"
