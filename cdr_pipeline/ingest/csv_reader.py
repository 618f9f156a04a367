"""Chunked RFC-4180 CSV reading with exact line numbers and bounded memory.

`ingest/csv_split.py` splits the stream into complete records (numpy, exact line numbers,
separators counted per record, which finds ragged rows without a parse). Each chunk of exactly
`chunk_rows` records is parsed by polars into string columns. Invalid UTF-8 is rare:
when polars refuses a chunk, it is re-checked record by record, the bad records are
quarantined with their line and raw text, and the rest is parsed again.

Broken quoting never swallows the rest of the file: a quote that RFC 4180 does not allow (one
inside an unquoted field, like `O"Brien`, or text right after a closing quote) or a quoted
field still open at the end of the file or `max_record_bytes` later quarantines the first
line of its record, and splitting starts again on the next line. A line longer than
`max_record_bytes` without any line break fails the file (see docs/limits.md).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import (
    CHUNK_BYTES,
    CHUNK_FIELDS,
    JOINED,
    BadInput,
    Chunk,
    RawReject,
    columns_differ,
    raw_str,
)
from cdr_pipeline.ingest.csv_header import (
    Header,
    is_sep_line,
    is_summary_line,
    split_fields,
    summary_rows,
)
from cdr_pipeline.ingest.csv_split import Segment, split_stream
from cdr_pipeline.ingest.encoding import not_text_detail
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.schema.base import NULL_MARKERS, normalize_header


def read_csv_body(
    stream: BinaryIO, header: Header, chunk_rows: int, limits: Limits | None = None
) -> Iterator[Chunk]:
    """Chunks of the records after the header (see `read_header`)."""
    max_record = (limits or Limits()).record_bytes
    headers, delimiter = header.names, header.delimiter
    ncols = len(headers)
    chunk_rows = min(chunk_rows, max(CHUNK_FIELDS // ncols, 1))  # a wide header: fewer rows
    col_names = [f"c{i}" for i in range(ncols)]
    pieces: list[tuple[Segment, int, int]] = []
    have = held = pending = 0  # records, their bytes, and the raw text of pending_rejects
    pending_rejects: list[RawReject] = []
    bytes_seen = 0  # of the segments split so far
    consumed = 0  # of the body up to the end of the last record taken into a chunk

    def emit() -> Chunk:
        nonlocal pieces, have, held, pending, pending_rejects
        chunk = _parse(pieces, header, col_names, pending_rejects, consumed)
        pieces, have, held, pending, pending_rejects = [], 0, 0, 0, []
        return chunk

    unended: list[int] = []
    split = split_stream(
        stream, header.rest, header.next_line, ord(delimiter), max_record, ncols, unended
    )
    for item in split:
        if isinstance(item, RawReject):
            pending_rejects.append(item)
            pending += len(item.raw_text)
            # records that never split: a chunk's bytes or rows, no more (after each chunk
            # the reject gate may stop reading a file of nothing else)
            if pending >= CHUNK_BYTES or len(pending_rejects) >= chunk_rows:
                yield emit()
            continue
        seg = item
        bytes_seen += len(seg.data)
        i = 0
        while i < len(seg):
            take = min(chunk_rows - have, len(seg) - i)
            # the records that fit in the chunk's bytes (the first one always does)
            spans = seg.ends[i : i + take] - seg.starts[i]
            fit = int(np.searchsorted(spans, CHUNK_BYTES - held, side="right"))
            full = fit < take
            take = max(fit, 0 if have else 1) if full else take
            if take:
                pieces.append((seg, i, i + take))
                have += take
                held += int(seg.ends[i + take - 1] - seg.starts[i])
                consumed = bytes_seen - len(seg.data) + int(seg.ends[i + take - 1])
                i += take
            if have == chunk_rows or full:
                yield emit()
    # the last chunk (an empty one to carry the note of an unended last record after a full one)
    if have or pending_rejects or unended:
        last = emit()
        last.unended_line = unended[0] if unended else None
        yield last


def unended_note(line: int) -> str:
    """The note of a whole last record with no line break after it (`Chunk.unended_line`)."""
    return (
        f"the last record (line {line:,}) has no line break after it: it was read, as RFC 4180 "
        "allows, but a download or copy cut short ends the same way (its last value cut, the "
        "records after it missing); if Control Hub counts more records, download it again"
    )


class _Records:
    """The records of one chunk, addressable by index (for raw text of rejects)."""

    def __init__(self, pieces: list[tuple[Segment, int, int]]) -> None:
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
    return commas == (ncols - 1) % 256  # counted modulo 256 (`csv_split._split_records`)


def _parse(
    pieces: list[tuple[Segment, int, int]],
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
        zeros = _with_nul(records)
        if zeros is not None:
            ok = ok & ~zeros
        keep = None if ok.all() else np.flatnonzero(ok)
        if keep is not None:
            rejects = rejects + [
                _nul_reject(records.raw(int(i)), int(lines[i]))
                if zeros is not None and zeros[i]
                else _ragged(records.raw(int(i)), int(lines[i]), header.names, delimiter)
                for i in np.flatnonzero(~ok)
            ]
            index, lines = keep, lines[keep]
        frame = (
            _polars_parse(_contiguous(records, keep), col_names, delimiter) if len(index) else None
        )
        if frame is not None and frame.height != len(index):
            frame = None
        if frame is None and len(index):
            keep_idx, bad = _screen(records, index, lines, header.names, delimiter)
            rejects = rejects + bad
            index, lines = index[keep_idx], lines[keep_idx]
            if len(index):
                frame = _polars_parse(_contiguous(records, index), col_names, delimiter)
                assert frame is not None and frame.height == len(index)
    if frame is None:
        frame = pl.DataFrame(schema=dict.fromkeys(col_names, pl.String))
    repeats, sums = _header_lines(frame, header.names, lines), summary_rows(frame)
    if len(repeats) or len(sums):
        rejects = rejects + [
            RawReject(int(lines[i]), reason, says, raw_str(records.raw(int(index[i]))))
            for found, reason, says in ((repeats, "repeated_header", REPEATED), (sums, *SUMMARY))
            for i in found
        ]
        keep_rows = np.setdiff1d(np.arange(frame.height), np.concatenate([repeats, sums]))
        frame, index, lines = frame[keep_rows], index[keep_rows], lines[keep_rows]

    def raw_text(i: int) -> str:
        return raw_str(records.raw(int(index[i])))

    rejects.sort(key=lambda r: r.source_row)
    return Chunk(
        header.names, frame, lines, raw_text, rejects, bytes_seen, delimiter, nulls_marked=True
    )


REPEATED = "the header line again, not a record (exports joined into one file?)"
SUMMARY = (
    "summary_line",
    "a summary line (a count or total a report tool or a person added under the records), "
    "not a record",
)


def _header_lines(frame: pl.DataFrame, headers: list[str], lines: np.ndarray) -> np.ndarray:
    """Rows of `frame` that are the header line again (exports joined with `cat`, BOM and
    all). The same header in another column order fails the file: the rows after it would be
    read into the wrong columns."""
    names = [normalize_header(h) for h in headers]
    if not frame.height or not names[0]:
        return np.empty(0, dtype=np.int64)
    first = frame.get_column(frame.columns[0])
    # a cheap test of the first field finds the candidates: one of this header's names as
    # written (a joined export repeats it byte for byte), in capitals or lower case, BOM or
    # not; each is compared in full. Folding every first field for the test (blanks, case)
    # cost the reader 0.29 CPU s per million records.
    spellings = {v for h in headers for v in (h, h.strip(), h.strip().lower(), h.strip().upper())}
    spellings |= {"\ufeff" + v for v in spellings}
    candidates = np.flatnonzero(first.is_in(spellings).fill_null(False))
    found = []
    for i in candidates:
        row = [normalize_header(v or "") for v in frame.row(int(i))]
        if row == names:
            found.append(int(i))
        elif sorted(row) == sorted(names):
            raise BadInput(
                "the header appears again here with its columns in another order: the "
                "rows after it would be read into the wrong columns",
                line=int(lines[i]),
                hint="the file joins exports of different layouts: load each export as a "
                "file of its own",
            )
    return np.array(found, dtype=np.int64)


def _with_nul(records: _Records) -> np.ndarray | None:
    """True for the records holding a NUL byte; None when none does (the usual case: one
    byte search per piece of the chunk)."""
    if all(
        seg.data.find(b"\x00", int(seg.starts[a]), int(seg.ends[b - 1])) < 0
        for seg, a, b in records.pieces
    ):
        return None
    return np.array([b"\x00" in records.raw(i) for i in range(len(records))], dtype=bool)


def _nul_reject(raw: bytes, line: int) -> RawReject:
    """No export holds a NUL: a block of zeros where a crash, a failing disk or a copy wrote
    none of the data, which may join the start of one record to the end of a later one with
    as many fields as a record has (so no field count finds it)."""
    return RawReject(
        line,
        "nul_bytes",
        "NUL bytes in the record: a block of zeros where the file was damaged (on disk, or in "
        "a copy or download that failed); what is left of the line may be parts of two records "
        "joined. Copy or download the export again",
        raw_str(raw),
    )


def _ragged(raw: bytes, line: int, headers: list[str], delimiter: str = ",") -> RawReject:
    """The reject of a record without as many fields as the header; `BadInput` when it is
    the header of another export (`_other_header`)."""
    text, ncols = raw_str(raw), len(headers)
    if is_sep_line(raw):  # counted as no record, like the header line it comes before
        return RawReject(
            line,
            "repeated_header",
            "the 'sep=' line that starts an export again, not a record (exports joined "
            "into one file?)",
            text,
        )
    if is_summary_line(text, delimiter):  # no record: counted as none, like a header line
        return RawReject(line, *SUMMARY, text)
    try:
        fields = split_fields(text, delimiter)
        found = f"found {len(fields)}"
        _other_header(fields, headers, line)
    except csv.Error as exc:  # a line break outside quotes: the splitter breaks at LF only
        found = (
            "and a carriage return (CR) alone inside the line: records of old Mac line "
            "endings, joined; re-save the file with LF or CRLF line endings"
            if "\r" in text
            else f"and the line cannot be split into fields ({exc})"
        )
    return RawReject(line, "ragged_row", f"expected {ncols} fields, {found}", text)


@functools.lru_cache(maxsize=4)
def _names(headers: tuple[str, ...]) -> list[str]:
    return [normalize_header(h) for h in headers]


def _other_header(fields: list[str], headers: list[str], line: int) -> None:
    """Fails the file when a line of another field count is a header, most of the first
    one's columns named in it: exports of two layouts joined (`cat`), a column added or
    dropped between them. Each record of the second was quarantined as a `ragged_row`: a
    small one among a large first export stayed under `max_reject_rate`, and the file
    loaded without them, exit 0."""
    names = _names(tuple(headers))
    if not {normalize_header(f) for f in fields[:2]} & set(names):
        return  # most ragged lines: at a glance
    here = [normalize_header(f) for f in fields]
    if 2 * len(set(here) & set(names)) <= len(names):
        return
    added = [f.strip() for f, n in zip(fields, here, strict=True) if n and n not in names]
    gone = [h.strip() for h, n in zip(headers, names, strict=True) if n not in here]
    which = columns_differ(added, gone)
    raise BadInput(
        f"a header of another export appears here, with {len(fields)} columns where the first "
        f"has {len(headers)}{f' ({which})' if which else ''}: the rows after it do not fit the "
        "first header's columns",
        line=line,
        hint=JOINED,
    )


def _screen(
    records: _Records, index: np.ndarray, lines: np.ndarray, headers: list[str], delimiter: str
) -> tuple[list[int], list[RawReject]]:
    """Slow path over records `index`: find those that are not UTF-8 or not as many fields
    as `headers`.
    Returns positions (into `index`) to keep, and the rejects."""
    keep: list[int] = []
    bad: list[RawReject] = []
    for k, i in enumerate(index):
        raw = records.raw(int(i))
        line = int(lines[k])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = not_text_detail(raw, exc.start)
            bad.append(RawReject(line, "invalid_utf8", detail, raw_str(raw)))
            continue
        try:
            fields = _fields(text, delimiter)
        except csv.Error as exc:
            bad.append(RawReject(line, "malformed_csv", str(exc), text))
            continue
        if len(fields) != len(headers):
            bad.append(_ragged(raw, line, headers, delimiter))
            continue
        keep.append(k)
    return keep, bad


def _fields(text: str, delimiter: str) -> list[str]:
    """The fields of `text` as the chunk's parser (polars) reads them: a CR alone inside an
    unquoted value is part of it. Python's csv refused it (`new-line character seen in
    unquoted field`): the record was quarantined only when a record polars cannot parse
    (not UTF-8) shared its chunk, so the chunk size decided whether it loaded."""
    try:
        return split_fields(text, delimiter)
    except csv.Error:
        if "\r" not in text:
            raise
        return split_fields(text.replace("\r", "\x00"), delimiter)  # no record holds a NUL
