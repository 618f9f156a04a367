"""A ZIP member's stream whose every read unpacks at most what was asked for.

zipfile bounds what a read unpacks for deflate only: a bzip2 or LZMA member (WinZip's and
7-Zip's other methods) is unpacked a whole compressed block at a time, so a 77 KB LZMA
member of 512 MiB of blank lines came out of one read as 512 MiB (1.1 GB peak, before
`max_unpacked_ratio` could see a byte of it). Such a member is read here as its compressed
bytes and unpacked with the decompressor's own `max_length`, its size and CRC-32 checked
at the end as zipfile checks them.
"""

from __future__ import annotations

import bz2
import copy
import io
import lzma
import struct
import zipfile
import zlib
from typing import IO, Any

READ_BYTES = 64 * 1024
"""Compressed bytes taken in at a time, when the decompressor asks for more."""


def open_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo | str) -> IO[bytes]:
    """`zf.open(member)`, except that a bzip2 or LZMA member unpacks no more per read than
    the read asks for."""
    info = member if isinstance(member, zipfile.ZipInfo) else zf.getinfo(member)
    if info.compress_type not in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        return zf.open(info)
    raw = copy.copy(info)  # its compressed bytes as they lie, unchecked: checked below
    raw.compress_type, raw.file_size = zipfile.ZIP_STORED, info.compress_size
    del raw.CRC
    return io.BufferedReader(_Unpacking(zf.open(raw), info))


class _Unpacking(io.RawIOBase):
    def __init__(self, packed: IO[bytes], info: zipfile.ZipInfo) -> None:
        self._packed, self._info = packed, info
        self._lzma = info.compress_type == zipfile.ZIP_LZMA
        self._dec: Any = None if self._lzma else bz2.BZ2Decompressor()
        self._crc = self._size = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._packed.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        with memoryview(buffer) as view:
            while True:
                if self._dec is None:
                    self._dec = self._lzma_decompressor()
                if self._dec.eof:
                    return self._end()
                taken = self._packed.read(READ_BYTES) if self._dec.needs_input else b""
                if self._dec.needs_input and not taken:
                    return self._ended_without_marker()
                out = self._dec.decompress(taken, max_length=len(view))
                if out:
                    view[: len(out)] = out
                    self._crc = zlib.crc32(out, self._crc)
                    self._size += len(out)
                    return len(out)
                if not taken and not self._dec.eof:  # no progress: never loop on it
                    return self._ended_without_marker()

    def _lzma_decompressor(self) -> lzma.LZMADecompressor:
        """ZIP's LZMA: a version, the properties' length and the properties, then the data."""
        head = self._packed.read(4)
        if len(head) < 4:
            raise EOFError("compressed data ends early (truncated)")
        (size,) = struct.unpack("<H", head[2:4])
        props = self._packed.read(size)
        filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)]  # type: ignore[attr-defined]
        return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)

    def _ended_without_marker(self) -> int:
        """No input left, or none taken: an LZMA member written without an end marker (its
        size is in the directory, as 7-Zip writes it) ends once all its bytes are out; any
        other stream is cut short."""
        if self._lzma and self._size == self._info.file_size:
            return self._end()
        raise EOFError("compressed data ends early (truncated)")

    def _end(self) -> int:
        """The member's end: its size and CRC-32 as its directory entry states them."""
        self._done = True
        if self._size != self._info.file_size or self._crc != self._info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {self._info.filename!r}")
        return 0
