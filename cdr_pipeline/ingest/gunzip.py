"""A gzip stream unpacked by zlib, header included.

Python's gzip module reads a member header's file name and comment a byte at a time in
Python: a hostile 50 MB name took 12 s to get past, so a file under 1 GB could stall an
ingest for minutes. zlib reads the whole header in C. The stream reads as `gzip.GzipFile`
does: members one after another, zero bytes after a member skipped (more than
`ZERO_PADDING` of them are `ZeroPadding`), anything else after it corrupt, and a member cut
short `EOFError`; a bad CRC or length is `zlib.error`. Members of (nearly) no data are
counted: more than `EMPTY_MEMBERS` in a row, or more than `AVERAGED_MEMBERS` yielding under
`TINY_MEMBER` bytes each on average, is `EmptyMembers`.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

GZIP_WBITS = 16 + zlib.MAX_WBITS
READ_BYTES = 128 * 1024
EMPTY_MEMBERS = 1000
"""Members in a row that unpack to under `TINY_MEMBER` bytes each before the stream is
refused. A gzip tool writes one member, or (pigz, bgzip) members of 64 KiB or more with at
most one empty member at the end; a million empty members (20 bytes each, so 20 MB) yield
no byte for the input limits to count and took 18 s to read past (1 GB of them, minutes),
and members of a byte each as long. A member of 1 KiB after every 999 empty ones broke each
run and was read at 7 MB/s: the members' average counts too, past `AVERAGED_MEMBERS`."""
TINY_MEMBER = 1024
AVERAGED_MEMBERS = 10 * EMPTY_MEMBERS
ZERO_PADDING = 1024 * 1024
"""Zero bytes after a member before the stream is refused. A tape or block device pads a
gzip file to its block (kilobytes); a file preallocated or grown by `truncate` and never
filled, even a sparse one of 100 GB that takes no disk space, holds nothing but zeros after
its data, which were skipped at 57 MB/s (2 GB: 36 s; 100 GB: half an hour, deaf to a stop)."""


class EmptyMembers(gzip.BadGzipFile):
    """A gzip stream of more than `EMPTY_MEMBERS` members in a row of (nearly) no data."""


class ZeroPadding(gzip.BadGzipFile):
    """More than `ZERO_PADDING` zero bytes after a gzip member."""


class Gunzip(io.RawIOBase):
    """The unpacked data of the gzip stream `raw` (not closed here)."""

    def __init__(self, raw: BinaryIO | io.RawIOBase) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(GZIP_WBITS)
        self._input = b""
        self._done = False
        self._empty = 0  # members in a row that yielded under TINY_MEMBER bytes
        self._yielded = 0  # bytes the current member yielded
        self._members = self._total = 0  # members ended, and the bytes they yielded
        self._read = 0  # bytes read from `raw`

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view, view.cast("B") as out:
            while out.nbytes and not self._done:
                if self._inflate.eof and not self._next_member():
                    self._done = True
                    break
                if not self._input:
                    self._input = self._raw.read(READ_BYTES) or b""
                    self._read += len(self._input)
                    if not self._input:
                        raise EOFError(
                            "Compressed file ended before the end-of-stream marker was reached"
                        )
                data = self._inflate.decompress(self._input, out.nbytes)
                self._input = self._inflate.unconsumed_tail
                if data:
                    self._yielded += len(data)
                    out[: len(data)] = data
                    return len(data)
        return 0

    def _next_member(self) -> bool:
        """After a member: whether another one follows (zero padding is skipped)."""
        # everything after the member (zlib may also leave it in unconsumed_tail: not twice)
        rest = self._inflate.unused_data
        zeros = 0
        while True:
            stripped = rest.lstrip(b"\x00")
            zeros += len(rest) - len(stripped)
            rest = stripped
            if zeros > ZERO_PADDING:
                raise ZeroPadding(
                    f"over {ZERO_PADDING:,} zero bytes after the data of gzip member "
                    f"{self._members + 1:,}: a file preallocated, padded or damaged"
                )
            if len(rest) >= 2:
                break
            more = self._raw.read(READ_BYTES) or b""
            self._read += len(more)
            if not more:
                if rest:
                    raise gzip.BadGzipFile(f"Not a gzipped file ({rest!r})")
                return False
            rest += more
        if not rest.startswith(b"\x1f\x8b"):
            raise gzip.BadGzipFile(f"Not a gzipped file ({rest[:2]!r})")
        self._empty = 0 if self._yielded >= TINY_MEMBER else self._empty + 1
        self._members, self._total = self._members + 1, self._total + self._yielded
        if self._empty > EMPTY_MEMBERS:
            raise EmptyMembers(
                f"over {EMPTY_MEMBERS:,} gzip members in a row hold (nearly) no data"
            )
        if self._members > AVERAGED_MEMBERS and self._total < self._members * TINY_MEMBER:
            raise EmptyMembers(
                f"{self._members:,} gzip members hold (nearly) no data: {self._total:,} bytes, "
                f"under {TINY_MEMBER:,} a member"
            )
        self._inflate, self._input, self._yielded = zlib.decompressobj(GZIP_WBITS), rest, 0
        return True

    def consumed(self) -> int:
        """Packed bytes taken in so far: read, less those still waiting for zlib. It reads
        128 KiB at a time, a large part of a small file (progress counted from them jumped)."""
        return self._read - len(self._input)


def consumed(stream: BinaryIO) -> Callable[[], int]:
    """`Gunzip.consumed` of the stream `gunzip` gave."""
    raw = getattr(stream, "raw", None)
    assert isinstance(raw, Gunzip)
    return raw.consumed


def gunzip(raw: BinaryIO | io.RawIOBase) -> BinaryIO:
    """`raw` unpacked, buffered."""
    return io.BufferedReader(Gunzip(raw))
