"""Time windows of the Detailed Call History APIs (docs/webex-dch.md#windows).

`cdr_feed` filters on Report time, between 30 days and 5 minutes ago, at most 12 h per request;
`cdr_stream` filters on insertion time, over the last 12 h, at most 2 h per request, ending at
least 1 minute ago. Windows are inclusive at both ends (docs/webex-dch.md#windows), so consecutive
windows are `[s, s + max - 1 ms]`, `[s + max, ...]`: no record sits on two boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cdr_pipeline.text import iso_ms, stamp_ms

MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    endpoint: str
    source_kind: str
    max_window: timedelta
    horizon: timedelta
    """How far back the API serves records."""
    min_lag: timedelta
    """How close to now a window may end."""
    filtered_on: str


FEED = SourceSpec(
    "feed", "cdr_feed", "api_feed", timedelta(hours=12), timedelta(days=30),
    timedelta(minutes=5), "report time",
)  # fmt: skip
STREAM = SourceSpec(
    "stream", "cdr_stream", "api_stream", timedelta(hours=2), timedelta(hours=12),
    timedelta(minutes=1), "insertion time",
)  # fmt: skip
SPECS = {s.name: s for s in (FEED, STREAM)}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    """Inclusive, like the API's endTime."""

    @property
    def name(self) -> str:
        """Folder name of the window's saved pages."""
        return f"{compact(self.start)}_{compact(self.end)}"


def floor_ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def api_time(t: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the API's time format."""
    return iso_ms(t.astimezone(UTC))


def compact(t: datetime) -> str:
    return stamp_ms(t.astimezone(UTC))


class OutOfRange(ValueError):
    """A time past what a UTC datetime holds (year 1 to 9999)."""


def parse_time(value: str | datetime | date) -> datetime:
    """A UTC datetime from ISO-8601 text (`Z` or offset; naive means UTC; a date is midnight).
    OutOfRange (a ValueError) for a time UTC cannot hold (`0001-01-01T00:00+14:00`): its
    OverflowError went past every handler, a crash of `--since` or of a page whose Report time
    held one."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        t = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    try:
        return floor_ms(t.astimezone(UTC))
    except OverflowError:
        raise OutOfRange(f"{value} is out of range in UTC") from None


def horizon_start(spec: SourceSpec, now: datetime) -> datetime:
    """The earliest instant `spec` serves at `now`, with a minute of margin, so a window at
    the edge is not already outside the horizon when sent."""
    return floor_ms(now) - spec.horizon + timedelta(minutes=1)


def resume_from(
    spec: SourceSpec, watermark: datetime, overlap: timedelta, now: datetime
) -> datetime:
    """Where a run from `watermark` starts: `overlap` before it, but not before the API's
    horizon (unless the watermark itself is). The overlap past the horizon was clamped with
    a warning that the start was older than the API serves, to use the feed or a report:
    for a stream run 10 h after the last, records that were all fetched."""
    return max(watermark - overlap, min(watermark, horizon_start(spec, now)))


def plan_windows(
    spec: SourceSpec, start: datetime, end: datetime | None, now: datetime
) -> tuple[list[Window], list[str]]:
    """Windows covering [start, end], clamped to what the API serves. Returns the windows and
    notes saying what was clamped. `end` None is as late as the API serves: no note (a run
    without `--until` asked for nothing later, and a note on every scheduled run is noise)."""
    notes: list[str] = []
    now = floor_ms(now)
    earliest = horizon_start(spec, now)
    latest = now - spec.min_lag
    if start < earliest:
        notes.append(
            f"start {api_time(start)} is older than the {spec.endpoint} horizon "
            f"({span_text(spec.horizon)}); clamped to {api_time(earliest)}"
            + (
                " (use a Control Hub report, --report-id, for older records)"
                if spec is FEED
                else " (use --source feed for older records, within 30 days)"
            )
        )
        start = earliest
    if end is None:
        end = latest
    elif end > latest:
        notes.append(
            f"end {api_time(end)} is later than now - {span_text(spec.min_lag)}; "
            f"clamped to {api_time(latest)}"
        )
        end = latest
    windows: list[Window] = []
    s = floor_ms(start)
    while s <= end:
        e = min(s + spec.max_window - MS, end)
        windows.append(Window(s, e))
        s = e + MS
    if windows and windows[-1].start == windows[-1].end:
        # a window of one instant, startTime equal to endTime, is refused by the API
        # (endTime must be later): the end of a range of whole windows (`--since 00:00
        # --until 12:00`), asked on its own after the rate limit's minute, is taken by the
        # window before (12 h from start to end is what the API serves: its docs ask 9:51 AM
        # to 9:51 PM); a range of one instant (a first run with `lookback_hours = 0`) starts
        # 1 ms earlier
        first = windows[-2].start if len(windows) > 1 else end - MS
        windows[-2:] = [Window(first, end)]
    if not windows:
        notes.append(f"nothing to fetch: start {api_time(start)} is after end {api_time(end)}")
    return windows, notes


def span_text(d: timedelta) -> str:
    """`d` as people say it in a note (`30 days`, `12 h`, `5 min`)."""
    seconds = int(d.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def lost_gap(spec: SourceSpec, before: datetime, first: datetime) -> str:
    """The note for records between the watermark and the API's horizon: fetched by no run,
    and beyond what `spec` serves now. Says where they can still be had."""
    where = (
        "a Control Hub report (--report-id)"
        if spec.name == "feed"
        else f"the feed (cdr fetch --source feed --since {api_time(before)}, within 30 days) "
        "or a Control Hub report (--report-id)"
    )
    return (
        f"records of {api_time(before)}..{api_time(first - MS)} are no longer served by "
        f"{spec.endpoint} (it keeps {span_text(spec.horizon)}) and were not fetched; the watermark "
        f"moves on from {api_time(first)}; load them from {where}"
    )
