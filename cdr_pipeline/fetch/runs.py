"""How a `cdr fetch` shows in `cdr runs` when its ingests alone do not say it: a run that
ingested nothing (no records, the API failing first, the token refused) and one that
loaded, then failed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_INTERRUPTED, CdrError, ConfigError
from cdr_pipeline.fetch.results import FetchResult
from cdr_pipeline.fetch.runner import COMMAND
from cdr_pipeline.ingest import new_run_id
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_ending, run_record

log = logging.getLogger(__name__)


def record_idle_run(settings: Settings, result: FetchResult) -> str | None:
    """A `cdr fetch` that ingested nothing (no records in its windows, or an API error
    first) is still a run of `cdr runs`, with how it ended; one that ingested is recorded
    by its ingests; when it then failed (the token expired, the API kept failing), the
    last ingest's row takes the run's ending, or `cdr runs` shows the night as a good one.
    Returns the run id written, if any."""
    if result.ingests:
        return _record_failure(settings, result) if result.error is not None else None
    status, code = run_ending(result.exit_code, "ok")
    what = "report" if result.report_id else f"{len(result.windows)} window(s)"
    message = result.error.one_line() if result.error is not None else f"no records in {what}"
    try:
        return _write_own_row(settings, result, status, code, message)
    except OSError as exc:  # the exit code says what went wrong; this is bookkeeping
        log.warning("the ledger does not record this fetch (%s)", exc)
        return None


def _write_own_row(
    settings: Settings, result: FetchResult, status: str, code: int, message: str
) -> str:
    """Write the fetch's own row of `cdr runs` (one that no ingest of it wrote); returns
    its run id."""
    finished = datetime.now(UTC)
    started = finished - timedelta(seconds=result.seconds)
    run_id = new_run_id(started)
    row = run_record(
        run_id,
        COMMAND,
        status=status,
        started_at=started,
        finished_at=finished,
        exit_code=code,
        message=message,
    )
    Ledger(settings.layout).write("runs", run_id, [row], RUNS_SCHEMA)
    return run_id


def _record_failure(settings: Settings, result: FetchResult) -> str | None:
    assert result.error is not None
    run_id = result.ingests[-1].run_id
    status, code = run_ending(result.exit_code, "ok")
    try:
        Ledger(settings.layout).note_after([run_id], code, result.error.one_line(), status)
    except (OSError, CdrError) as exc:  # the exit code says what went wrong
        log.warning("the ledger does not record how this fetch ended (%s)", exc)
        return None
    return run_id


def record_refused_run(
    settings: Settings, error: ConfigError, report_id: str | None = None
) -> str | None:
    """A `cdr fetch` refused before it loaded anything (no token, or the API refusing it:
    an expired token, exit 3) is a run of `cdr runs` too, with the reason; the night a
    token expired is not a night with no fetch. Returns the run id written, if any."""
    source = "report" if report_id else settings.fetch.source
    return record_idle_run(settings, FetchResult(source, report_id=report_id, error=error))


def record_stopped_run(settings: Settings, result: FetchResult) -> str | None:
    """A `cdr fetch` stopped by Ctrl-C or SIGTERM (a scheduler's time limit) is `interrupted`
    in `cdr runs`: the row of its last ingest says so, or a row of its own when it had loaded
    nothing yet. Without it, a run stopped between windows showed as the `ok` of the windows
    it loaded, and one stopped before it loaded anything as no run at all. Best effort, as
    the stop is on its way out. Returns the run id written, if any."""
    message = (
        "stopped (Ctrl-C, SIGTERM or SIGHUP) before its end; "
        "the next run resumes from the watermark"
    )
    try:
        if not result.ingests:
            return _write_own_row(settings, result, "interrupted", EXIT_INTERRUPTED, message)
        run_id = result.ingests[-1].run_id
        Ledger(settings.layout).note_after([run_id], EXIT_INTERRUPTED, message, "interrupted")
        return run_id
    except (OSError, CdrError) as exc:  # the exit code says what happened
        log.warning("the ledger does not record this stopped fetch (%s)", exc)
        return None
