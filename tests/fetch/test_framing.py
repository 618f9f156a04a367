"""Answers whose framing is wrong, from a real socket on 127.0.0.1: a Content-Length short of
its body, and Content-Length headers that differ."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest

from cdr_pipeline.fetch import FetchError
from cdr_pipeline.fetch.pages import save_window_pages
from cdr_pipeline.fetch.results import WindowResult
from tests.fetch.conftest import NOW, FakeClock, make_client
from tests.fetch.rawserver import RawServer

PARAMS = {"startTime": "2026-10-28T12:00:00.000Z", "endTime": "2026-10-28T23:59:59.999Z"}
PAGE = json.dumps({"items": [{"Report ID": "r1", "User": "Zoë Müller"}]}, ensure_ascii=False)


def _read_window(url: str, clock: FakeClock, tmp_path: Path) -> WindowResult:
    client = make_client(url, clock, retries=1)
    window = WindowResult(NOW, NOW)
    save_window_pages(client.pages("cdr_feed", PARAMS), client.redact, tmp_path, window, {})
    return window


def test_a_content_length_short_of_its_body_says_so_not_a_captive_portal(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A server that counts the length in characters (`len(str)`) sends a body longer than
    it: the page was cut at the length and the run said `the answer is not JSON (premature
    EOF)` with the captive-portal hint. It names the short length and says it is not
    retried (the same request gets the same length)."""
    body = PAGE.encode()
    sent: list[int] = []

    def short(conn: socket.socket) -> None:
        sent.append(1)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(PAGE) + body)

    with RawServer(short) as server, pytest.raises(FetchError) as info:
        _read_window(server.url, clock, tmp_path)
    message, hint = str(info.value), info.value.hint or ""
    assert f"ends at its Content-Length ({len(PAGE)} bytes) inside its JSON" in message, message
    assert "not retried" in message and len(sent) == 1
    assert "captive portal" not in message + hint and "--base-url" in hint


@pytest.mark.parametrize(
    "lengths",
    [
        [b"Content-Length: %d" % len(PAGE.encode()), b"Content-Length: 5"],
        [b"Content-Length: %d, 5" % len(PAGE.encode())],
    ],
    ids=["two-lines", "one-list"],
)
def test_content_lengths_that_differ_are_refused_unread(
    lengths: list[bytes], tmp_path: Path, clock: FakeClock
) -> None:
    """RFC 9112 (6.3): Content-Length values that differ are an unrecoverable error, as
    where the body ends cannot be told (a proxy in between may read another end: request
    smuggling). The first line was taken and the page read by it."""
    sent: list[int] = []

    def two(conn: socket.socket) -> None:
        sent.append(1)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        conn.sendall(head + b"\r\n".join(lengths) + b"\r\n\r\n" + PAGE.encode())

    with RawServer(two) as server, pytest.raises(FetchError) as info:
        _read_window(server.url, clock, tmp_path)
    message = str(info.value)
    assert "Content-Length values that differ" in message and "(RFC 9112)" in message, message
    assert len(sent) == 1 and "--base-url" in (info.value.hint or "")


def test_the_same_content_length_twice_is_one(tmp_path: Path, clock: FakeClock) -> None:
    size = len(PAGE.encode())

    def twice(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n"
        conn.sendall(head % (size, size) + PAGE.encode())

    with RawServer(twice) as server:
        window = _read_window(server.url, clock, tmp_path)
    assert (window.pages, window.records) == (1, 1)


def test_a_chunked_answer_whose_json_stops_at_its_last_chunk_says_so(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A server whose page generation failed mid-way may still end its chunked answer
    properly: the page read as `not JSON (premature EOF)`, with the captive-portal hint. It
    says the server ended its answer inside its JSON."""
    half = PAGE.encode()[:30]

    def cut(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(half), half)
        conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + chunk)

    with RawServer(cut) as server, pytest.raises(FetchError) as info:
        _read_window(server.url, clock, tmp_path)
    message = str(info.value)
    assert "the answer's last chunk ends inside its JSON" in message, message
    assert "captive portal" not in message + (info.value.hint or "")


def test_a_transfer_coding_besides_chunked_is_refused_unread(
    tmp_path: Path, clock: FakeClock
) -> None:
    """http.client de-chunks `Transfer-Encoding: chunked` alone: `gzip, chunked` had the
    chunk sizes read as the body, and the run said 'the answer has no items list'."""
    packed = gzip.compress(PAGE.encode())

    def coded(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        conn.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed))

    with RawServer(coded) as server, pytest.raises(FetchError) as info:
        _read_window(server.url, clock, tmp_path)
    message = str(info.value)
    assert "transfer-coded as 'gzip, chunked', which cdr fetch cannot decode" in message, message


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=["204", "200-length-0", "200-chunked-empty"],
)
def test_an_answer_without_a_byte_says_so_not_a_short_length(
    answer: bytes, tmp_path: Path, clock: FakeClock
) -> None:
    """A 204, or a 200 without a byte (a gateway's), was read as JSON cut at its framing:
    `ends at its Content-Length (0 bytes) inside its JSON: ... a length short of its body`,
    of a body there is none of. It says the answer had no byte, with its status."""
    status = answer.split(b" ", 2)[1].decode()
    with RawServer(lambda conn: conn.sendall(answer)) as server, pytest.raises(FetchError) as info:
        _read_window(server.url, clock, tmp_path)
    message = str(info.value)
    assert f"answered HTTP {status} without a byte, not a page of records" in message, message
    assert "Content-Length" not in message and "last chunk" not in message
    assert "--base-url" in (info.value.hint or "")
    assert not list(tmp_path.glob("page-*"))
