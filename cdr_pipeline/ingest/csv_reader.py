"""Chunked RFC-4180 CSV reading with exact line numbers and bounded memory.

The stream is read in fixed-size byte blocks. Record boundaries are the newlines preceded by
an even number of quote characters (RFC 4180 escapes a quote by doubling it, so parity is
preserved); numpy finds them without a Python loop. Each chunk of exactly `chunk_rows` records
is parsed by polars into string columns. The splitter also counts separators outside quoted
fields per record, which finds ragged rows without a second parse. Invalid UTF-8 is rare:
when polars refuses a chunk, it is re-checked record by record, the bad records are
quarantined with their line and raw text, and the rest is parsed again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import Chunk, RawReject, clip
from cdr_pipeline.schema.base import NULL_MARKERS

READ_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A record can never be this long (a CDR row is ~1 KB): an unfinished record past it means
an unbalanced quote earlier in the file. Its first line is quarantined and splitting resumes
after it, so malformed input never makes memory follow the file size."""
NL, QUOTE = 10, 34
DELIMITERS = (",", ";", "\t")
"""Accepted separators: Control Hub writes commas; a spreadsheet re-saving the export in a
French or German locale writes semicolons; some tools write tabs. Sniffed from the header."""


class _Segment:
    """Complete records in a byte buffer: record i is data[starts[i]:ends[i]]."""

    __slots__ = ("commas", "data", "ends", "has_blank", "lines", "quoted", "starts")

    def __init__(
        self,
        data: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        lines: np.ndarray,
        has_blank: bool,
        commas: np.ndarray,
        quoted: np.ndarray,
    ):
        self.data, self.starts, self.ends, self.lines = data, starts, ends, lines
        self.has_blank = has_blank
        """Blank lines lie between some records (they are not records)."""
        self.commas, self.quoted = commas, quoted
        """Separators per record outside quoted fields, and whether it has any quote."""

    def __len__(self) -> int:
        return len(self.starts)


def _split_records(buf: bytes, first_line: int, sep: int = 44) -> tuple[_Segment, bytes, int]:
    """Split `buf` (starting at a record boundary) into complete records and the remainder.

    Returns the segment, the unfinished tail, and the line number the tail starts on."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == NL)
    quotes = np.flatnonzero(arr == QUOTE) if buf.find(b'"') >= 0 else None
    if quotes is not None:
        bidx = np.flatnonzero((np.searchsorted(quotes, nl) & 1) == 0)
    else:
        bidx = np.arange(len(nl))
    ends = nl[bidx]
    n = len(ends)
    starts = np.zeros(n, dtype=np.int64)
    lines = np.full(n, first_line, dtype=np.int64)
    if n:
        starts[1:] = ends[:-1] + 1
        lines[1:] += bidx[:-1] + 1
    tail_start = int(ends[-1]) + 1 if n else 0
    tail_line = first_line + (int(bidx[-1]) + 1 if n else 0)
    # strip the CR of CRLF from record ends so records are just their text
    ends_wo_cr = ends.copy()
    if n:
        cr = (arr[np.maximum(ends - 1, 0)] == 13) & (ends > starts)
        ends_wo_cr[cr] -= 1
    # fields per record, for the ragged-row check: separators minus those inside quoted spans
    # (RFC 4180 quotes come in pairs, an escaped "" included, so pairs delimit the spans)
    commas = np.zeros(n, dtype=np.int32)
    quoted = np.zeros(n, dtype=bool)
    if n:
        # segment sums of the separator mask (no index array of every separator)
        is_sep = (arr[:tail_start] == sep).view(np.uint8)
        commas = np.add.reduceat(is_sep, starts, dtype=np.int32)
        if quotes is not None:
            q = quotes[quotes < tail_start]
            quoted = np.diff(np.searchsorted(q, np.append(starts, tail_start))) > 0
            spans = q[: len(q) - len(q) % 2]  # open, close, open, close...: strictly increasing
            if len(spans):
                inside = np.add.reduceat(is_sep, spans, dtype=np.int32)[0::2]
                owner = np.searchsorted(starts, spans[0::2], side="right") - 1
                commas -= np.bincount(owner, weights=inside, minlength=n).astype(np.int32)
    nonblank = ends_wo_cr > starts  # blank lines are not records (spreadsheet exports add them)
    has_blank = not nonblank.all()
    if has_blank:
        starts, ends_wo_cr, lines = starts[nonblank], ends_wo_cr[nonblank], lines[nonblank]
        commas, quoted = commas[nonblank], quoted[nonblank]
    seg = _Segment(buf, starts, ends_wo_cr, lines, has_blank, commas, quoted)
    return seg, buf[tail_start:], tail_line


@dataclass(frozen=True)
class Header:
    names: list[str]
    rest: bytes
    """Bytes already read past the header."""
    next_line: int
    delimiter: str = ","


def sniff_delimiter(header_text: str) -> str:
    """The separator of the header line: the accepted one it holds most often (',' on ties)."""
    counts = {d: header_text.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def read_header(stream: BinaryIO) -> Header:
    """Read the header record and sniff the separator."""
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
            return Header([], b"", 1)
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
    delimiter = sniff_delimiter(header_text)
    headers = next(csv.reader([header_text], delimiter=delimiter), [])
    return Header(headers, rest, next_line, delimiter)


def _records(
    stream: BinaryIO, rest: bytes, first_line: int, sep: int
) -> Iterator[_Segment | RawReject]:
    """Segments of complete records, and rejects for text that can never form one (an
    unbalanced quote mid-file, an unterminated quote at the end)."""
    pending, line = b"", first_line
    block = rest
    while True:
        if not block:
            block = stream.read(READ_BYTES)
            if not block:
                break
        buf = pending + block if pending else block
        block = b""
        seg, pending, line = _split_records(buf, line, sep)
        if len(seg):
            yield seg
        while len(pending) > MAX_RECORD_BYTES:
            cut = pending.find(b"\n")
            cut = len(pending) if cut < 0 else cut + 1
            yield RawReject(
                line,
                "unbalanced_quote",
                f"a quoted field opened on this line is still open {MAX_RECORD_BYTES:,} bytes "
                "later; the line is quarantined and reading resumes after it",
                clip(pending[:cut].rstrip(b"\r\n").decode("utf-8", errors="replace")),
            )
            seg, pending, line = _split_records(pending[cut:], line + 1, sep)
            if len(seg):
                yield seg
    if pending.strip(b"\r\n"):
        if pending.count(b'"') % 2:
            yield RawReject(
                line,
                "unterminated_quote",
                "the last record opens a quoted field that never closes (file truncated?)",
                clip(pending.decode("utf-8", errors="replace")),
            )
        else:  # last record without a final newline
            seg, _, _ = _split_records(pending + b"\n", line, sep)
            yield seg


def read_csv_body(stream: BinaryIO, header: Header, chunk_rows: int) -> Iterator[Chunk]:
    """Chunks of the records after the header (see `read_header`)."""
    headers, delimiter = header.names, header.delimiter
    ncols = len(headers)
    col_names = [f"c{i}" for i in range(ncols)]
    pieces: list[tuple[_Segment, int, int]] = []
    have = 0
    pending_rejects: list[RawReject] = []
    bytes_seen = 0

    def emit() -> Chunk:
        nonlocal pieces, have, pending_rejects
        chunk = _parse(pieces, header, col_names, pending_rejects, bytes_seen)
        pieces, have, pending_rejects = [], 0, []
        return chunk

    for item in _records(stream, header.rest, header.next_line, ord(delimiter)):
        if isinstance(item, RawReject):
            pending_rejects.append(item)
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


def _contiguous(records: _Records, keep: np.ndarray | None) -> bytes:
    """The chunk's records as one buffer for the parser: whole byte ranges when nothing is
    left out, record by record (rare: blank lines or quarantined records) otherwise."""
    if keep is None and not any(seg.has_blank for seg, _, _ in records.pieces):
        parts: list[bytes | memoryview] = []
        for seg, a, b in records.pieces:  # one copy: join reads the views in place
            parts += (memoryview(seg.data)[int(seg.starts[a]) : int(seg.ends[b - 1])], b"\n")
        return b"".join(parts)
    index = range(len(records)) if keep is None else keep
    return b"\n".join(records.raw(int(i)) for i in index) + b"\n"


def _polars_parse(data: bytes, col_names: list[str], delimiter: str) -> pl.DataFrame | None:
    """Parse records into string columns; None when polars refuses them (a record that is not
    UTF-8, or quoting it cannot follow): the caller then screens record by record."""
    try:
        return pl.read_csv(
            data,
            has_header=False,
            new_columns=col_names,
            schema=dict.fromkeys(col_names, pl.String),
            separator=delimiter,
            quote_char='"',
            null_values=list(NULL_MARKERS),  # quoted or not, as normalize would
            raise_if_empty=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.SchemaError):
        return None


def _field_count_ok(records: _Records, ncols: int) -> np.ndarray:
    """True for records with exactly `ncols` fields (separators outside quotes + 1)."""
    commas = np.concatenate([seg.commas[a:b] for seg, a, b in records.pieces])
    return commas == ncols - 1


def _parse(
    pieces: list[tuple[_Segment, int, int]],
    header: Header,
    col_names: list[str],
    rejects: list[RawReject],
    bytes_seen: int,
) -> Chunk:
    ncols, delimiter = len(header.names), header.delimiter
    records = _Records(pieces)
    lines = records.lines()
    index = np.arange(len(records))
    frame: pl.DataFrame | None = None
    if len(records):
        ok = _field_count_ok(records, ncols)
        keep = None if ok.all() else np.flatnonzero(ok)
        if keep is not None:
            rejects = rejects + [
                _ragged(records.raw(int(i)), int(lines[i]), ncols, delimiter)
                for i in np.flatnonzero(~ok)
            ]
            index, lines = keep, lines[keep]
        frame = (
            _polars_parse(_contiguous(records, keep), col_names, delimiter) if len(index) else None
        )
        if frame is not None and frame.height != len(index):
            frame = None
        if frame is None and len(index):
            keep_idx, bad = _screen(records, index, lines, ncols, delimiter)
            rejects = rejects + bad
            index, lines = index[keep_idx], lines[keep_idx]
            if len(index):
                frame = _polars_parse(_contiguous(records, index), col_names, delimiter)
                assert frame is not None and frame.height == len(index)
    if frame is None:
        frame = pl.DataFrame(schema=dict.fromkeys(col_names, pl.String))

    def raw_text(i: int) -> str:
        return clip(records.raw(int(index[i])).decode("utf-8", "replace"))

    rejects.sort(key=lambda r: r.source_row)
    return Chunk(
        header.names, frame, lines, raw_text, rejects, bytes_seen, delimiter, nulls_marked=True
    )


def _ragged(raw: bytes, line: int, ncols: int, delimiter: str = ",") -> RawReject:
    text = raw.decode("utf-8", "replace")
    try:
        found = len(next(csv.reader(io.StringIO(text), delimiter=delimiter), []))
    except csv.Error:
        found = -1
    return RawReject(line, "ragged_row", f"expected {ncols} fields, found {found}", clip(text))


def _screen(
    records: _Records, index: np.ndarray, lines: np.ndarray, ncols: int, delimiter: str
) -> tuple[list[int], list[RawReject]]:
    """Slow path over records `index`: find those that are not UTF-8 or not `ncols` fields.
    Returns positions (into `index`) to keep, and the rejects."""
    keep: list[int] = []
    bad: list[RawReject] = []
    for k, i in enumerate(index):
        raw = records.raw(int(i))
        line = int(lines[k])
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
            fields = next(csv.reader(io.StringIO(text), delimiter=delimiter))
        except csv.Error as exc:
            bad.append(RawReject(line, "malformed_csv", str(exc), clip(text)))
            continue
        if len(fields) != ncols:
            bad.append(_ragged(raw, line, ncols, delimiter))
            continue
        keep.append(k)
    return keep, bad
