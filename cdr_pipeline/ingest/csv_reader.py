"""Chunked RFC-4180 CSV reading with exact line numbers and bounded memory.

The stream is read in fixed-size byte blocks. Record boundaries are the newlines preceded by
an even number of quote characters (RFC 4180 escapes a quote by doubling it, so parity is
preserved); numpy finds them without a Python loop. Each chunk of exactly `chunk_rows` records
is parsed by pyarrow into string columns. Ragged rows and invalid UTF-8 are rare: when pyarrow
reports one, that chunk is re-split record by record with the csv module, the bad records are
quarantined with their line and raw text, and the rest is parsed again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cdr_pipeline.ingest.chunk import Chunk, RawReject, clip

READ_BYTES = 4 * 1024 * 1024
NL, QUOTE = 10, 34


class _Segment:
    """Complete records in a byte buffer: record i is data[starts[i]:ends[i]]."""

    __slots__ = ("data", "ends", "lines", "starts")

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray):
        self.data, self.starts, self.ends, self.lines = data, starts, ends, lines

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
    if not nonblank.all():
        starts, ends_wo_cr, lines = starts[nonblank], ends_wo_cr[nonblank], lines[nonblank]
    return _Segment(buf, starts, ends_wo_cr, lines), buf[tail_start:], tail_line


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


def _parse(
    pieces: list[tuple[_Segment, int, int]],
    headers: list[str],
    col_names: list[str],
    ncols: int,
    rejects: list[RawReject],
    bytes_seen: int,
) -> Chunk:
    # Gather the records of this chunk into one contiguous buffer, one record per line.
    parts: list[bytes] = []
    lines_parts: list[np.ndarray] = []
    for seg, a, b in pieces:
        if b <= a:
            continue
        lo, hi = int(seg.starts[a]), int(seg.ends[b - 1])
        parts.append(_normalize_eol(seg, a, b, lo, hi))
        lines_parts.append(seg.lines[a:b])
    data = b"".join(parts)
    lines = np.concatenate(lines_parts) if lines_parts else np.empty(0, dtype=np.int64)
    # offsets of each record inside `data`
    texts: list[bytes] | None = None
    table = None
    if len(lines):
        table = _arrow_parse(data, col_names)
        if table is None or table.num_rows != len(lines):
            texts = _split_texts(pieces)
            keep, bad = _screen(texts, lines, ncols)
            rejects = rejects + bad
            lines = lines[keep]
            texts = [texts[i] for i in keep]
            table = _arrow_parse(b"\n".join(texts) + b"\n", col_names) if texts else None
    if table is None:
        table = pa.table({c: pa.array([], pa.string()) for c in col_names})
    if texts is None:
        texts_ref = pieces

        def raw_text(i: int) -> str:
            k = i
            for seg, a, b in texts_ref:
                if k < b - a:
                    j = a + k
                    return clip(
                        seg.data[int(seg.starts[j]) : int(seg.ends[j])].decode("utf-8", "replace")
                    )
                k -= b - a
            raise IndexError(i)
    else:
        kept = texts

        def raw_text(i: int) -> str:
            return clip(kept[i].decode("utf-8", "replace"))

    rejects.sort(key=lambda r: r.source_row)
    return Chunk(headers, table, lines, raw_text, rejects, bytes_seen)


def _normalize_eol(seg: _Segment, a: int, b: int, lo: int, hi: int) -> bytes:
    """Records a..b of the segment joined by LF, with an LF at the end."""
    block = seg.data[lo:hi]
    if seg.data.find(b"\r", lo, hi) < 0 and b - a == block.count(b"\n") + 1:
        return block + b"\n"
    return b"\n".join(seg.data[int(seg.starts[j]) : int(seg.ends[j])] for j in range(a, b)) + b"\n"


def _split_texts(pieces: list[tuple[_Segment, int, int]]) -> list[bytes]:
    return [
        seg.data[int(seg.starts[j]) : int(seg.ends[j])] for seg, a, b in pieces for j in range(a, b)
    ]


class _Invalid:
    def __init__(self) -> None:
        self.seen = False

    def __call__(self, row: object) -> str:
        self.seen = True
        return "skip"


def _arrow_parse(data: bytes, col_names: list[str]) -> pa.Table | None:
    """Parse records with pyarrow; None when any record is ragged or not UTF-8."""
    invalid = _Invalid()
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=col_names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(col_names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    return None if invalid.seen else table


def _screen(texts: list[bytes], lines: np.ndarray, ncols: int) -> tuple[list[int], list[RawReject]]:
    """Slow path: find the records that are not UTF-8 or do not have `ncols` fields."""
    keep: list[int] = []
    bad: list[RawReject] = []
    for i, raw in enumerate(texts):
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
            bad.append(
                RawReject(
                    line, "ragged_row", f"expected {ncols} fields, found {len(fields)}", clip(text)
                )
            )
            continue
        keep.append(i)
    return keep, bad
