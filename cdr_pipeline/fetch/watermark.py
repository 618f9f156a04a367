"""Where the watermark may move over a run's windows (docs/fetch.md#watermarks-and-late-data):
only over windows that join what is covered, loaded cleanly, and out of the late-data horizon
(or, inside it, to the last Report time seen)."""

from __future__ import annotations

from datetime import datetime

from cdr_pipeline.config import FetchOptions
from cdr_pipeline.errors import EXIT_OK
from cdr_pipeline.fetch.results import FetchResult, WindowResult
from cdr_pipeline.fetch.windows import MS, SourceSpec, Window, api_time, lost_gap


def joins_watermark(
    spec: SourceSpec,
    start: datetime,
    before: datetime | None,
    windows: list[Window],
    result: FetchResult,
) -> bool:
    """Whether the watermark may move over `windows`: only when they join what is already
    covered, so a gap is never skipped. A range asked from before the watermark joins it
    even when the API's horizon clamped its start: the records in between are gone from the
    API, and holding the watermark would clamp every later run to the horizon again,
    re-reading all of it each time and never moving on."""
    if before is None or not windows or windows[0].start <= before:
        return True
    if start <= before:
        result.warn(lost_gap(spec, before, windows[0].start))
        return True
    result.notes.append(
        f"the requested range starts after the watermark {api_time(before)}; "
        "the watermark is left where it is (a gap would be skipped otherwise)"
    )
    return False


def watermark_candidate(
    source: str,
    window: Window,
    wr: WindowResult,
    late_edge: datetime,
    options: FetchOptions,
    result: FetchResult,
) -> datetime | None:
    """Where the watermark may move after `window`, or None when it must stay before it
    (the window did not load cleanly, or is empty and may still fill)."""
    span = f"window {api_time(window.start)}..{api_time(window.end)}"
    if wr.exit_code != EXIT_OK:
        result.warn(
            f"{span} did not ingest cleanly (not every record is loaded, duplicate or "
            "rejected in the ledger); the watermark stays before it"
        )
        return None
    if window.end <= late_edge:
        return window.end + MS
    if wr.empty:
        # as the Splunk add-on does (docs/webex-dch.md#late-and-updated-records): an empty
        # window inside the late-data horizon may still fill; never move past it
        result.notes.append(
            f"{span} is empty and within {options.late_hours:g} h of now; "
            "the watermark stays before it"
        )
        return None
    if source != "feed":
        return window.end + MS
    if wr.max_report_time is None:  # moved to the window's end, it would skip late records
        result.warn(
            f"{span} has records but none with a readable Report time within it, and is "
            f"within {options.late_hours:g} h of now; the watermark stays before it"
        )
        return None
    # the last Report time within the window (the scan counts none past its end: one
    # dated past it moved the watermark to the end, over the late records still to come)
    return min(wr.max_report_time, window.end) + MS
