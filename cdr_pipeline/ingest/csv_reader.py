"""Chunked RFC-4180 CSV reading with exact line numbers and bounded memory.

The stream is read in fixed-size byte blocks. Record boundaries are the newlines preceded by
an even number of quote characters (RFC 4180 escapes a quote by doubling it, so parity is
preserved); numpy finds them without a Python loop. Each chunk of exactly `chunk_rows` records
is parsed by polars into string columns, each record carrying a sentinel last field so a short
(ragged) row is visible after parsing. Long rows and invalid UTF-8 are rare: when polars
refuses a chunk, it is re-split record by record with the csv module, the bad records are
quarantined with their line and raw text, and the rest is parsed again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import Chunk, RawReject, clip

READ_BYTES = 4 * 1024 * 1024
NL, QUOTE = 10, 34


class _Segment:
    """Complete records in a byte buffer: record i is data[starts[i]:ends[i]]."""

    __slots__ = ("data", "ends", "has_blank", "lines", "starts")

    def __init__(
        self,
        data: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        lines: np.ndarray,
        has_blank: bool = False,
    ):
        self.data, self.starts, self.ends, self.lines = data, starts, ends, lines
        self.has_blank = has_blank
        """Blank lines lie between some records (they are not records)."""

    def __len__(self) -> int:
        return len(self.starts)


def _split_records(buf: bytes, first_line: int) -> tuple[_Segment, bytes, int]:
    """Split `buf` (starting at a record boundary) into complete records and the remainder.

    Returns the segment, the unfinished tail, and the line number the tail starts on."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == NL)
    if buf.find(b'"') >= 0:
        quotes = np.flatnonzero(arr == QUOTE)
        boundary = (np.searchsorted(quotes, nl) & 1) == 0
        bidx = np.flatnonzero(boundary)
    else:
        bidx = np.arange(len(nl))
    ends = nl[bidx]
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    lines = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        lines[0] = first_line
        lines[1:] = first_line + bidx[:-1] + 1
    tail_start = int(ends[-1]) + 1 if len(ends) else 0
    tail_line = first_line + (int(bidx[-1]) + 1 if len(ends) else 0)
    # strip the CR of CRLF from record ends so records are just their text
    ends_wo_cr = ends.copy()
    if len(ends):
        cr = arr[np.maximum(ends - 1, 0)] == 13
        cr &= ends > starts
        ends_wo_cr[cr] -= 1
    nonblank = ends_wo_cr > starts  # blank lines are not records (spreadsheet exports add them)
    has_blank = not nonblank.all()
    if has_blank:
        starts, ends_wo_cr, lines = starts[nonblank], ends_wo_cr[nonblank], lines[nonblank]
    return _Segment(buf, starts, ends_wo_cr, lines, has_blank), buf[tail_start:], tail_line


def read_header(stream: BinaryIO) -> tuple[list[str], bytes, int]:
    """Read the header record. Returns headers, bytes already read past it, next line number."""
    buf = b""
    line = 1
    while True:
        block = stream.read(64 * 1024)
        buf += block
        # skip leading blank lines
        stripped = buf.lstrip(b"\r\n")
        line_skip = buf[: len(buf) - len(stripped)].count(b"\n")
        seg, tail, _ = _split_records(stripped, line + line_skip)
        if len(seg) or not block:
            break
    if not len(seg):
        text = stripped.decode("utf-8", errors="replace").strip()
        if not text:
            return [], b"", 1
        rest = b""
        header_text = text
        next_line = line + line_skip + 1
    else:
        s, e = int(seg.starts[0]), int(seg.ends[0])
        header_text = stripped[s:e].decode("utf-8", errors="replace")
        rest = stripped[int(seg.starts[1]) :] if len(seg) > 1 else tail
        next_line = (
            int(seg.lines[1]) if len(seg) > 1 else int(seg.lines[0]) + header_text.count("\n") + 1
        )
    headers = next(csv.reader([header_text]), [])
    return headers, rest, next_line


def _records(
    stream: BinaryIO, rest: bytes, first_line: int
) -> Iterator[_Segment | tuple[bytes, int]]:
    """Segments of complete records; finally the unterminated tail (bytes, line) if any."""
    pending, line = b"", first_line
    block = rest
    while True:
        if not block:
            block = stream.read(READ_BYTES)
            if not block:
                break
        buf = pending + block if pending else block
        block = b""
        seg, pending, line = _split_records(buf, line)
        if len(seg):
            yield seg
    if pending.strip(b"\r\n"):
        if pending.count(b'"') % 2:
            yield (pending, line)
        else:  # last record without a final newline
            seg, _, _ = _split_records(pending + b"\n", line)
            yield seg


def read_csv_chunks(stream: BinaryIO, chunk_rows: int) -> Iterator[Chunk]:
    headers, rest, first_line = read_header(stream)
    if headers:
        yield from read_csv_body(stream, headers, rest, first_line, chunk_rows)


def read_csv_body(
    stream: BinaryIO, headers: list[str], rest: bytes, first_line: int, chunk_rows: int
) -> Iterator[Chunk]:
    """Chunks of the records after the header (see `read_header`)."""
    ncols = len(headers)
    col_names = [f"c{i}" for i in range(ncols)]
    pieces: list[tuple[_Segment, int, int]] = []
    have = 0
    pending_rejects: list[RawReject] = []
    bytes_seen = 0

    def emit() -> Chunk:
        nonlocal pieces, have, pending_rejects
        chunk = _parse(pieces, headers, col_names, ncols, pending_rejects, bytes_seen)
        pieces, have, pending_rejects = [], 0, []
        return chunk

    for item in _records(stream, rest, first_line):
        if isinstance(item, tuple):
            text, line = item
            pending_rejects.append(
                RawReject(
                    line,
                    "unterminated_quote",
                    "the last record opens a quoted field that never closes (file truncated?)",
                    clip(text.decode("utf-8", errors="replace")),
                )
            )
            continue
        seg = item
        bytes_seen += len(seg.data)
        i = 0
        while i < len(seg):
            take = min(chunk_rows - have, len(seg) - i)
            pieces.append((seg, i, i + take))
            have += take
            i += take
            if have == chunk_rows:
                yield emit()
    if have or pending_rejects:
        yield emit()


class _Records:
    """The records of one chunk, addressable by index (for raw text of rejects)."""

    def __init__(self, pieces: list[tuple[_Segment, int, int]]) -> None:
        self.pieces = [p for p in pieces if p[2] > p[1]]
        self.offsets = np.cumsum([0] + [b - a for _, a, b in self.pieces])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def raw(self, i: int) -> bytes:
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        seg, a, _ = self.pieces[k]
        j = a + i - int(self.offsets[k])
        return seg.data[int(seg.starts[j]) : int(seg.ends[j])]

    def lines(self) -> np.ndarray:
        if not self.pieces:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([seg.lines[a:b] for seg, a, b in self.pieces])


SENTINEL = b"\x01"
END = "__end__"


def _with_sentinel(records: _Records) -> bytes:
    """The chunk's bytes with `,\\x01` appended to every record (at record ends only, never
    inside a quoted field), so a short row shows as a missing sentinel after parsing."""
    parts = []
    for seg, a, b in records.pieces:
        lo, hi = int(seg.starts[a]), int(seg.ends[b - 1])
        block = memoryview(seg.data)[lo:hi]
        if seg.has_blank:
            # blank lines between records: rebuild record by record (rare)
            parts.append(
                b"".join(
                    seg.data[int(seg.starts[j]) : int(seg.ends[j])] + b"," + SENTINEL + b"\n"
                    for j in range(a, b)
                )
            )
            continue
        arr = np.frombuffer(block, dtype=np.uint8)
        pos = np.repeat(seg.ends[a:b] - lo, 2)
        vals = np.tile(np.array([44, 1], dtype=np.uint8), b - a)
        parts.append(np.insert(arr, pos, vals).tobytes() + b"\n")
    return b"".join(parts)


def _polars_parse(data: bytes, col_names: list[str]) -> pl.DataFrame | None:
    """Parse records (each ending in the sentinel field); None when a record has too many
    fields or is not UTF-8 (the caller then screens record by record)."""
    try:
        return pl.read_csv(
            data,
            has_header=False,
            new_columns=[*col_names, END],
            schema=dict.fromkeys([*col_names, END], pl.String),
            empty_string_is_null=False,
            quote_char='"',
            raise_if_empty=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.SchemaError):
        return None


def _parse(
    pieces: list[tuple[_Segment, int, int]],
    headers: list[str],
    col_names: list[str],
    ncols: int,
    rejects: list[RawReject],
    bytes_seen: int,
) -> Chunk:
    records = _Records(pieces)
    lines = records.lines()
    index = np.arange(len(records))
    frame: pl.DataFrame | None = None
    if len(records):
        frame = _polars_parse(_with_sentinel(records), col_names)
        if frame is not None and frame.height == len(records):
            short = (frame[END] != SENTINEL.decode()).to_numpy()
            if short.any():
                rejects = rejects + [
                    _ragged(records.raw(int(i)), int(lines[i]), ncols)
                    for i in np.flatnonzero(short)
                ]
                keep = ~short
                frame, index, lines = frame.filter(pl.Series(keep)), index[keep], lines[keep]
        else:
            keep_idx, bad = _screen(records, lines, ncols)
            rejects = rejects + bad
            index, lines = index[keep_idx], lines[keep_idx]
            frame = None
            if len(index):
                kept = [records.raw(int(i)) + b"," + SENTINEL for i in index]
                frame = _polars_parse(b"\n".join(kept) + b"\n", col_names)
                assert frame is not None and frame.height == len(index)
    if frame is None:
        frame = pl.DataFrame(schema=dict.fromkeys(col_names, pl.String))
    else:
        frame = frame.drop(END)

    def raw_text(i: int) -> str:
        return clip(records.raw(int(index[i])).decode("utf-8", "replace"))

    rejects.sort(key=lambda r: r.source_row)
    return Chunk(headers, frame, lines, raw_text, rejects, bytes_seen)


def _ragged(raw: bytes, line: int, ncols: int) -> RawReject:
    text = raw.decode("utf-8", "replace")
    try:
        found = len(next(csv.reader(io.StringIO(text)), []))
    except csv.Error:
        found = -1
    return RawReject(line, "ragged_row", f"expected {ncols} fields, found {found}", clip(text))


def _screen(records: _Records, lines: np.ndarray, ncols: int) -> tuple[list[int], list[RawReject]]:
    """Slow path: find the records that are not UTF-8 or do not have `ncols` fields."""
    keep: list[int] = []
    bad: list[RawReject] = []
    for i in range(len(records)):
        raw = records.raw(i)
        line = int(lines[i])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(
                RawReject(
                    line,
                    "invalid_utf8",
                    f"byte {exc.start}: not UTF-8 (re-export the report as UTF-8)",
                    clip(raw.decode("utf-8", "replace")),
                )
            )
            continue
        try:
            fields = next(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            bad.append(RawReject(line, "malformed_csv", str(exc), clip(text)))
            continue
        if len(fields) != ncols:
            bad.append(_ragged(raw, line, ncols))
            continue
        keep.append(i)
    return keep, bad
