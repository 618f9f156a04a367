"""`fetch_records`: pull call records from the Webex APIs into the warehouse.

One run: replay saved-but-not-ingested pages -> find the org -> plan windows from the
watermark (minus the overlap) -> per window: fetch every page, save each page, ingest the
window's pages through the same path as files, advance the watermark -> result object.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdr_pipeline.config import FetchOptions, Settings, with_fetch_flags
from cdr_pipeline.errors import EXIT_BAD_INPUT, CdrError, ConfigError
from cdr_pipeline.fetch.alive import fetch_alive
from cdr_pipeline.fetch.client import WebexClient
from cdr_pipeline.fetch.limiter import RateLimiter, Sleep
from cdr_pipeline.fetch.pages import save_window_pages, unaccounted
from cdr_pipeline.fetch.results import FetchResult, WindowResult
from cdr_pipeline.fetch.store import (
    SOURCE_KINDS,
    fetched_dir,
    org_folder,
    pending_pages,
    read_watermark,
    rows_read_before,
    safe_name,
    superseded,
    watermark_key,
    write_watermark,
)
from cdr_pipeline.fetch.token import read_token
from cdr_pipeline.fetch.watermark import joins_watermark, watermark_candidate
from cdr_pipeline.fetch.windows import (
    SPECS,
    SourceSpec,
    Window,
    api_time,
    horizon_start,
    lost_gap,
    parse_time,
    plan_windows,
    resume_from,
)
from cdr_pipeline.ingest import IngestResult, ingest_paths, new_run_id
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.ingest.results import ProgressEvent, ProgressFn
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import writer_lock

log = logging.getLogger(__name__)

COMMAND = "cdr fetch"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def client_from_options(
    options: FetchOptions,
    env: Mapping[str, str] | None = None,
    *,
    limiter: RateLimiter | None = None,
    sleep: Sleep = time.sleep,
) -> WebexClient:
    """A WebexClient with the token and hosts of `options` and Cisco's real rate limits."""
    return WebexClient(
        read_token(options, env),
        analytics_url=options.analytics_url,
        api_url=options.general_api_url,
        limiter=limiter,
        retries=options.retries,
        backoff_seconds=options.backoff_seconds,
        timeout_seconds=options.timeout_seconds,
        max_region_redirects=options.max_region_redirects,
        sleep=sleep,
        renew=lambda: read_token(options, env),
    )


def fetch_records(
    settings: Settings,
    source: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    *,
    report_id: str | None = None,
    locations: Sequence[str] | None = None,
    region: str | None = None,
    base_url: str | None = None,
    client: WebexClient | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: ProgressFn | None = None,
) -> FetchResult:
    """Fetch Detailed Call History records (`source` 'feed' or 'stream', default from
    `[fetch] source`) or one Control Hub report (`report_id`) and ingest them.

    Without `since`, a run continues from the watermark of (source, org) minus
    `[fetch] overlap_hours` (first run: the last `lookback_hours`). Raises for configuration
    errors (bad `[fetch]` table, no token) and when another fetch runs (LockBusy); an API or
    ingest failure mid-run ends the run with `result.error` set and the work done so far kept.
    `progress` hears of each window done (the records so far, the windows done of all): at
    the API's rate limit a backfill takes about a minute a window.
    """
    t0 = time.monotonic()
    options = with_fetch_flags(
        settings.fetch,
        source=source,
        region=region,
        base_url=base_url,
        locations=list(locations) if locations else None,
    )
    if client is None:
        client = client_from_options(options, env)
    result = FetchResult(source="report" if report_id else options.source, report_id=report_id)
    ledger = Ledger(settings.layout)
    # one fetch at a time: two would share the token's rate limit and race on the watermark
    with (
        writer_lock(settings.layout, COMMAND, settings.lock_wait_seconds, name="fetch.lock"),
        fetch_alive(settings, COMMAND, new_run_id(datetime.now(UTC))) as alive,
    ):
        # a kill -9 leaves the mark of this run: the next one records it `interrupted`
        def heard(event: ProgressEvent) -> None:
            alive.beat()
            if progress is not None:
                progress(event)

        try:
            _replay(settings, ledger, result)
            org_id = options.org_id or client.org_id()
            result.org_id = org_id
            client.keep_readable(org_id, org_folder(org_id))
            if report_id:
                _fetch_report(settings, client, org_id, report_id, result)
            else:
                _fetch_windows(
                    settings, options, client, ledger, org_id, since, until, now, result, heard
                )
        except KeyboardInterrupt:
            # Ctrl-C, or SIGTERM at a scheduler's time limit: `cdr runs` says so (the
            # windows loaded before read as a whole run otherwise); the pages saved stay
            # and the next run resumes from the watermark
            from cdr_pipeline.fetch.runs import record_stopped_run  # runs imports this module

            result.seconds = time.monotonic() - t0
            record_stopped_run(settings, result)
            raise
        except ConfigError as exc:
            if not (result.ingests or result.pages):
                raise
            # a token that expires mid-run: what was loaded stays, and the command still
            # refreshes the views and reports it (exit 3)
            result.error = exc
            log.debug("%s", exc.message)
        except CdrError as exc:
            # the result carries the error: `cdr fetch` prints it with its hint, the nightly
            # in its fetch stage (an error log here printed it twice)
            result.error = exc
            log.debug("%s", exc.message)
    result.host = client.analytics_url
    result.requests = client.requests
    result.seconds = time.monotonic() - t0
    return result


def _ingest(
    settings: Settings, paths: list[Path], source_kind: str, result: FetchResult
) -> IngestResult:
    ingest = ingest_paths(settings, paths, kind="calls", source_kind=source_kind, command=COMMAND)
    result.ingests.append(ingest)
    return ingest


def _replay(settings: Settings, ledger: Ledger, result: FetchResult) -> None:
    """Ingest pages saved by an earlier run that did not get to ingest them."""
    pending = pending_pages(settings, ledger)
    stale = superseded(pending, ledger)
    if stale:
        log.info(
            "%d saved page(s) that failed to load were fetched again since (their windows "
            "are behind the watermark); not replayed: prune them with their window folders",
            len(stale),
        )
        pending = [p for p in pending if p not in stale]
    if not pending:
        return
    log.info("%d saved page(s) were not ingested yet; ingesting them first", len(pending))
    for kind in SOURCE_KINDS.values():
        paths = [p.path for p in pending if p.source_kind == kind]
        if paths:
            _ingest(settings, paths, kind, result)
            result.replayed_pages.extend(paths)


def _fetch_report(
    settings: Settings, client: WebexClient, org_id: str, report_id: str, result: FetchResult
) -> None:
    safe = safe_name(report_id, "report")
    # kept as downloaded: usually a ZIP without extension; ingest sniffs it by magic bytes
    path = fetched_dir(settings) / "report" / org_folder(org_id) / safe / f"report-{safe}"
    meta = client.report_download(report_id, path)
    result.pages.append(path)
    log.info(
        "report %s (%s): %d bytes saved", report_id, meta.get("title", "?"), path.stat().st_size
    )
    ingest = _ingest(settings, [path], SOURCE_KINDS["report"], result)
    result.records = ingest.total("rows_read")
    if any(f.status == "skipped" for f in ingest.files):
        # the same report again: its records were counted by the load of its content, and
        # a rerun said '0 records' of a report that holds them
        result.rows_loaded_before = rows_read_before(Ledger(settings.layout), path)
        result.records += result.rows_loaded_before


def _fetch_windows(
    settings: Settings,
    options: FetchOptions,
    client: WebexClient,
    ledger: Ledger,
    org_id: str,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime | None,
    result: FetchResult,
    progress: ProgressFn | None = None,
) -> None:
    spec = SPECS[options.source]
    org = org_folder(org_id)
    now = now or datetime.now(UTC)
    key = watermark_key(org, options.locations)
    mark = read_watermark(ledger, spec.name, key, fallback=org)
    before: datetime | None = mark["watermark"] if mark else None
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    result.watermark_before = result.watermark_after = before
    start = _start(spec, options, since, before, now)
    end = parse_time(until) if until is not None else None  # None: as late as served
    windows, notes = plan_windows(spec, start, end, now)
    for note in notes:  # a range clamped to what the API serves
        result.warn(note)
    advancing = joins_watermark(spec, start, before, windows, result)
    late_edge = now - timedelta(hours=options.late_hours)
    label = f"{spec.endpoint}, {len(windows)} window(s)"

    def move(to: datetime) -> None:
        write_watermark(ledger, source=spec.name, org_id=org_id, org=key, watermark=to,
                        previous=before, windows=len(result.windows),
                        records=result.records)  # fmt: skip
        result.watermark_after = to

    if before is None and windows:
        # a first run that could not pass its first window (empty and late, not loaded
        # cleanly) left no watermark: the next began after it, at now - lookback_hours
        move(windows[0].start)
    clock = _run_clock(client, now)
    for done, window in enumerate(windows, 1):
        wr = _fetch_window(settings, options, client, spec, key, window, result, clock)
        if progress is not None:
            progress(ProgressEvent(label, result.records, done, len(windows), done == len(windows)))
        if not advancing:
            continue
        candidate = watermark_candidate(spec.name, window, wr, late_edge, options, result)
        if candidate is None:
            advancing = False
            continue
        if result.watermark_after is None or candidate > result.watermark_after:
            move(candidate)
        # passed to its last Report time only, it may still fill: no later window moves on
        advancing = candidate > window.end


def _run_clock(client: WebexClient, now: datetime) -> Callable[[], datetime]:
    """Now as the run goes on, from `now` at its start and the client's clock (its waits
    included: the rate limit, Retry-After, backoff): where the API's horizon is at a send."""
    began = client.limiter.clock()
    return lambda: now + timedelta(seconds=client.limiter.clock() - began)


def _start(
    spec: SourceSpec,
    options: FetchOptions,
    since: str | datetime | None,
    before: datetime | None,
    now: datetime,
) -> datetime:
    """`since`, else the watermark minus the overlap (`resume_from`), else `lookback_hours`
    ago but no later than the API serves (a shorter lookback planned no window, run after run)."""
    if since is not None:
        return parse_time(since)
    if before is not None:
        return resume_from(spec, before, timedelta(hours=options.overlap_hours), now)
    return min(now - timedelta(hours=options.lookback_hours), now - spec.min_lag)


def _fetch_window(
    settings: Settings,
    options: FetchOptions,
    client: WebexClient,
    spec: SourceSpec,
    org: str,
    window: Window,
    result: FetchResult,
    clock: Callable[[], datetime],
) -> WindowResult:
    wr = WindowResult(window.start, window.end)
    # listed before it is fetched: a window the API fails in is one of the run's windows,
    # with the pages it sent (a summary of "0 window(s), 2 page(s)" hid where they came from)
    result.windows.append(wr)
    # a run for some locations saves under its watermark key (`<org>.locations-<digest>`):
    # its windows hold those locations' calls only, and cover no day of the org's
    folder = fetched_dir(settings) / spec.name / org / window.name
    asked = [window.start]

    def params() -> dict[str, str]:
        # made at each send of the window's first request: after a long wait (a 429's
        # Retry-After, the rate limit, retries) a start clamped to the horizon when the run
        # began is past it, and the API refuses the window
        asked[0] = min(max(window.start, horizon_start(spec, clock())), window.end)
        query = {"startTime": api_time(asked[0]), "endTime": api_time(window.end),
                 "max": str(options.page_size)}  # fmt: skip
        if options.locations:
            query["locations"] = ",".join(options.locations)
        return query

    saved: dict[Path, int] = {}
    try:
        pages = client.pages(spec.endpoint, params)
        save_window_pages(pages, client.redact, folder, wr, saved, Limits.of(settings))
        _other_org(options.org_id, wr, result)
        # what the wait took past the horizon, unless fetched before (an overlap)
        unfetched = max(window.start, result.watermark_before or window.start)
        if asked[0] > unfetched:
            result.warn(lost_gap(spec, unfetched, asked[0]))
    except CdrError as exc:
        # the API failed mid-window: the pages it sent are loaded now, not left on disk
        # for a later run; the window is incomplete, so the watermark stays before it
        _load_window(settings, spec, saved, wr, result)
        wr.exit_code = max(wr.exit_code, exc.exit_code)
        raise
    _load_window(settings, spec, saved, wr, result)
    return wr


def _other_org(org_id: str | None, wr: WindowResult, result: FetchResult) -> None:
    """Warn (once a run) when the records carry another `Org UUID` than the configured
    `[fetch] org_id`: the CDR API serves the token's own org (it takes no org parameter), so
    an org_id set to a customer's org filed the token's org's records as the customer's."""
    uuid = org_folder(org_id).lower() if org_id else ""
    other = [o for o in wr.orgs if o != uuid]
    if not UUID.fullmatch(uuid) or not other or any("[fetch] org_id" in n for n in result.notes):
        return
    result.warn(
        f"the records of {api_time(wr.start)}..{api_time(wr.end)} are of org {other[0]}, not "
        f"of [fetch] org_id ({uuid}); the CDR API serves the token's own org (it takes no "
        "org parameter), and their pages and watermark are kept under the configured org: "
        "set [fetch] org_id to the token's org or leave it unset (to fetch another org's "
        "records, use a token of an admin of that org)"
    )


def _load_window(
    settings: Settings, spec: SourceSpec, saved: dict[Path, int], wr: WindowResult,
    result: FetchResult,
) -> None:  # fmt: skip
    """Count and ingest the pages saved of a window; a record not accounted for in the
    ingest ledger marks the window unclean (its watermark holds)."""
    result.pages.extend(saved)
    result.records += wr.records
    log.info(
        "%s %s..%s: %d page(s), %d record(s)",
        spec.endpoint,
        api_time(wr.start),
        api_time(wr.end),
        wr.pages,
        wr.records,
    )
    if saved:
        ingest = _ingest(settings, list(saved), spec.source_kind, result)
        wr.exit_code = ingest.exit_code
        before = {Path(f.path) for f in ingest.files if f.status == "skipped"}
        result.rows_loaded_before += sum(n for page, n in saved.items() if page in before)
        missing = unaccounted(ingest, saved)
        if missing:
            wr.exit_code = max(wr.exit_code, EXIT_BAD_INPUT)
            for problem in missing:
                result.warn(problem)
