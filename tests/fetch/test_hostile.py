"""A Webex API that misbehaves as real services do (each case on a real server on 127.0.0.1):
redirects that loop, a window of exactly the page limit, records updated while a window
is paged."""

from __future__ import annotations

import copy
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.fetch import paging as paging_module
from cdr_pipeline.fetch.alive import fetch_alive
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
from tests.fetch.fakewebex import ORG_ID, FakeWebex, iso, make_records
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


def test_records_updated_while_a_window_is_paged_are_no_loop(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Records updated while the window is paged (the feed files them by Report time) come
    again on a later page with a later Report time. A page of such updates alone holds the
    Report IDs of an earlier page: it was taken for a paging loop, the run ended (exit 1)
    with the updates unloaded, and a rerun that met them again ended the same way."""
    records = make_records(4, NOW - timedelta(hours=20), timedelta(minutes=10))
    per_page = 2  # pages [r0 r1] [r2 r3] [r0' r1']: the last holds the first's Report IDs
    updates = []
    for record in records[:per_page]:
        update = copy.deepcopy(record)
        update["Report time"], update["Duration"] = iso(NOW - timedelta(hours=19)), 99
        updates.append(update)
    settings = settings_for(tmp_path, org_id=ORG_ID)
    with FakeWebex(TOKEN, records + updates, page_cap=per_page) as server:
        result = fetch_window(settings, server.url, clock)
    assert result.error is None and result.exit_code == 0, result.error
    assert result.records == 4 + per_page
    assert result.total("rows_loaded") + result.total("rows_duplicate") == 4 + per_page
    table = warehouse(settings)
    assert table.height == 4  # each record once, its update winning
    updated = table.filter(pl.col("report_id").is_in([r["Report ID"] for r in updates]))
    assert updated["duration_seconds"].to_list() == [99] * per_page


def test_the_same_records_again_under_new_bytes_are_still_a_loop(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The Report time in the loop key does not hide a cursor that does not move: the same
    records (same Report IDs and times) under a body that differs are still a loop."""
    records = make_records(2, NOW - timedelta(hours=20), timedelta(minutes=10))

    class Stuck(FakeWebex):
        turn = 0

        def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            status, headers, body = super().cdrs(path, {**query, "offset": "0"})
            Stuck.turn += 1
            body = body[:-1] + f', "trackingId": "T{Stuck.turn}"}}'.encode()
            headers["Link"] = (
                f'<{self.url}{path}?n={Stuck.turn}&{_window_query(query)}>; rel="next"'
            )
            return status, headers, body

    settings = settings_for(tmp_path, org_id=ORG_ID)
    with Stuck(TOKEN, records) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
    assert result.exit_code == 1 and result.error is not None
    assert "holds the records of page 1 again" in result.error.message


def _window_query(query: dict[str, str]) -> str:
    return "&".join(f"{k}={query[k]}" for k in ("startTime", "endTime", "max"))


_KILLED_FETCH = """
import sys
from datetime import timedelta
from pathlib import Path
from cdr_pipeline.fetch import fetch_records
from tests.fetch.conftest import NOW, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import ORG_ID
settings = settings_for(Path(sys.argv[1]), org_id=ORG_ID)
fetch_records(settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
              client=make_client(sys.argv[2], FakeClock()), now=NOW)
"""


class Hanging(FakeWebex):
    """Answers the first two pages of a window, then holds the third until released."""

    release = threading.Event()

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if int(query.get("offset", "0")) >= 2:
            self.release.wait(30)
        return super().cdrs(path, query)


@pytest.mark.slow
def test_a_fetch_killed_while_it_pages_reads_interrupted_and_loses_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    """kill -9 (the OOM killer) while a fetch pages a window: Ctrl-C and SIGTERM write the
    run's `interrupted` row, but the killed run wrote none, and `cdr runs` showed no fetch
    that night. The next fetch records it `interrupted`, loads the pages it saved, and no
    record is lost or loaded twice."""
    records = make_records(4, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path, org_id=ORG_ID)
    with Hanging(TOKEN, records, page_cap=1) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLED_FETCH, str(tmp_path), server.url],
            cwd=Path(__file__).parents[2],
        )
        try:
            for _ in range(300):  # the second page saved: the child waits for the third
                if any(settings.layout.fetched.rglob("page-002.json.gz")):
                    break
                time.sleep(0.05)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        Hanging.release.set()
        assert Ledger(settings.layout).runs().is_empty()  # the killed run wrote no row
        rerun = fetch_window(settings, server.url, clock)
        again = fetch_window(settings, server.url, clock)
    assert rerun.exit_code == 0 and again.exit_code == 0
    assert len(rerun.replayed_pages) == 2
    runs = Ledger(settings.layout).runs()
    died = runs.filter(pl.col("status") == "interrupted")
    assert died.height == 1 and died["exit_code"][0] == 130
    assert "kill -9" in died["message"][0] and "without a last word" in died["message"][0]
    assert sorted(warehouse(settings)["report_id"]) == sorted(r["Report ID"] for r in records)
    assert not (settings.layout.fetched / ".running").exists()


def test_a_fetch_that_left_its_mark_is_recorded_interrupted_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The mark a fetch killed with -9 leaves (its block never left): the next fetch writes
    that run's row `interrupted`, once, and a run that ends leaves no mark."""
    settings = settings_for(tmp_path, org_id=ORG_ID)
    killed = fetch_alive(settings, "cdr fetch", "killed-run")
    killed.__enter__()  # kill -9: the block is never left (held below, not collected)
    records = make_records(2, NOW - timedelta(hours=20), timedelta(minutes=10))
    with FakeWebex(TOKEN, records) as server:
        assert fetch_window(settings, server.url, clock).exit_code == 0
        assert fetch_window(settings, server.url, clock).exit_code == 0
    runs = Ledger(settings.layout).runs()
    died = runs.filter(pl.col("status") == "interrupted")
    assert died["run_id"].to_list() == ["killed-run"]
    assert died["command"].to_list() == ["cdr fetch"] and died["exit_code"][0] == 130
    assert "kill -9" in died["message"][0]
    assert not (settings.layout.fetched / ".running").exists()
    del killed


def _controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F]


@pytest.mark.parametrize("how", ["error page", "api error"])
def test_an_answer_with_control_characters_shows_none_of_them(
    tmp_path: Path, clock: FakeClock, how: str
) -> None:
    """A 503 whose body is NULs and escape sequences (a gzip bomb of zeros, a hostile
    proxy's `ESC [2J`), or an API error sent with HTTP 200 whose message and trackingId hold
    them: the error line carried them to the operator's terminal and the JSON log."""
    if how == "error page":
        status, body = 503, b"\x00" * 500 + b"\x1b[2J\x1b]0;owned\x07 Service Unavailable"
    else:
        body = b'{"message": "\\u001b[2Jbusy\\u0000", "trackingId": "ROUTER_\\u001b[31m"}'
        status = 200

    def answer(conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    settings = settings_for(tmp_path, org_id=ORG_ID, retries=0)
    with RawServer(answer) as server:
        result = fetch_window(settings, server.url, clock)
    assert result.exit_code == 1 and result.error is not None
    shown = result.error.one_line()
    assert _controls(shown) == [], repr(shown)
    assert ("Service Unavailable" if how == "error page" else "busy") in shown
