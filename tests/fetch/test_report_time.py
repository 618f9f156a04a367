"""The `Report time` the late-data rule reads, in the spellings the ingest reads."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.fetch.pages import page_records
from cdr_pipeline.fetch.redactor import Redactor
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for, warehouse_ids
from tests.fetch.fakewebex import FakeWebex, make_records


@pytest.mark.parametrize("key", ["Report Time", "report_time", " Report  time"])
def test_a_late_window_reads_report_time_in_any_spelling(
    key: str, tmp_path: Path, clock: FakeClock
) -> None:
    """Header spellings differ between API versions (docs/webex-dch.md: match them trimmed
    and case-folded), and the ingest loads `Report Time` as report_time. The watermark's
    scan read only `Report time`: a page in another spelling had no report time, so a
    window within the late-data horizon moved the watermark to its end, and records that
    arrived late in it were never asked for again."""
    records = make_records(20, NOW - timedelta(hours=3), timedelta(minutes=6))
    last = max(datetime.fromisoformat(r["Report time"].replace("Z", "+00:00")) for r in records)
    assert last > NOW - timedelta(hours=2)  # inside the late-data horizon
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        served = server.cdrs

        def respelled(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
            status, headers, body = served(path, query)
            return status, headers, body.replace(b'"Report time"', f'"{key}"'.encode())

        server.cdrs = respelled  # type: ignore[method-assign]
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=4), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    assert result.exit_code == 0 and len(warehouse_ids(settings)) == len(records)
    assert result.watermark_after == last + timedelta(milliseconds=1)


def test_a_late_window_without_a_readable_report_time_holds_the_watermark(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Records without a `Report time` the scan can read (a field renamed by a new API
    version, a value in a new format) gave no last report time, and a window within the
    late-data horizon moved the watermark to its end, past the late records still to come.
    It holds the watermark now, with a warning, as an empty late window does."""
    records = make_records(20, NOW - timedelta(hours=3), timedelta(minutes=6))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        served = server.cdrs

        def unreadable(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
            status, headers, body = served(path, query)
            return status, headers, body.replace(b'"Report time"', b'"Report timestamp"')

        server.cdrs = unreadable  # type: ignore[method-assign]
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=4), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    assert result.exit_code == 0 and len(warehouse_ids(settings)) == len(records)
    assert result.watermark_after == result.windows[0].start
    assert any("none with a readable Report time" in w for w in result.warnings), result.notes


def test_a_late_window_moved_to_its_last_report_time_stops_the_watermark_there(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Two windows inside the late-data horizon (a run whose last window is shorter than
    `late_hours`): the first moved the watermark to its last Report time only, as records
    may still arrive after it, but the second then moved it on to its own, past the rest of
    the first, whose late records no run asked for again. The watermark is the first
    instant not covered: it stops at the first window it passes only in part."""
    early = make_records(10, NOW - timedelta(hours=13), timedelta(hours=1), seed="a")
    late = make_records(5, NOW - timedelta(minutes=50), timedelta(minutes=6), seed="b")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, early + late) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=13), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    assert [w.records for w in result.windows] == [10, 5]
    assert result.windows[0].end > NOW - timedelta(hours=2)  # both inside the horizon
    assert result.exit_code == 0 and len(warehouse_ids(settings)) == 15
    last_early = NOW - timedelta(hours=13) + 9 * timedelta(hours=1)
    assert result.watermark_after == last_early + timedelta(milliseconds=1)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999-14:00"])
def test_a_report_time_utc_cannot_hold_is_unreadable_not_a_crash(value: str) -> None:
    """An offset that takes a time past year 1 or 9999 in UTC raised OverflowError, which
    went past the scan's handlers: the run crashed ('report it') on one record's value."""
    records = make_records(3, NOW - timedelta(hours=3), timedelta(minutes=6))
    records[2]["Report time"] = value
    page = json.dumps({"items": records}).encode()
    second = datetime.fromisoformat(records[1]["Report time"].replace("Z", "+00:00"))
    assert page_records(page, Redactor([TOKEN]), "http://127.0.0.1:1/v1/cdr_feed") == (3, second)


def test_a_report_time_at_the_end_of_time_does_not_count(tmp_path: Path, clock: FakeClock) -> None:
    """A late window's watermark is its last Report time within the window + 1 ms: a record
    dated past the window's end (here the end of time) does not count. It moved the
    watermark to the window's end, over the late records still to come (and its own sum,
    9999-12-31T23:59:59.999Z + 1 ms, once overflowed: a crash, 'report it'). A loaded run
    lets the reject gate pass the record."""
    records = make_records(5, NOW - timedelta(hours=1), timedelta(minutes=6))
    records[-1]["Report time"] = "9999-12-31T23:59:59.999Z"
    settings = dataclasses.replace(settings_for(tmp_path), max_reject_rate=1.0)
    with FakeWebex(TOKEN, records) as server:
        server.cdrs = lambda path, query: (200, {}, json.dumps({"items": records}).encode())  # type: ignore[method-assign]
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=1), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    assert result.exit_code == 0, result.notes
    last_within = NOW - timedelta(hours=1) + 3 * timedelta(minutes=6)
    assert result.watermark_after == last_within + timedelta(milliseconds=1)


def _dated(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_record_dated_past_its_window_leaves_late_records_to_the_next_run(
    tmp_path: Path, clock: FakeClock
) -> None:
    """With `overlap_hours = 0`, the next run starts at the watermark. A late window whose
    answer held a record dated past the window's end (an update re-dated it while the
    window was asked) moved the watermark to the window's end: a record that arrived late
    between the real last one and that end was never fetched."""
    since = NOW - timedelta(hours=1)
    records = make_records(4, since + timedelta(minutes=1), timedelta(minutes=6))
    records[-1]["Report time"] = _dated(NOW + timedelta(hours=1))  # past the window's end
    late = make_records(1, NOW - timedelta(minutes=20), timedelta(minutes=1), seed="late")
    settings = settings_for(tmp_path, overlap_hours=0)
    with FakeWebex(TOKEN) as server:
        served = server.cdrs
        server.cdrs = lambda path, query: (200, {}, json.dumps({"items": records}).encode())  # type: ignore[method-assign]
        first = fetch_records(settings, "feed", since, client=make_client(server.url, clock),
                              now=NOW)  # fmt: skip
        server.cdrs = served  # type: ignore[method-assign]
        server.records = late  # it reaches the API after the first run
        again = fetch_records(settings, "feed", client=make_client(server.url, FakeClock()),
                              now=NOW + timedelta(hours=3))  # fmt: skip
    assert first.exit_code == 0 and again.exit_code == 0, first.notes + again.notes
    last_within = since + timedelta(minutes=13)
    assert first.watermark_after == last_within + timedelta(milliseconds=1)
    assert late[0]["Report ID"] in warehouse_ids(settings)


def test_a_late_window_of_records_all_past_its_end_holds_the_watermark(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Records all dated past the window's end tell nothing of how far it is covered: the
    window holds the watermark, with a warning, as one without a readable Report time."""
    since = NOW - timedelta(hours=1)
    records = make_records(3, NOW + timedelta(hours=1), timedelta(minutes=6))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN) as server:
        server.cdrs = lambda path, query: (200, {}, json.dumps({"items": records}).encode())  # type: ignore[method-assign]
        result = fetch_records(settings, "feed", since, client=make_client(server.url, clock),
                               now=NOW)  # fmt: skip
    assert result.exit_code == 0 and len(warehouse_ids(settings)) == 3, result.notes
    assert result.watermark_after == result.windows[0].start
    assert any("none with a readable Report time within it" in w for w in result.warnings)
