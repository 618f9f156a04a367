"""Fetched pages are data: saved byte for byte, every record loaded, and the watermark passes a
window only when the ingest ledger accounts for every record of it."""

from __future__ import annotations

import gzip
import itertools
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.fetch import FetchResult, fetch_records
from cdr_pipeline.fetch import pages as pages_module
from cdr_pipeline.fetch import paging as paging_module
from cdr_pipeline.fetch.client import FetchError
from cdr_pipeline.fetch.pages import page_records, unaccounted
from cdr_pipeline.fetch.redactor import Redactor
from cdr_pipeline.fetch.store import read_watermark
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.ingest.results import FileResult, IngestResult
from cdr_pipeline.state.ledger import Ledger
from tests.fetch.conftest import (
    NOW,
    TOKEN,
    FakeClock,
    fetch_window,
    make_client,
    settings_for,
    warehouse,
)
from tests.fetch.fakewebex import ORG_UUID, FakeWebex, Fault, make_records
from tests.fetch.fakewebex import iso as fake_iso


def stored_watermark(settings: Settings) -> datetime | None:
    """The feed watermark the ledger keeps for the test org (a first run that could not
    pass its window keeps it at the window's start: before it)."""
    mark = read_watermark(Ledger(settings.layout), "feed", ORG_UUID)
    return None if mark is None else mark["watermark"].replace(tzinfo=UTC)


def test_pages_are_saved_byte_for_byte_and_every_record_loads(
    tmp_path: Path, clock: FakeClock
) -> None:
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    # values that look like credentials, with quotes the JSON body must escape
    tricky = [
        'O"Brien access_token=abc"def',
        "x?access_token=abc&sig=1",
        "Bearer abc.def",
        '{"id_token": "q"} \\ tab\there é',
    ]
    for record, value in zip(records, tricky, strict=False):
        record["User"] = value
    records[5]["Called number"] = 'refresh_token="zz"'
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
        sent = list(server.sent_pages)
    assert result.exit_code == 0 and result.error is None, result.notes
    assert len(sent) >= 2 and b'access_token=abc\\"def' in sent[0]
    saved = [gzip.decompress(p.read_bytes()) for p in result.pages]
    assert saved == sent  # byte for byte what the server sent
    assert result.records == len(records) == result.total("rows_loaded")
    table = warehouse(settings)
    assert sorted(table["report_id"].to_list()) == sorted(r["Report ID"] for r in records)
    users = set(table["user_name"].to_list())
    assert set(tricky) <= users
    assert 'refresh_token="zz"' in set(table["called_number"].to_list())
    assert result.watermark_after == NOW - timedelta(hours=12) + timedelta(milliseconds=1)


def test_watermark_stays_when_a_page_fails_to_ingest(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    for record in records[:10]:
        record["Start time"] = "not a time"  # 10 of 30 rows rejected: above the 1 % gate
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
    assert result.exit_code == 3 and result.records == 30
    assert result.watermark_after == result.windows[0].start
    assert any("watermark stays before it" in n for n in result.notes)
    assert stored_watermark(settings) == result.windows[0].start


def test_a_page_not_accounted_for_holds_the_watermark() -> None:
    def file(name: str, status: str, read: int, loaded: int, dup: int = 0) -> FileResult:
        return FileResult(name, name, status, rows_read=read, rows_loaded=loaded,
                          rows_duplicate=dup)  # fmt: skip

    pages = {Path("p1"): 5, Path("p2"): 5, Path("p3"): 5, Path("p4"): 4}
    ingest = IngestResult(
        "r", [file("p1", "loaded", 5, 3, 2), file("p2", "loaded", 4, 4),
              file("p3", "failed", 0, 0)], 0.0,
    )  # fmt: skip
    problems = unaccounted(ingest, pages)
    assert [p.split(":")[0] for p in problems] == ["p2", "p3", "p4"]
    assert "5 record(s) sent, 4 read" in problems[0] and "not ingested" in problems[2]
    ok = IngestResult("r", [file("p1", "loaded", 5, 5), file("p4", "skipped", 0, 0)], 0.0)
    assert unaccounted(ok, {Path("p1"): 5, Path("p4"): 4}) == []


def test_a_page_whose_items_are_not_records_is_not_saved(tmp_path: Path, clock: FakeClock) -> None:
    """`{"items": [1, "a", null]}` is no Webex data: an unusable answer (exit 1) naming the
    URL, not a saved page that then fails to ingest as 'not a calls export' on this run and,
    replayed, on the next one too."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    window = (NOW - timedelta(hours=21), NOW - timedelta(hours=12))
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 200, b'{"items": [1, "a", null, []]}'))
        result = fetch_records(
            settings, "feed", *window, client=make_client(server.url, clock), now=NOW
        )
        assert result.exit_code == 1 and result.error is not None
        assert "not call records" in result.error.message and "/v1/cdr_feed" in result.error.message
        assert result.watermark_after == result.windows[0].start
        assert not list(settings.layout.state.rglob("*.json.gz"))
        rerun = fetch_records(
            settings, "feed", *window, client=make_client(server.url, clock), now=NOW
        )
    assert rerun.exit_code == 0, rerun.notes
    assert sorted(warehouse(settings)["report_id"].to_list()) == sorted(
        r["Report ID"] for r in records
    )


def test_an_api_error_sent_with_http_200_is_shown_as_the_api_said_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A page answered 200 with the API's error shape said only 'the answer has no items
    list', with no hint: not what the API said, nor the trackingId its support asks for."""
    said = "Internal error, retry"
    error = json.dumps(
        {"message": said, "errors": [{"description": said}], "trackingId": "ROUTER_6F2A"}
    ).encode()
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 200, error, after=1))
        result = fetch_window(settings, server.url, clock)
    assert result.exit_code == 1 and result.error is not None
    assert result.error.message.endswith(
        "no 'items' list; it is an error of the API, sent with HTTP 200: Internal error, retry "
        "(trackingId ROUTER_6F2A)"
    ), result.error.message
    assert "trackingId" in (result.error.hint or "") and "offset=20" in result.error.message
    assert result.records == 20 and stored_watermark(settings) == result.windows[0].start


def test_pages_fetched_before_a_failure_in_their_window_are_loaded_now(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The API fails for good on page 3 of a window: the 2 pages already saved are loaded by
    this run and counted in its result (not left on disk, reported as 0 records, until some
    later run replays them), the watermark stays before the window, and a rerun completes
    it without duplicates."""
    records = make_records(60, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    window = (NOW - timedelta(hours=21), NOW - timedelta(hours=12))
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 503, b"{}", times=100, after=2))
        failed = fetch_records(
            settings, "feed", *window, client=make_client(server.url, clock), now=NOW
        )
        assert failed.exit_code == 1 and failed.error is not None
        assert len(failed.pages) == 2 and failed.records == 40
        # the window is one of the run's windows, with the pages it sent: "0 window(s),
        # 2 page(s), 40 records" did not say where they came from
        (w,) = failed.windows
        assert (w.start, w.pages, w.records, w.exit_code) == (window[0], 2, 40, 1)
        assert len(warehouse(settings)) == 40 and failed.total("rows_loaded") == 40
        assert failed.watermark_after == failed.windows[0].start
        assert stored_watermark(settings) == failed.windows[0].start
        server.faults.clear()
        rerun = fetch_records(
            settings, "feed", *window, client=make_client(server.url, clock), now=NOW
        )
    assert rerun.exit_code == 0, rerun.notes
    ids = warehouse(settings)["report_id"].to_list()
    served = {r["Report ID"] for r in records if r["Report time"] <= fake_iso(window[1])}
    assert len(ids) == len(set(ids)) and set(ids) == served
    assert rerun.watermark_after == window[1] + timedelta(milliseconds=1)


def test_a_page_nested_too_deep_is_an_unusable_answer(tmp_path: Path, clock: FakeClock) -> None:
    """A 400 KB page of nested brackets (a hostile proxy's) crashed the run with Python's
    RecursionError, a bug's exit with a traceback, leaving the window's earlier page unloaded
    until a later run. It is an unusable answer naming the URL (exit 1), as other JSON that
    is not the API's; the page before it loads and the watermark stays."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    deep = b'{"items": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 200, deep, after=1))
        result = fetch_window(settings, server.url, clock)
    assert result.exit_code == 1 and result.error is not None
    assert "/v1/cdr_feed" in result.error.message and "max_json_depth" in result.error.message
    assert result.watermark_after == result.windows[0].start
    assert len(warehouse(settings)) == 20  # the first page of the window


@pytest.mark.parametrize(
    ("limits", "field", "value"),
    [
        (Limits(record_bytes=4096), "User", "x" * 200_000),
        (Limits(json_number_digits=20), "Duration", 10**30),
    ],
)
def test_a_page_past_a_json_limit_names_the_limit_to_raise(
    limits: Limits, field: str, value: object
) -> None:
    """A page past a JSON limit of the ingest (cdr.toml, docs/limits.md) was 'not JSON',
    with a hint to look for a captive portal at --base-url: the limit's own hint, which names
    the setting to raise for genuine data, was dropped."""
    records = make_records(3, NOW - timedelta(hours=20), timedelta(minutes=10))
    records[1][field] = value
    page = json.dumps({"items": records}).encode()
    with pytest.raises(FetchError) as info:
        page_records(page, Redactor([TOKEN]), "http://127.0.0.1:1/v1/cdr_feed", limits)
    setting = {"User": "max_record_bytes", "Duration": "max_json_number_digits"}[field]
    assert "past what the ingest reads" in info.value.message and setting in info.value.message
    assert f"raise {setting} in cdr.toml" in (info.value.hint or "")


def test_a_page_of_tiny_items_is_read_in_bounded_memory(clock: FakeClock) -> None:
    """A page is held up to 256 MiB, but parsed whole a page of `{}` items took 25 times its
    size (a 64 MiB page: 1.7 GB; one at the limit, over 6 GB). It is read streamed now."""
    n = 200_000
    page = b'{"items": [' + b"{}," * n + b'{"Report time": "2026-10-30T01:02:03.004Z"}]}'
    with FakeWebex(TOKEN) as server:
        server.faults.append(Fault("/v1/cdr_feed", 200, page))
        client = make_client(server.url, clock)
        window = {"startTime": "2026-10-30T00:00:00.000Z", "endTime": "2026-10-30T06:00:00.000Z"}
        (response,) = client.pages("cdr_feed", window)
    tracemalloc.start()
    try:
        records, latest = page_records(response.body, client.redact, response.url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (records, latest) == (n + 1, datetime(2026, 10, 30, 1, 2, 3, 4000, tzinfo=UTC))
    assert peak < 4 * 1024**2, peak  # parsed whole: 15 MB


class CursorLoop(FakeWebex):
    """The last page links back to the first under a link that differs each time (a cursor
    that does not move): the same pages again, for ever."""

    turns = itertools.count()

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = super().cdrs(path, query)
        if status == 200 and "Link" not in headers:
            again: dict[str, Any] = {k: v for k, v in query.items() if k not in ("offset", "n")}
            again["n"] = next(self.turns)
            headers["Link"] = f'<{self.url}{path}?{urlencode(again)}>; rel="next"'
        return status, headers, body


def _fetch_looping(
    server_class: type[FakeWebex], settings: Settings, clock: FakeClock
) -> tuple[FetchResult, int]:
    """A fetch of a 9-hour window holding 30 records from a server of `server_class`: the
    result, and the requests the server answered."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    window = (NOW - timedelta(hours=21), NOW - timedelta(hours=12))
    with server_class(TOKEN, records) as server:
        client = make_client(server.url, clock)
        result = fetch_records(settings, "feed", *window, client=client, now=NOW)
        return result, len(server.log)


def test_a_page_repeating_an_earlier_one_under_another_link_is_a_loop(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # caught only by the page limit, the loop paged 10,000 times (17 h at the API's 10
    # pages a minute), saving every copy; here the limit is 50 so the old code ends too
    monkeypatch.setattr(paging_module, "MAX_PAGES_PER_WINDOW", 50)
    settings = settings_for(tmp_path, page_size=12)
    result, requests = _fetch_looping(CursorLoop, settings, clock)
    assert result.exit_code == 1 and result.error is not None
    assert "page 4 of the window repeats page 1 byte for byte" in result.error.message
    assert requests == 1 + 4  # people/me, three pages and the first again
    # what came before the loop is loaded; the watermark stays before the window
    assert len(result.pages) == 3 and result.total("rows_loaded") == result.records == 30
    assert len(warehouse(settings)) == 30 and result.watermark_after == result.windows[0].start


class TrackedCursorLoop(CursorLoop):
    """A cursor loop whose bodies differ too: each page carries a trackingId of its own."""

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = super().cdrs(path, query)
        if status == 200:
            page = json.loads(body)
            page["trackingId"] = f"ROUTER_{next(self.turns)}"
            body = json.dumps(page).encode()
        return status, headers, body


def test_a_page_of_the_same_report_ids_under_another_link_and_bytes_is_a_loop(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Next links and bodies that both change (a per-request parameter, a trackingId) hid the
    loop from the byte-for-byte check: only the page limit ended it, some 16 hours."""
    monkeypatch.setattr(paging_module, "MAX_PAGES_PER_WINDOW", 50)
    settings = settings_for(tmp_path, page_size=12)
    result, requests = _fetch_looping(TrackedCursorLoop, settings, clock)
    assert result.exit_code == 1 and result.error is not None
    assert "page 4 of the window holds the records of page 1 again" in result.error.message
    assert requests == 1 + 4
    assert len(result.pages) == 3 and result.total("rows_loaded") == result.records == 30
    assert len(warehouse(settings)) == 30 and result.watermark_after == result.windows[0].start


class OverlappingPages(FakeWebex):
    """Each next page starts two records before the end of the last (an offset shifted by
    records that arrived meanwhile): pages overlap in part, and a last page may hold only
    records read before."""

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = super().cdrs(path, query)
        if "Link" in headers:
            offset = int(query.get("offset", "0")) + int(query["max"]) - 2
            headers["Link"] = (
                f'<{self.url}{path}?{urlencode({**query, "offset": offset})}>; rel="next"'
            )
        return status, headers, body


def test_pages_that_overlap_in_part_load_every_record_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_for(tmp_path, page_size=12)
    result, _ = _fetch_looping(OverlappingPages, settings, clock)
    assert result.exit_code == 0 and result.error is None, result.error
    assert len(result.pages) == 3 and result.records == 12 + 12 + 10
    assert result.total("rows_loaded") == 30 and len(warehouse(settings)) == 30
    assert result.watermark_after == result.windows[0].end + timedelta(milliseconds=1)


def test_a_failed_page_fetched_again_since_is_not_replayed_for_ever(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A page that failed to load (the API sent a burst of bad records) stays pending in the
    ledger. Once its window was fetched again and loaded cleanly (the watermark passed it),
    every later run still replayed it first, failed it again, and exited 3, for ever: a
    cron job that alerts every night on data it already has."""
    good = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    bad = [{**r, "Start time": "not a time"} for r in good]
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, bad) as server:
        failed = fetch_window(settings, server.url, clock)  # 21 to 12 hours ago
    assert failed.exit_code == 3 and failed.watermark_after == failed.windows[0].start
    (folder,) = {p.parent for p in failed.pages}
    with FakeWebex(TOKEN, good) as server:
        # in other bounds: the window is loaded cleanly and the watermark passes it (the
        # replay of the failed page, at the start of this run, fails once more)
        again = fetch_records(
            settings, "feed", NOW - timedelta(hours=22), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
        assert again.watermark_after is not None
        assert again.watermark_after > NOW - timedelta(hours=12)
        later = fetch_records(settings, "feed", client=make_client(server.url, clock), now=NOW)
    assert later.exit_code == 0 and later.replayed_pages == []
    assert sorted(warehouse(settings)["report_id"].to_list()) == sorted(
        r["Report ID"] for r in good
    )
    assert list(folder.glob("page-*.json.gz"))  # not deleted: pruned with its folder


def test_a_window_not_accounted_for_ends_the_run_with_exit_3(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/fetch.md: a window whose records the ingest ledger does not all account for
    holds the watermark 'exit 3, with a note'. The note and the held watermark came, but the
    run exited 0 when the ingest itself ended well: a cron job saw a good run."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    real = pages_module.page_scan

    def one_more(*args: Any, **kwargs: Any) -> pages_module.PageScan:
        scan = real(*args, **kwargs)
        return scan._replace(records=scan.records + 1)  # a record the ingest did not read

    monkeypatch.setattr(pages_module, "page_scan", one_more)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_window(settings, server.url, clock)
    assert all(i.exit_code == 0 for i in result.ingests)
    assert result.watermark_after == result.windows[0].start
    assert any("did not ingest cleanly" in n for n in result.notes)
    assert result.exit_code == 3


class EmptyPagesForever(FakeWebex):
    """After its records, every page is `{"items": []}` naming a new next page."""

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = super().cdrs(path, query)
        if status == 200 and "Link" not in headers:
            turn = int(query.get("turn", "0")) + 1
            again: dict[str, Any] = {k: v for k, v in query.items() if k != "turn"}
            again["turn"] = turn
            headers["Link"] = f'<{self.url}{path}?{urlencode(again)}>; rel="next"'
            if turn > 1:
                body = b'{"items": []}'
        return status, headers, body


def test_empty_pages_under_ever_new_links_are_a_loop(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Empty pages are not saved, so no repeat is seen: only the page limit stopped them,
    10,000 requests (hours at the API's pace). Past a few empty pages in a row the window
    fails as a loop; the records before are loaded and the watermark stays."""
    monkeypatch.setattr(paging_module, "MAX_PAGES_PER_WINDOW", 50)
    result, requests = _fetch_looping(
        EmptyPagesForever, settings_for(tmp_path, page_size=12), clock
    )
    assert result.exit_code == 1 and result.error is not None
    assert "pages in a row without a record" in result.error.message
    assert requests < 15, requests  # people/me, three pages, six empty ones
    assert result.total("rows_loaded") == 30 and result.watermark_after == result.windows[0].start
