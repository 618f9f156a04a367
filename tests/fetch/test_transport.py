"""Answers that never end or never stop growing, from a real socket on 127.0.0.1: a request
ends within its deadline and a page within its size limit, whatever the server does."""

from __future__ import annotations

import gzip
import json
import socket
import time
import tracemalloc
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from cdr_pipeline.fetch import FetchError
from tests.fetch.conftest import FakeClock, make_client
from tests.fetch.rawserver import RawServer

PARAMS = {"startTime": "2026-10-28T12:00:00.000Z", "endTime": "2026-10-28T23:59:59.999Z"}


def _trickle_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Content-Length: 100000\r\n\r\n{")
    for _ in range(200):  # one byte every 0.1 s: each wait is far below the timeout
        time.sleep(0.1)
        conn.sendall(b" ")


def _trickle_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(200):
        time.sleep(0.1)
        conn.sendall(b"X-%d: y\r\n" % i)


def _endless_chunked(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    for _ in range(10_000):  # 640 MiB if nobody stops reading
        conn.sendall(chunk)


@pytest.mark.parametrize("handler", [_trickle_body, _trickle_headers], ids=["body", "headers"])
def test_a_trickling_answer_ends_at_the_deadline(handler: object, clock: FakeClock) -> None:
    with RawServer(handler) as server:  # type: ignore[arg-type]
        client = make_client(server.url, clock, retries=1, timeout_seconds=5.0,
                             deadline_seconds=1.0)  # fmt: skip
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="did not end within 1 s") as info:
            list(client.pages("cdr_feed", PARAMS))
        elapsed = time.monotonic() - t0
    # two attempts of about a second each, not the 20 s the server would go on for
    assert elapsed < 6, elapsed
    assert "after 2 attempts" in str(info.value)


def test_a_host_that_takes_the_connection_but_never_answers_is_slow_not_unreachable(
    clock: FakeClock,
) -> None:
    """A proxy that accepts the connection and then says nothing: the run said `cannot reach`
    and sent the operator to check the network, when the host was there and only slower than
    `timeout_seconds` allows. The hint names the setting."""

    def silent(conn: socket.socket) -> None:
        time.sleep(3)

    with RawServer(silent) as server:
        client = make_client(server.url, clock, retries=1, timeout_seconds=0.3)
        with pytest.raises(FetchError) as info:
            list(client.pages("cdr_feed", PARAMS))
    assert "did not answer in time after 2 attempts" in str(info.value)
    assert "cannot reach" not in str(info.value)
    assert "timeout_seconds" in (info.value.hint or "") and "0.3 s a wait" in (
        info.value.hint or ""
    )


def test_a_page_larger_than_the_limit_is_refused_unread(clock: FakeClock) -> None:
    with RawServer(_endless_chunked) as server:
        client = make_client(server.url, clock, max_page_bytes=1024 * 1024)
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="larger than 1,048,576 bytes") as info:
            list(client.pages("cdr_feed", PARAMS))
        assert time.monotonic() - t0 < 10
        assert len(server.requests) == 1  # the same request would give the same page: no retry
    assert "page_size" in (info.value.hint or "")


def test_report_download_is_written_to_disk_not_memory(tmp_path: Path, clock: FakeClock) -> None:
    """A report larger than the page limit still downloads: it goes to the file as it comes."""
    payload = b"PK" + b"x" * (3 * 1024 * 1024)

    def report(conn: socket.socket) -> None:
        request = conn.recv(0) or b""
        del request
        if b"/v1/reports/" in server.requests[-1]:
            body = b'{"items": [{"id": "r1", "downloadURL": "%s/download/r1"}]}' % (
                server.url.encode()
            )
        else:
            body = payload
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    dest = tmp_path / "r" / "report-r1"
    # the partial download of a run killed (kill -9) in the middle: hidden, never read, and
    # left on disk by every such run, a report's size each time
    killed = dest.parent / ".report-r1.tmp-0badcafe"
    killed.parent.mkdir()
    killed.write_bytes(payload[:100_000])
    with RawServer(report) as server:
        client = make_client(server.url, clock, max_page_bytes=1024 * 1024)
        meta = client.report_download("r1", dest)
    assert meta["id"] == "r1"
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["report-r1"]  # no temp file left


def test_a_body_cut_short_of_its_length_is_retried_never_taken_whole(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A report whose connection closes early (half the rows sent, the full Content-Length
    promised) is downloaded again, not installed as the report."""
    payload = b"Report ID,Start time\n" + b"".join(b"r%d,x\n" % i for i in range(200))
    sent = {"downloads": 0}

    def report(conn: socket.socket) -> None:
        if b"/v1/reports/" in server.requests[-1]:
            body = b'{"items": [{"id": "r2", "downloadURL": "%s/download/r2"}]}' % (
                server.url.encode()
            )
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return
        sent["downloads"] += 1
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload)
        cut = len(payload) // 2 if sent["downloads"] == 1 else len(payload)
        conn.sendall(head + payload[:cut])

    with RawServer(report) as server:
        client = make_client(server.url, clock)
        dest = tmp_path / "r" / "report-r2"
        client.report_download("r2", dest)
    assert sent["downloads"] == 2
    assert dest.read_bytes() == payload


def test_a_gzip_answer_is_decoded_and_one_cut_short_is_retried(clock: FakeClock) -> None:
    """A server may compress a page (RFC 9110: any coding when none is asked for; the
    client now asks for gzip or deflate): the page is its JSON, not 'not JSON' (exit 1). A
    compressed body that ends before its stream does is a broken transfer, asked again."""
    page = json.dumps({"items": [{"Report ID": f"r{i}"} for i in range(300)]}).encode()
    packed = gzip.compress(page)
    sent = {"n": 0}

    def compressed(conn: socket.socket) -> None:
        sent["n"] += 1
        # no Content-Length: only the gzip stream tells a cut body from a whole one
        body = packed[: len(packed) // 2] if sent["n"] == 1 else packed
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        conn.sendall(head + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n" + body)

    with RawServer(compressed) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", PARAMS))
    assert [p.body for p in pages] == [page] and sent["n"] == 2
    assert b"accept-encoding: gzip, deflate" in server.requests[0].lower()


def test_an_error_answer_in_a_coding_not_asked_for_is_still_retried(clock: FakeClock) -> None:
    """A proxy's 502 page compressed as `br` (not asked for): the client could not decode
    its body and ended the run as an unreadable answer (exit 1), never retried, though the
    status says to try again. Its message is what is lost, not the retry."""
    page = json.dumps({"items": [{"Report ID": "r1"}]}).encode()
    sent = {"n": 0}

    def failing_once(conn: socket.socket) -> None:
        sent["n"] += 1
        if sent["n"] == 1:
            body = b"\x0b\x02\x80Bad Gateway\x03"
            head = b"HTTP/1.1 502 Bad Gateway\r\nContent-Encoding: br\r\n"
        else:
            body, head = page, b"HTTP/1.1 200 OK\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with RawServer(failing_once) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", PARAMS))
    assert [p.body for p in pages] == [page] and sent["n"] == 2


def test_a_gzip_answer_of_several_members_is_decoded_whole(clock: FakeClock) -> None:
    """A gzip body may hold several members (RFC 1952; a compressor restarting per block,
    zero bytes of padding between): the first alone was read, half a page that failed as
    'not JSON' (a proxy?), exit 1 with nothing retried."""
    page = json.dumps({"items": [{"Report ID": f"r{i}"} for i in range(300)]}).encode()
    packed = gzip.compress(page[:1000]) + b"\0\0" + gzip.compress(page[1000:])

    def members(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        conn.sendall(head % len(packed) + packed)

    with RawServer(members) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", PARAMS))
    assert [p.body for p in pages] == [page]


@pytest.mark.parametrize("after", [b"\n", b"\r\n", b"\0\0<html>junk</html>"])
def test_bytes_after_the_last_gzip_member_are_ignored(after: bytes, clock: FakeClock) -> None:
    """A gzip body followed by bytes that start no member (a newline a server or proxy
    appends): gzip(1), curl and urllib3 ignore them. They were read as a member cut short:
    the page retried at every attempt, then the run ended (exit 1) saying the host 'broke
    off its answer', with a hint to lower page_size. The members before are whole."""
    page = json.dumps({"items": [{"Report ID": f"r{i}"} for i in range(300)]}).encode()
    packed = gzip.compress(page[:1000]) + gzip.compress(page[1000:]) + after

    def trailing(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        conn.sendall(head % len(packed) + packed)

    with RawServer(trailing) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", PARAMS))
        assert len(server.requests) == 1
    assert [p.body for p in pages] == [page]


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib", "raw"])
def test_a_deflate_answer_is_decoded_with_or_without_its_zlib_wrapper(
    wbits: int, clock: FakeClock
) -> None:
    """The client asks for deflate; RFC 9110's is zlib-wrapped, but some servers send raw
    deflate, which browsers, curl and urllib3 read. It was a 'corrupt' answer at every
    attempt, and the run ended saying the host broke off its answer (lower page_size)."""
    page = json.dumps({"items": [{"Report ID": f"r{i}"} for i in range(300)]}).encode()
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(page) + packer.flush()

    def deflated(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nConnection: close\r\n\r\n"
        conn.sendall(head)
        for i in range(0, len(packed), 1):  # a byte at a time: the wrapper is told late
            conn.sendall(packed[i : i + 1])

    with RawServer(deflated) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", PARAMS))
        assert len(server.requests) == 1
    assert [p.body for p in pages] == [page]


def test_a_compressed_answer_is_held_to_the_limit_decoded(clock: FakeClock) -> None:
    """64 KiB of gzip that inflate to 64 MiB stop at the page limit, not in memory."""
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))

    def inflating(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        conn.sendall(head % len(bomb) + bomb)

    with RawServer(inflating) as server:
        client = make_client(server.url, clock, max_page_bytes=1024 * 1024)
        with pytest.raises(FetchError, match="larger than 1,048,576 bytes"):
            list(client.pages("cdr_feed", PARAMS))
        assert len(server.requests) == 1


def test_a_page_the_connection_cut_short_without_a_length_is_retried(clock: FakeClock) -> None:
    """An HTTP/1.0 proxy ends an answer by closing the connection, with no Content-Length:
    a page cut short that way was taken whole, then failed as 'not JSON' (a captive portal?)
    and ended the run, exit 1. JSON that stops before its end is a broken transfer, asked
    again; a whole answer is read once, and an answer that is no JSON is not retried."""
    page = json.dumps({"items": [{"Report ID": f"r{i}"} for i in range(300)]}).encode()
    html = b"<html><body>Please log in</body></html>"
    sent: list[bytes] = []

    def closing(conn: socket.socket) -> None:
        path = server.requests[-1].split(b" ")[1]
        body = html if b"portal" in path else page
        if b"portal" not in path and not sent:
            body = page[: len(page) // 2]
        sent.append(body)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body)

    with RawServer(closing) as server:
        client = make_client(server.url, clock)
        pages = list(client.pages("cdr_feed", PARAMS))
        assert [p.body for p in pages] == [page] and len(sent) == 2
        portal = list(make_client(server.url + "/portal", clock).pages("cdr_feed", PARAMS))
    assert [p.body for p in portal] == [html] and len(sent) == 3


def test_a_window_holds_about_one_page_in_memory(tmp_path: Path, clock: FakeClock) -> None:
    """A page may be 256 MiB. Read as blocks joined at the end, and still held while the
    next page arrived, a window of big pages took three times a page's size (768 MiB at
    the limit); it takes little more than one."""
    from cdr_pipeline.fetch.pages import save_window_pages
    from cdr_pipeline.fetch.results import WindowResult
    from tests.fetch.conftest import NOW
    from tests.fetch.fakewebex import make_records

    records = make_records(300, NOW - timedelta(hours=20), timedelta(seconds=5))
    for record in records:
        record["User"] = "x" * 8000
    bodies = [json.dumps({"items": records[i::2]}).encode() for i in (0, 1)]
    size = len(bodies[0])  # some 1.3 MB each

    def two_pages(conn: socket.socket) -> None:
        second = b"page=2" in server.requests[-1]
        link = b"" if second else b'Link: </v1/cdr_feed?page=2>; rel="next"\r\n'
        body = bodies[1 if second else 0]
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), link)
        conn.sendall(head)
        conn.sendall(body)

    with RawServer(two_pages) as server:
        client = make_client(server.url, clock)
        window, saved = WindowResult(NOW, NOW), {}
        tracemalloc.start()
        try:
            save_window_pages(
                client.pages("cdr_feed", PARAMS), client.redact, tmp_path, window, saved
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert (window.pages, window.records) == (2, 300)
    assert peak < 1.6 * size, (peak, size)  # before: about 3 pages


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_answer_cut_short_every_time_says_so_not_cannot_reach(
    framing: str, clock: FakeClock
) -> None:
    """A proxy that drops long transfers: the host answered every time and the body broke
    off, but the run said `cannot reach ... IncompleteRead(0 bytes read, 4000 more
    expected)` and sent the operator to check the network. It says the answer broke off,
    and the hint names page_size (smaller pages)."""

    def cut(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if framing == "length":
            conn.sendall(head + b"Content-Length: 5000\r\n\r\n" + b'{"items": [' + b" " * 989)
        else:
            conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + b'b\r\n{"items": [\r\n')

    with RawServer(cut) as server:
        client = make_client(server.url, clock, retries=1)
        with pytest.raises(FetchError) as info:
            list(client.pages("cdr_feed", PARAMS))
    message, hint = str(info.value), info.value.hint or ""
    assert "broke off its answer at each of 2 attempts" in message, message
    assert "cannot reach" not in message and "IncompleteRead" not in message
    assert "page_size" in hint and "rerunning is safe" in hint


def test_a_large_report_arriving_steadily_outlasts_the_answer_deadline(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A Control Hub report of a month of a large org is gigabytes: at a few MB/s it takes
    longer than the 10 x timeout_seconds an answer may take, and every attempt was cut at
    the deadline and started again, hours of downloads for an error. A download that keeps
    coming earns time for the bytes it brings; one that trickles still ends at the deadline."""
    from cdr_pipeline.fetch import transport

    block = b"x" * (64 * 1024)
    blocks = 25  # 1.6 MB over 2.5 s: a steady download, past a 1 s deadline

    def report(conn: socket.socket) -> None:
        if b"/v1/reports/" in server.requests[-1]:
            body = b'{"items": [{"id": "r1", "downloadURL": "%s/download/r1"}]}' % (
                server.url.encode()
            )
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nPK" % (blocks * len(block) + 2))
        for _ in range(blocks):
            time.sleep(0.1)
            conn.sendall(block)

    assert len(block) / 0.1 >= transport.DOWNLOAD_RATE  # the test's rate earns its time
    with RawServer(report) as server:
        client = make_client(server.url, clock, retries=0, deadline_seconds=1.0)
        dest = tmp_path / "r" / "report-r1"
        client.report_download("r1", dest)
    assert dest.stat().st_size == blocks * len(block) + 2

    def trickle(conn: socket.socket) -> None:
        if b"/v1/reports/" in server.requests[-1]:
            report(conn)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nPK")
        for _ in range(40):
            time.sleep(0.1)
            conn.sendall(b" ")

    with RawServer(trickle) as server:
        client = make_client(server.url, clock, retries=0, deadline_seconds=1.0)
        with pytest.raises(FetchError, match="did not end within 1 s"):
            client.report_download("r1", tmp_path / "t" / "report-r1")
