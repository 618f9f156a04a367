"""A Webex API that misbehaves as real services do (each case on a real server on 127.0.0.1):
redirects that loop, a window of exactly the page limit."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

from cdr_pipeline.fetch import paging as paging_module
from tests.fetch.conftest import NOW, TOKEN, FakeClock, fetch_window, settings_for, warehouse
from tests.fetch.fakewebex import ORG_ID, FakeWebex, make_records
from tests.fetch.rawserver import RawServer


def test_a_redirect_loop_says_so_and_what_to_try(tmp_path: Path, clock: FakeClock) -> None:
    """A proxy that answers every page with a redirect to itself: the run ended with
    `...: too many redirects` and no hint, the operator left to guess what to do."""

    def loop(conn: socket.socket) -> None:
        target = server.requests[-1].split(b" ")[1].decode()
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {server.url}{target}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )

    settings = settings_for(tmp_path, org_id=ORG_ID)
    with RawServer(loop) as server:
        result = fetch_window(settings, server.url, clock)
        asked = len(server.requests)
    assert result.exit_code == 1 and result.error is not None
    assert "redirected 6 times in a row" in result.error.message
    assert "redirect loop" in result.error.message
    assert "--base-url" in (result.error.hint or "")
    assert "watermark" in (result.error.hint or "")
    assert asked == 6  # bounded: the first answer and five redirects followed
    assert result.watermark_after == result.windows[0].start


def test_a_window_of_exactly_the_page_limit_is_read_whole(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of exactly `MAX_PAGES_PER_WINDOW` pages (10,000 pages of one record: a
    server paging one record at a time) failed after its last page as 'more than 10,000
    pages', a loop, and its watermark never moved past it. Only a next page past the limit
    is one."""
    monkeypatch.setattr(paging_module, "MAX_PAGES_PER_WINDOW", 3)
    records = make_records(3, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path, org_id=ORG_ID)
    with FakeWebex(TOKEN, records, page_cap=1) as server:
        result = fetch_window(settings, server.url, clock)
    assert result.error is None and result.exit_code == 0, result.error
    assert len(result.pages) == 3 and len(warehouse(settings)) == 3
    assert result.watermark_after == result.windows[0].end + timedelta(milliseconds=1)
