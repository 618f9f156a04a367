"""The header of a CSV export: one line of column names, read within `max_header_bytes` and
`max_columns`, and the separator sniffed from it. A header that is not one clean line (an open
quote, a bare CR, NUL bytes of UTF-16 without a byte-order mark, bytes that are not UTF-8)
fails the file: nothing after it could be split reliably.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.limits import Limits

DELIMITERS = (",", ";", "\t")
"""Accepted separators: Control Hub writes commas; a spreadsheet re-saving the export in a
French or German locale writes semicolons; some tools write tabs. Sniffed from the header."""


@dataclass(frozen=True)
class Header:
    names: list[str]
    rest: bytes
    """Bytes already read past the header."""
    next_line: int
    delimiter: str = ","


def split_fields(text: str, delimiter: str = ",", strict: bool = False) -> list[str]:
    """The fields of one CSV record (`csv.Error` when it cannot be split). Python's csv
    refuses a field over 128 KiB (`csv.field_size_limit`), far below `max_record_bytes`: the
    record is already within that limit, so the field may be as long as the record."""
    if len(text) > csv.field_size_limit():
        csv.field_size_limit(len(text))
    return next(csv.reader(io.StringIO(text), delimiter=delimiter, strict=strict), [])


def sniff_delimiter(header_text: str) -> str:
    """The separator of the header line: the accepted one it holds most often (',' on ties)."""
    counts = {d: header_text.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


class _Prefixed(io.BytesIO):
    """`prefix`, then the rest of `stream`."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self.prefix, self.stream = prefix, stream

    def read(self, size: int | None = -1) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix, b""
            return out
        return self.stream.read(-1 if size is None else size)


_SEP_LINE = re.compile(rb'(?:\xef\xbb\xbf)?("?)sep=([,;\t])\1', re.IGNORECASE)
"""`sep=;`: the line that tells a spreadsheet the separator, written before the header by
tools that make CSV for Excel; in quotes (`"sep=;"`) when a CSV writer wrote it as a field,
which it quotes for the separator it holds (Python's `csv.writer`, PHP's `fputcsv`)."""


def _sep_line(raw: bytes) -> str | None:
    """The separator a `sep=` line names, blanks and line end around it aside (never a tab,
    which may be the separator it names: `sep=\t`); None for another line."""
    named = _SEP_LINE.fullmatch(raw.strip(b"\r\n "))
    return None if named is None else named.group(2).decode()


def is_sep_line(raw: bytes) -> bool:
    """Whether a line is a `sep=` line (BOM and line end aside): in the body it starts
    another export joined after the first with `cat`, as the header line again does."""
    return _sep_line(raw) is not None


_SUMMARY_LINE = re.compile(
    r"(?:grand\s+)?(?:total|sum|count)(?:\s+(?:of\s+)?(?:rows|records|calls|lines|legs))?"
    r"|(?:rows|records|row\s+count|record\s+count)(?:\s+total)?",
    re.IGNORECASE,
)
"""The words of a summary line a report tool or a person adds under the records: `Total rows:
1234`, `Total: 1,234`, `Grand total 1234`, `Record count = 1234`, `Rows 1234`."""

_SUMMARY_COUNT = re.compile(r"\s*[:=]?\s*\d[\d,.\u00a0\u202f ]*")


def is_summary_line(text: str, delimiter: str = ",") -> bool:
    """Whether a line is a summary of the records, no record itself: its words
    (`_SUMMARY_LINE`) then a count, alone on the line (in quotes or not, with the empty
    fields a spreadsheet adds to a wider selection after it: `Total rows: 1234,,,,`)."""
    text = text.strip().rstrip(delimiter + " \t").strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    words = _SUMMARY_LINE.match(text)
    return words is not None and _SUMMARY_COUNT.fullmatch(text, words.end()) is not None


_SUMMARY_START = r"(?i)^\s*(?:grand|total|sum|count|rows?|records?)\b"


def summary_rows(frame: pl.DataFrame) -> np.ndarray:
    """Rows of a chunk that are a summary line padded with empty fields to the header's
    width (`Total rows: 1234,,,,`: a spreadsheet saved the selection, or a tool wrote the
    footer as a row): the first field is one (`is_summary_line`), every other is empty. Only
    the rows where the column of fewest empty values is empty are looked at (an export's
    Report ID or Correlation ID: none at all, a null count the frame keeps), and of those the
    first fields that start with a summary word: no pattern runs over a chunk's records."""
    if not frame.height or frame.width < 2:
        return np.empty(0, dtype=np.int64)
    fullest = min(frame.columns[1:], key=lambda c: frame.get_column(c).null_count())
    empty = frame.get_column(fullest).is_null()
    if not empty.any():
        return np.empty(0, dtype=np.int64)
    first = frame.get_column(frame.columns[0])
    candidates = np.flatnonzero(
        (empty & first.str.contains(_SUMMARY_START).fill_null(False)).to_numpy()
    )
    found = [
        int(i)
        for i in candidates
        if is_summary_line(first[int(i)])
        and all(v is None or not v.strip() for v in frame.row(int(i))[1:])
    ]
    return np.array(found, dtype=np.int64)


def read_header(
    stream: BinaryIO, limits: Limits | None = None, delimiter: str | None = None
) -> Header:
    """Read the header (the first line that is not blank or separators only) and sniff the
    separator, unless a `sep=` line before it names it. A header that is too long, has too
    many columns, an open quote, a bare CR, NUL bytes or bytes that are not UTF-8 fails the
    file."""
    limits = limits or Limits()
    buf, start, end, block = _head(stream, limits)
    start = max(start, 0)
    line = buf[:start].count(b"\n") + 1
    raw = buf[start:] if end < 0 else buf[start:end]
    rest = b"" if end < 0 else buf[end + 1 :]
    if b"\x00" in raw[: limits.header_bytes]:
        _check_header(raw[: limits.header_bytes], line)  # names the likely cause
    if (end < 0 and block) or len(raw) > limits.header_bytes:
        raise BadInput(
            f"no header line within the first {limits.header_bytes:,} bytes "
            "(no line break found: not a CSV export, or bare CR line endings?)",
            line=line,
            hint="re-save the file as CSV with LF or CRLF line endings; a genuinely longer "
            "header needs max_header_bytes raised in cdr.toml",
        )
    raw = raw.removesuffix(b"\r").removesuffix(b"\r")  # CRLF, or CR CR LF (see csv_split)
    if not raw.strip() or not raw.strip(_NOT_A_LINE):  # blank, or separators only
        return Header([], b"", 1)
    named = _sep_line(raw) if delimiter is None else None
    if named:
        return _after_sep_line(_Prefixed(rest, stream), limits, named, line)
    _check_header(raw, line)
    header_text = raw.decode("utf-8", errors="replace")
    delimiter = delimiter or sniff_delimiter(header_text)
    try:
        headers = split_fields(header_text, delimiter, strict=True)
    except csv.Error as exc:
        raise BadInput(f"the header cannot be read as CSV ({exc})", line=line) from exc
    if len(headers) > limits.columns:
        raise BadInput(
            f"the header has {len(headers):,} columns, more than max_columns ({limits.columns:,})",
            line=line,
            hint="check this is a DCH export; raise max_columns in cdr.toml if it is",
        )
    return Header(headers, rest, line + 1, delimiter)


def _after_sep_line(stream: BinaryIO, limits: Limits, delimiter: str, line: int) -> Header:
    """The header after a `sep=` line (`line`), split at the separator it names."""
    try:
        inner = read_header(stream, limits, delimiter)
    except BadInput as exc:  # its lines count from the line after `sep=`
        exc.line = None if exc.line is None else exc.line + line
        raise
    return dataclasses.replace(inner, next_line=inner.next_line + line)


_NOT_A_LINE = b"\r\n" + "".join(DELIMITERS).encode()
"""Bytes of the lines before the header that are not one: blank lines, and lines of
separators only (`,,,,`: the empty rows a spreadsheet keeps), as in the body."""


def _head(stream: BinaryIO, limits: Limits) -> tuple[bytes, int, int, bytes]:
    """The bytes read up to the header's line break (or past `header_bytes`), where the
    header starts and ends (-1: not found), and the last block read (empty: the end)."""
    buf, searched, start = b"", 0, -1
    while True:  # blank lines before the header count towards its limit
        block = stream.read(64 * 1024)
        buf += block
        if start < 0:
            start = _first_line(buf)
        end = buf.find(b"\n", max(searched, start)) if start >= 0 else -1
        searched = len(buf)
        if end >= 0 or not block or len(buf) > limits.header_bytes:
            break
    if start < 0 and block:  # line breaks and separators only, past the limit: no header
        lines = buf.count(b"\n", 0, limits.header_bytes)
        raise BadInput(
            f"no header line within the first {limits.header_bytes:,} bytes: they hold "
            f"{lines:,} lines, blank or of separators only",
            line=1,
            hint="check this is the export (not a file emptied or padded); delete the blank "
            "lines before its header, or raise max_header_bytes in cdr.toml",
        )
    return buf, start, end, block


def _first_line(buf: bytes) -> int:
    """Where the first line of `buf` holding more than line breaks and separators starts
    (it may begin with separators: an empty first column name); -1 while none is read."""
    rest = buf.lstrip(_NOT_A_LINE)
    if not rest:
        return -1
    return buf.rfind(b"\n", 0, len(buf) - len(rest)) + 1


def _check_header(raw: bytes, line: int) -> None:
    if raw.startswith(b"#TYPE "):
        raise BadInput(
            "a PowerShell Export-Csv file: its first line is '#TYPE ...', not the header, and "
            "Windows PowerShell writes ASCII unless told otherwise (every accented letter a "
            "'?', which no check can see)",
            line=line,
            hint="export it again with Export-Csv -NoTypeInformation -Encoding UTF8 (one "
            "exported with -Encoding UTF8 loads once its first line is deleted), or load the "
            "API's JSON as it came (Invoke-RestMethod -OutFile)",
        )
    if b"\x00" in raw:
        raise BadInput(
            "the header holds NUL bytes: UTF-16 without a byte-order mark, or not a text file",
            line=line,
            hint="export the report as UTF-8 CSV (Control Hub's default) and load that",
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # column names are ASCII in every encoding an export is re-saved in: a header that
        # is not UTF-8 is binary data (checked before the CR test, which it would fail with
        # a hint about line endings that does not apply)
        raise BadInput(
            f"the header is not text (byte {exc.start + 1:,} of its line is not UTF-8): "
            "not a CSV export",
            line=line,
            hint="check the file is the Detailed Call History export (CSV, or the ZIP "
            "holding it), not another download",
        ) from None
    if b"\r" in raw:
        raise BadInput(
            "the header holds a bare CR: the file uses old Mac (CR only) line endings",
            line=line,
            hint="re-save the file as CSV with LF or CRLF line endings",
        )
    if raw.count(b'"') % 2:
        raise BadInput(
            "the header opens a quoted field that never closes",
            line=line,
            hint="the header must be one line of column names; re-export the report",
        )
