"""Lines of a CSV body that are no record: empty lines and lines of separators only (the
empty rows a spreadsheet keeps below the data), found at the speed of memory. Used by
`csv_split`, which splits the records."""

from __future__ import annotations

import numpy as np

FEW_CANDIDATES = 256
"""Up to this many records of a buffer that pass the modulo-256 count are checked one by one
(`bytes.count`, a few microseconds in all); more, a block of separator-only lines, are
checked in one pass over the buffer, which costs about 5 ms per 4 MB read: done for every
buffer, it was a second of a 1M-leg ingest."""


def separators_only(
    buf: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    commas: np.ndarray,
    quoted: np.ndarray,
    sep: int,
) -> np.ndarray:
    """True for the records made of separators only (`,,,,,,`: the empty rows a spreadsheet
    keeps below the data). Such a record has no quote and as many separators as bytes: that
    compares the counts the splitter has (modulo 256, as `commas` is), and the records that
    pass have their other bytes counted exactly: one by one when they are few (real records
    that pass by chance), else in one pass over the buffer (record by record in Python, a
    file of nothing but such lines was read at 17 MB/s: a gzip of them let 200 times its
    size through, `max_unpacked_ratio`, 33 s for 2.7 MB)."""
    out = (starts.astype(np.uint8) - ends.astype(np.uint8) + commas == 0) & ~quoted
    out &= ends > starts
    candidates = np.flatnonzero(out)
    if 0 < len(candidates) <= FEW_CANDIDATES:  # real records pass by chance, 1 in 256
        mark = bytes([sep])
        for i in candidates:
            s, e = int(starts[i]), int(ends[i])
            out[i] = buf.count(mark, s, e) == e - s
    elif len(candidates):
        other = (np.frombuffer(buf, dtype=np.uint8) != sep).view(np.uint8)
        bounds = np.empty(2 * len(candidates), dtype=np.int64)  # [start, end) of each
        bounds[0::2], bounds[1::2] = starts[candidates], ends[candidates]
        out[candidates] = np.add.reduceat(other, bounds, dtype=np.int64)[0::2] == 0
    return out


def blank_lines_only(buf: bytes) -> bool:
    """Whether `buf` (from a record boundary) is nothing but empty lines (LF or CRLF; a CR
    at its end may begin a CRLF). A hostile file of such lines, or an archive member of
    63 MiB of them, was split at 5 MB/s; this looks at it at the speed of memory."""
    if buf[:1] not in (b"\n", b"\r") or buf[-1:] not in (b"\n", b"\r"):
        return False
    body = buf[:-1] if buf.endswith(b"\r") else buf
    return not body.replace(b"\r\n", b"\n").strip(b"\n")
