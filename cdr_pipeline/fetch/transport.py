"""Sockets with a deadline for the whole response, and bodies read within a size limit.

urllib's `timeout` bounds each wait for bytes, not a response: a server (or a proxy in
between) that trickles one byte every few seconds, or never ends its body, held a fetch for
ever, and a page of any size was read whole into memory. Here every read of a response -
status line, headers and body - first checks a deadline fixed when the connection opened,
and a body stops at a size limit, so a request ends within `timeout` per wait, `deadline`
in all, and `limit` bytes of memory. A gzip or deflate body is decoded as it is read.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import urllib.request
import zlib
from typing import Any, BinaryIO

BLOCK = 64 * 1024
DOWNLOAD_RATE = 256 * 1024
"""Bytes a second a report download earns time with: each block that arrives moves its
deadline on by its size / this rate, so a download of gigabytes that keeps coming is never
cut at the deadline of an answer (16 GiB at this rate is 18 hours), and one that trickles is."""


class ResponseTooSlow(TimeoutError):
    """The response did not end within the deadline (retried like any timeout)."""


class Unreadable(Exception):
    """A body not read further, and never retried: the same request gives the same body."""

    hint = "check --base-url: a proxy may answer instead of Webex"


class BodyTooLarge(Unreadable):
    """A body passed its size limit."""

    hint = "lower [fetch] page_size; " + Unreadable.hint

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit:,} bytes")
        self.limit = limit


class UnreadableEncoding(Unreadable):
    """A body in a content coding this client cannot decode."""

    def __init__(self, coding: str, how: str = "encoded") -> None:
        super().__init__(f"the answer is {how} as {coding!r}, which cdr fetch cannot decode")


class ConflictingLength(Unreadable):
    """An answer with Content-Length values that differ (RFC 9112, 6.3: an unrecoverable
    error, as where the body ends cannot be told; http.client took the first one)."""

    hint = "a proxy between this machine and Webex (--base-url) may rewrite answers; check it"

    def __init__(self, values: list[str]) -> None:
        shown = ", ".join(values[:4])
        super().__init__(
            f"the answer has Content-Length values that differ ({shown}): where its body ends "
            "cannot be told (RFC 9112)"
        )


def check_length(headers: Any) -> None:
    """ConflictingLength when the `Content-Length` lines of `headers` (each possibly a
    comma-separated list) name more than one value; the same value repeated is one."""
    lines = (headers.get_all("Content-Length") or []) if headers is not None else []
    values = [v.strip() for line in lines for v in str(line).split(",")]
    if len(set(values)) > 1:
        raise ConflictingLength(list(dict.fromkeys(values)))


class BrokenTransfer(http.client.HTTPException):
    """An answer cut short or corrupt on its way (retried like a reset connection)."""


ACCEPT_ENCODING = "gzip, deflate"
"""The content codings `read_body` decodes. Sent with every request: without an
Accept-Encoding header a server may use any coding (RFC 9110)."""


def _decoder(coding: str | None) -> Any:
    """A decompressor for a `Content-Encoding`, or None for a body as it is."""
    name = (coding or "").strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return _Members()
    if name == "deflate":
        return _Deflate()
    raise UnreadableEncoding(name)


class _Members:
    """A gzip body decoded member after member: RFC 1952 lets a gzip stream hold several
    (a compressor that restarts per block writes them), and one decompressor stops at the
    end of the first. The rest was dropped: half a page read as "not JSON", never retried.
    Zero bytes between members are padding, as gzip reads them. Bytes after the last member
    that start no member (a newline a server appends) are trailing garbage, ignored as
    gzip(1), curl and urllib3 do: the members before are whole (their CRC and length were
    checked), and the garbage read as a member cut short, retried to the end of the run."""

    MAGIC = b"\x1f\x8b"

    def __init__(self) -> None:
        self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._after = b""  # what follows a member, too short to tell whether it starts one
        self._trailing = False

    @property
    def eof(self) -> bool:
        return self._trailing or (bool(self._member.eof) and not self._after)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = b""
        if not self._member.eof:
            out = self._member.decompress(data, max_length)
            data = self._member.unused_data if self._member.eof else b""
        while self._member.eof and not self._trailing and len(out) < max_length:
            rest, self._after = (self._after + data).lstrip(b"\0"), b""
            if len(rest) < len(self.MAGIC) and self.MAGIC.startswith(rest):
                self._after = rest  # padding, or a member's magic split over two reads
                break
            if not rest.startswith(self.MAGIC):
                self._trailing = True
                break
            self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._member.decompress(rest, max_length - len(out))
            data = self._member.unused_data if self._member.eof else b""
        return out


class _Deflate:
    """A deflate body: zlib-wrapped, as RFC 9110 defines it (a gzip header also reads), or
    raw deflate without the wrapper, as some servers send it and browsers, curl and urllib3
    read it. Taken for zlib only, a raw body was a "corrupt" answer at every attempt, and
    the run ended saying the host broke off its answer, with a hint to lower page_size."""

    def __init__(self) -> None:
        self._stream = zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._head: bytes | None = b""  # the bytes before the first output: None after it

    @property
    def eof(self) -> bool:
        return bool(self._stream.eof)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._head is None:
            return self._stream.decompress(data, max_length)
        self._head += data
        try:
            out = self._stream.decompress(data, max_length)
        except zlib.error:  # no zlib header: raw deflate, read again from its first byte
            self._stream, head, self._head = zlib.decompressobj(-zlib.MAX_WBITS), self._head, None
            return self._stream.decompress(head, max_length)
        if out:
            self._head = None
        return out


class _DeadlineRaw(io.RawIOBase):
    """The socket's reader, shortening its timeout to what is left of the deadline."""

    def __init__(
        self, raw: Any, sock: socket.socket, deadline: float, seconds: float, rate: float | None
    ) -> None:
        self._raw, self._sock = raw, sock
        self._deadline, self._seconds, self._rate = deadline, seconds, rate
        self._idle = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ResponseTooSlow(f"the answer did not end within {self._seconds:g} s")
        self._sock.settimeout(left if self._idle is None else min(left, self._idle))
        try:
            n = int(self._raw.readinto(buffer))
            if self._rate:
                self._deadline += n / self._rate
            return n
        except TimeoutError:
            if time.monotonic() >= self._deadline:
                raise ResponseTooSlow(
                    f"the answer did not end within {self._seconds:g} s"
                ) from None
            raise

    def close(self) -> None:
        self._raw.close()
        super().close()


def _with_deadline(
    base: type[http.client.HTTPConnection], seconds: float, rate: float | None
) -> Any:
    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            self._cdr_deadline = time.monotonic() + seconds
            super().connect()

        def response_class(self, sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            response = http.client.HTTPResponse(sock, *args, **kwargs)
            raw = response.fp.detach()  # the buffer, dropped, must not close it
            deadline = getattr(self, "_cdr_deadline", time.monotonic() + seconds)
            response.fp = io.BufferedReader(_DeadlineRaw(raw, sock, deadline, seconds, rate))
            return response

    return Connection


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, seconds: float, rate: float | None) -> None:
        super().__init__()
        self._class = _with_deadline(http.client.HTTPConnection, seconds, rate)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._class, req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, seconds: float, rate: float | None) -> None:
        super().__init__(context=ssl.create_default_context())
        self._class = _with_deadline(http.client.HTTPSConnection, seconds, rate)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._class, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # redirects are followed by WebexClient itself, so the token never follows one blindly;
    # the 3xx comes back as it is, its Location unread (urllib's handler parsed it first, and
    # one naming a broken host, `http://[x`, raised ValueError: the run crashed)
    def http_error_302(self, *args: Any, **kwargs: Any) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def opener(deadline_seconds: float, download: bool = False) -> Any:
    """A urllib opener whose responses end within `deadline_seconds` from the connect (a
    `download` earns a second more for each `DOWNLOAD_RATE` bytes it reads), and which
    returns a redirect as it is (the client decides where the token may go)."""
    rate = DOWNLOAD_RATE if download else None
    return urllib.request.build_opener(
        _HTTP(deadline_seconds, rate), _HTTPS(deadline_seconds, rate), _NoRedirect
    )


def _framing(response: Any, check: bool) -> Any:
    """The decoder of a response's body (`_decoder`), after checking its Content-Length when
    `check` (an error answer's body is read for its message: its status counts)."""
    headers = getattr(response, "headers", None)
    if check:
        check_length(headers)
        coding = (headers.get("Transfer-Encoding") or "") if headers is not None else ""
        if coding.strip().lower() not in ("", "chunked", "identity"):
            # http.client de-chunks `chunked` alone: with another coding (`gzip, chunked`)
            # it read the chunk sizes as the body, which failed as 'no items list'
            raise UnreadableEncoding(coding.strip(), "transfer-coded")
    return _decoder(headers.get("Content-Encoding") if headers is not None else None)


def read_body(
    response: Any, limit: int, sink: BinaryIO | None = None, *, truncate: bool = False
) -> bytes:
    """The body of `response`, at most `limit` bytes: BodyTooLarge beyond, or with
    `truncate` its first `limit` bytes. With `sink` the bytes go there instead of memory,
    and b"" is returned. `read1` returns whatever one read of the socket gave, so the
    deadline is checked between small reads. A gzip or deflate body (`Content-Encoding`) is
    decoded as it arrives, the limit counting decoded bytes; one cut short or corrupt is a
    broken transfer (retried), like a body shorter than its Content-Length. Content-Length
    values that differ are refused unread (ConflictingLength)."""
    decoder = _framing(response, check=not truncate)
    # one buffer, not a list of blocks joined at the end: the join held the page twice
    parts = io.BytesIO()
    size = 0
    while True:
        block = response.read1(BLOCK)
        if not block:
            # `read1` ends quietly where the connection did: a body shorter than its
            # Content-Length is a broken transfer (retried), never a whole answer
            missing = getattr(response, "length", None)
            if missing:
                raise BrokenTransfer(
                    f"the connection closed {missing:,} bytes before the end of its "
                    "answer (Content-Length)"
                )
            if decoder is not None and not decoder.eof:  # the compressed stream did not end
                raise BrokenTransfer("the connection closed inside the compressed answer")
            break
        if decoder is not None:
            try:
                # one byte past the limit at most: a small body may inflate without bound
                block = decoder.decompress(block, limit - size + 1)
            except zlib.error as exc:
                raise BrokenTransfer(f"the compressed answer is corrupt: {exc}") from None
        size += len(block)
        if size > limit:
            if not truncate:
                raise BodyTooLarge(limit)
            parts.write(block[: len(block) - (size - limit)])
            break
        if sink is not None:
            sink.write(block)
        else:
            parts.write(block)
    return parts.getvalue()  # the buffer itself, not a copy (nothing else refers to it)


def error_body(response: Any, limit: int) -> bytes:
    """The first `limit` bytes of an error answer's body (for its message); empty when it is
    in a coding `read_body` cannot decode. Its status is what counts: a proxy's 502 page in
    a coding not asked for (`br`) ended the run as an unreadable answer, never retried."""
    try:
        return read_body(response, limit, truncate=True)
    except UnreadableEncoding:
        return b""
