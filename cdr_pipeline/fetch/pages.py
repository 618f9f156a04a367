"""A fetched page: its records, their report times, and whether the ingest ledger accounts
for every one of them (the condition for the watermark to pass a window)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from cdr_pipeline.fetch.client import FetchError
from cdr_pipeline.fetch.redactor import Redactor
from cdr_pipeline.fetch.response import Response, loads
from cdr_pipeline.fetch.results import WindowResult
from cdr_pipeline.fetch.store import clear_window, save_page
from cdr_pipeline.fetch.windows import parse_time
from cdr_pipeline.ingest.results import IngestResult


def unaccounted(ingest: IngestResult, pages: Mapping[Path, int]) -> list[str]:
    """What of `pages` (path -> records the API sent) the ingest ledger does not account
    for: a page not loaded (failed, or missing from the run), or one whose rows read differ
    from its records or are not all loaded, duplicate or rejected. Empty when every record
    is accounted for: only then may the watermark pass the window."""
    by_path = {Path(f.path): f for f in ingest.files}
    problems = []
    for page, records in pages.items():
        f = by_path.get(page)
        if f is None:
            problems.append(f"{page}: not ingested")
        elif f.status == "skipped":
            continue  # the same bytes were loaded (and counted) before
        elif f.status != "loaded":
            problems.append(f"{page}: {f.status}: {f.message}")
        elif f.rows_read != records or f.rows_read != (
            f.rows_loaded + f.rows_duplicate + f.rows_rejected
        ):
            problems.append(
                f"{page}: {records} record(s) sent, {f.rows_read} read, {f.rows_loaded} "
                f"loaded, {f.rows_duplicate} duplicate, {f.rows_rejected} rejected"
            )
    return problems


def page_items(raw: bytes, redact: Redactor, url: str) -> list[object]:
    """The records of a page, checking that it is a JSON object with an `items` list of
    objects (a list of anything else is no Webex data: saved, it would fail every ingest)."""
    try:
        data = loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FetchError(
            f"{redact.url(url)}: the answer is not JSON ({redact(str(exc))})",
            hint="check --base-url: a proxy or captive portal may answer instead of Webex",
        ) from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise FetchError(f"{redact.url(url)}: the answer has no 'items' list")
    if not all(isinstance(item, dict) for item in items):
        raise FetchError(
            f"{redact.url(url)}: the answer's 'items' are not call records (JSON objects)",
            hint="check --base-url: a proxy or another service may answer instead of Webex",
        )
    return items


def report_time(item: object) -> datetime | None:
    if not isinstance(item, dict):
        return None
    value = item.get("Report time")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_time(value.replace(" ", "T", 1))
    except ValueError:
        return None


def save_window_pages(
    pages: Iterable[Response],
    redact: Redactor,
    folder: Path,
    wr: WindowResult,
    saved: dict[Path, int],
) -> None:
    """Save each non-empty page of a window in `folder`, counting its records in `wr` and
    adding path -> records to `saved` as it goes: when the API fails mid-window, `saved`
    holds the pages it sent before."""
    for response in pages:
        items = page_items(response.body, redact, response.url)
        if not items:
            continue
        if wr.pages == 0:
            # pages of an earlier fetch of this window: superseded now that a fresh copy
            # arrives (they were ingested at the start of this run)
            clear_window(folder)
        wr.pages += 1
        wr.records += len(items)
        for item in items:
            rt = report_time(item)
            if rt is not None and (wr.max_report_time is None or rt > wr.max_report_time):
                wr.max_report_time = rt
        # the bytes as the API sent them: the page is data, never rewritten
        saved[save_page(folder, wr.pages, response.body)] = len(items)
