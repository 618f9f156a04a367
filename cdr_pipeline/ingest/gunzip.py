"""A gzip stream unpacked by zlib, header included.

Python's gzip module reads a member header's file name and comment a byte at a time in
Python: a hostile 50 MB name took 12 s to get past, so a file under 1 GB could stall an
ingest for minutes. zlib reads the whole header in C. The stream reads as `gzip.GzipFile`
does: members one after another, zero bytes after a member skipped, anything else after
it corrupt, and a member cut short `EOFError`; a bad CRC or length is `zlib.error`.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any, BinaryIO

GZIP_WBITS = 16 + zlib.MAX_WBITS
READ_BYTES = 128 * 1024


class Gunzip(io.RawIOBase):
    """The unpacked data of the gzip stream `raw` (not closed here)."""

    def __init__(self, raw: BinaryIO | io.RawIOBase) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(GZIP_WBITS)
        self._input = b""
        self._done = False

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
                    if not self._input:
                        raise EOFError(
                            "Compressed file ended before the end-of-stream marker was reached"
                        )
                data = self._inflate.decompress(self._input, out.nbytes)
                self._input = self._inflate.unconsumed_tail
                if data:
                    out[: len(data)] = data
                    return len(data)
        return 0

    def _next_member(self) -> bool:
        """After a member: whether another one follows (zero padding is skipped)."""
        # everything after the member (zlib may also leave it in unconsumed_tail: not twice)
        rest = self._inflate.unused_data
        while True:
            rest = rest.lstrip(b"\x00")
            if len(rest) >= 2:
                break
            more = self._raw.read(READ_BYTES) or b""
            if not more:
                if rest:
                    raise gzip.BadGzipFile(f"Not a gzipped file ({rest!r})")
                return False
            rest += more
        if not rest.startswith(b"\x1f\x8b"):
            raise gzip.BadGzipFile(f"Not a gzipped file ({rest[:2]!r})")
        self._inflate, self._input = zlib.decompressobj(GZIP_WBITS), rest
        return True


def gunzip(raw: BinaryIO | io.RawIOBase) -> BinaryIO:
    """`raw` unpacked, buffered."""
    return io.BufferedReader(Gunzip(raw))
