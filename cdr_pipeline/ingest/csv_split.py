"""Splitting a CSV byte stream into complete records, with exact line numbers.

The stream is read in fixed-size byte blocks. Record boundaries are the newlines preceded by
an even number of quote characters (RFC 4180 escapes a quote by doubling it, so parity is
preserved); numpy finds them without a Python loop. The splitter also counts separators
outside quoted fields per record, which finds ragged rows without a parse. Broken quoting
never swallows the rest of the file: see `ingest/csv_reader.py`, which parses the records.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import BinaryIO

import numpy as np

from cdr_pipeline.ingest.chunk import EOF_MARK, BadInput, RawReject, raw_str
from cdr_pipeline.ingest.csv_blank import blank_lines_only, separators_only
from cdr_pipeline.ingest.limits import Limits

READ_BYTES = 4 * 1024 * 1024
SPLIT_WINDOW = 1024
"""The first window `_split_ahead` splits after a quarantined line (then doubling)."""
MAX_RECORD_BYTES = Limits.record_bytes
"""Default `max_record_bytes`: a record can never be this long (a CDR row is ~1 KB). An
unfinished record past it means an unbalanced quote earlier in the file: its first line is
quarantined and splitting resumes after it, so memory never follows the file size."""
NL, CR, QUOTE = 10, 13, 34


class Segment:
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
        """The bytes between some records are more than a line end (blank lines, which are
        not records, or CR CR LF ends): the parser gets the records one by one."""
        self.commas, self.quoted = commas, quoted
        """Separators per record outside quoted fields, and whether it has any quote."""

    def __len__(self) -> int:
        return len(self.starts)


def _first_stray(arr: np.ndarray, quotes: np.ndarray, sep: int) -> int:
    """Position of the first quote RFC 4180 does not allow, or -1. Counting from a record
    boundary, quotes alternate open, close: an opening quote starts a field (after a
    separator, a line break or the closing quote of an escaped pair) and a closing one ends
    it (before a separator, a line break or the opening quote of a pair). A quote at the end
    of the buffer is judged when more bytes come."""
    n = len(arr)
    opening, closing = quotes[0::2], quotes[1::2]
    prev = arr[np.maximum(opening - 1, 0)]
    bad_open = ~((opening == 0) | (prev == sep) | (prev == NL) | (prev == QUOTE))
    after = arr[np.minimum(closing + 1, n - 1)]
    ok_close = (closing + 1 >= n) | (after == sep) | (after == NL) | (after == CR)
    bad_close = ~(ok_close | (after == QUOTE))
    if not (bad_open.any() or bad_close.any()):
        return -1
    return int(min(opening[bad_open].min(initial=n), closing[bad_close].min(initial=n)))


def _swallowing(
    buf: bytes, nl: np.ndarray, bidx: np.ndarray, stray: int, sep: int, fields: int
) -> int:
    """`stray`, or the start of an earlier record of many lines whose second line is a
    record of `fields` fields on its own: two unpaired quotes lines apart (`"Ann` and, lines
    later, `Lee"`) paired up, and the records between them became one value of one record
    that loaded, those records lost without a word."""
    if not fields or not len(bidx):
        return stray
    prev = np.concatenate(([-1], bidx[:-1]))
    for k in np.flatnonzero(bidx - prev > 1):
        start = int(nl[prev[k]]) + 1 if prev[k] >= 0 else 0
        if 0 <= stray < start:
            break
        second, stop = int(nl[prev[k] + 1]) + 1, int(nl[bidx[k]]) + 1
        eol = int(nl[prev[k] + 2])
        # a line of fewer separators than a record has cannot be one (a value's next line:
        # most records of many lines), and needs no parse; a blank one is looked past
        if eol - second > 1 and buf.count(sep.to_bytes(), second, eol) < fields - 1:
            continue
        if _a_record(buf, second, sep, fields, stop):  # buf not copied
            return start
    return stray


def _split_records(
    buf: bytes, first_line: int, sep: int = 44, fields: int = 0
) -> tuple[Segment, bytes, int, bool]:
    """Split `buf` (starting at a record boundary) into complete records and the remainder.

    Returns the segment, the unfinished tail, the line number the tail starts on, and
    whether the tail starts with a record that breaks the quoting rules (`_first_stray`, or
    `_swallowing` given the header's `fields`)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == NL)
    quotes = np.flatnonzero(arr == QUOTE) if buf.find(b'"') >= 0 else None
    broken = False
    if quotes is not None:
        bidx = np.flatnonzero((np.searchsorted(quotes, nl) & 1) == 0)
        stray = _swallowing(buf, nl, bidx, _first_stray(arr, quotes, sep), sep, fields)
        if stray >= 0:  # records end before the one holding the stray quote
            broken = True
            bidx = bidx[: int(np.searchsorted(nl[bidx], stray))]
            quotes = quotes[quotes < (int(nl[bidx[-1]]) + 1 if len(bidx) else 0)]
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
    # strip the CR of CRLF from record ends so records are just their text; and a second one:
    # CR CR LF is CRLF converted once more (a CSV written in text mode on Windows)
    ends_wo_cr = ends.copy()
    double_cr = False
    if n:
        for twice in (False, True):
            cr = (arr[np.maximum(ends_wo_cr - 1, 0)] == CR) & (ends_wo_cr > starts)
            ends_wo_cr[cr] -= 1
            double_cr = twice and bool(cr.any())
    # fields per record, for the ragged-row check: separators minus those inside quoted spans
    # (RFC 4180 quotes come in pairs, an escaped "" included, so pairs delimit the spans).
    # Counted modulo 256: uint8 sums run 5x faster than int32 ones, and a record whose count
    # only agrees modulo 256 (256 separators too many) still fails the parse, whose
    # record-by-record screen then quarantines it (`_screen`).
    commas = np.zeros(n, dtype=np.uint8)
    quoted = np.zeros(n, dtype=bool)
    if n:
        # segment sums of the separator mask (no index array of every separator)
        is_sep = (arr[:tail_start] == sep).view(np.uint8)
        commas = np.add.reduceat(is_sep, starts, dtype=np.uint8)
        if quotes is not None:
            q = quotes[quotes < tail_start]
            quoted = np.diff(np.searchsorted(q, np.append(starts, tail_start))) > 0
            spans = q[: len(q) - len(q) % 2]  # open, close, open, close...: strictly increasing
            if len(spans):
                inside = np.add.reduceat(is_sep, spans, dtype=np.uint8)[0::2]
                owner = np.searchsorted(starts, spans[0::2], side="right") - 1
                within = np.bincount(owner, weights=inside, minlength=n).astype(np.int64)
                commas = ((commas.astype(np.int64) - within) % 256).astype(np.uint8)
    # blank lines are not records (spreadsheet exports add them), nor lines of separators only
    nonblank = (ends_wo_cr > starts) & ~separators_only(
        buf, starts, ends_wo_cr, commas, quoted, sep
    )
    has_blank = not nonblank.all()
    if has_blank:
        starts, ends_wo_cr, lines = starts[nonblank], ends_wo_cr[nonblank], lines[nonblank]
        commas, quoted = commas[nonblank], quoted[nonblank]
    seg = Segment(buf, starts, ends_wo_cr, lines, has_blank or double_cr, commas, quoted)
    return seg, buf[tail_start:], tail_line, broken


def split_stream(
    stream: BinaryIO,
    rest: bytes,
    first_line: int,
    sep: int,
    max_record: int = MAX_RECORD_BYTES,
    fields: int = 0,
    unended_whole: list[int] | None = None,
) -> Iterator[Segment | RawReject]:
    """Segments of complete records, and rejects for lines that can never form one (broken
    quoting): each rejected line is one physical record, and splitting re-synchronises on the
    next line. A stream that ends inside a record (no line break after a last record short of
    `fields` fields, or inside a quoted field) was cut short: it fails (`BadInput`). A whole
    last record without a line break loads (RFC 4180 allows it); its line goes to
    `unended_whole`, as a cut inside its last value looks the same."""
    unended: list[int] = []
    last: Segment | RawReject | None = None
    for item in _split_stream(stream, rest, first_line, sep, max_record, fields, unended):
        yield item
        last = item
    if unended and fields and last is not None:
        if isinstance(last, RawReject):
            ended = last.reason != "unterminated_quote"
            line = last.source_row
        else:
            ended = int(last.commas[-1]) == (fields - 1) % 256
            line = int(last.lines[-1])
        if ended and isinstance(last, Segment) and unended_whole is not None:
            unended_whole.append(line)
        elif not ended:
            raise BadInput(
                "the file ends inside a record, with no line break after it: it was cut "
                "short, as an interrupted download or copy leaves it",
                line=line,
                hint="download or copy it again; to load the records before it, delete "
                "that last line",
            )


def _split_stream(
    stream: BinaryIO,
    rest: bytes,
    first_line: int,
    sep: int,
    max_record: int,
    fields: int,
    unended: list[int],
) -> Iterator[Segment | RawReject]:
    """`split_stream`; `unended` gets an item when the stream has no line break at its end."""
    pending, line = b"", first_line
    block, eof = rest, False
    while not eof or pending:
        if not block:
            block = stream.read(READ_BYTES)
            eof = not block
        buf = pending + block if pending else block
        block = b""
        if eof:
            # the DOS end-of-file mark (Ctrl-Z) that Windows `copy` appends when it joins
            # files (`copy a.csv+b.csv all.csv` copies as text): no record. Read as one, a
            # whole export failed as cut short inside a record
            buf = buf.removesuffix(EOF_MARK)
            if not buf.strip(b"\r\n"):
                break
            if not buf.endswith(b"\n"):  # last record without a final newline
                buf += b"\n"
                unended.append(line)
        elif blank_lines_only(buf):  # counted, not split: megabytes of them cost nothing
            line += buf.count(b"\n")
            pending = b"\r" if buf.endswith(b"\r") else b""  # maybe the CR of a CRLF
            continue
        seg, pending, line, broken = _split_records(buf, line, sep, fields)
        if len(seg):
            _refuse_overlong(seg, max_record)
            yield seg
        pending, line = yield from _resync(pending, line, broken, eof, sep, max_record, fields)


def _refuse_overlong(seg: Segment, max_record: int) -> None:
    """Fail on a record of `seg` longer than `max_record`, as `_resync` fails one still open
    past it: a record that ends inside a read buffer was never measured, so a lowered
    `max_record_bytes` held only for records that crossed a 4 MiB block (a quoted field of
    many lines within one loaded), and the default let one end up to a block past it."""
    over = np.flatnonzero(seg.ends - seg.starts > max_record)
    if len(over):
        s, e = int(seg.starts[over[0]]), int(seg.ends[over[0]])
        breaks = seg.data.count(b"\n", s, e)
        raise _too_long(max_record, int(seg.lines[over[0]]), breaks + 1 if breaks else 0)


def _too_long(max_record: int, line: int, lines: int = 0) -> BadInput:
    """A record past `max_record_bytes` from `line`: one line (`lines` 0), a quoted field
    of `lines` lines that closes, or one that does not close within the limit (-1)."""
    what = f"a line longer than max_record_bytes ({max_record:,} bytes)"
    if lines:
        what = (
            f"a record longer than max_record_bytes ({max_record:,} bytes) begins on this line: "
            + (
                f"a quoted field opened on it runs over {lines:,} lines"
                if lines > 0
                else "a quoted field opened on it does not close within that many bytes, and "
                "the line after it is no record of its own"
            )
        )
    return BadInput(
        what,
        line=line,
        hint="if records this long are genuine, raise max_record_bytes in cdr.toml (or "
        "CDR_MAX_RECORD_BYTES); otherwise fix the file (a closing quote is missing, or "
        "this is no CSV export)",
    )


def _resync(
    pending: bytes, line: int, broken: bool, eof: bool, sep: int, max_record: int, fields: int
) -> Generator[Segment | RawReject, None, tuple[bytes, int]]:
    """While the unfinished tail cannot become a record (broken quoting, the end of the
    file, or longer than a record may be), quarantine its first line and split the rest.
    A tail too long whose next line is no record of `fields` fields is one record too
    long, not an unbalanced quote: it fails (a 100 MB quoted field of many lines was read
    as an `unbalanced_quote` and each line after it a `ragged_row`).
    Returns what is still pending and its line."""
    pos = 0  # into pending: the tail is copied once, when it is returned
    while pos < len(pending) and (broken or eof or len(pending) - pos > max_record):
        cut = pending.find(b"\n", pos, pos + max_record + 1)
        if cut < 0:
            if len(pending) - pos <= max_record:
                break  # the line is not complete yet
            raise _too_long(max_record, line)
        if not (broken or eof) and fields and not _a_record(pending, cut + 1, sep, fields):
            raise _too_long(max_record, line, -1)
        last = cut + 1 == len(pending)
        yield _broken_line(pending[pos:cut], line, broken, last, max_record)
        pos, line, broken = yield from _split_ahead(
            pending, cut + 1, line + 1, sep, max_record, fields
        )
    return pending[pos:], line


def _a_record(buf: bytes, pos: int, sep: int, fields: int, stop: int | None = None) -> bool:
    """Whether the line at `pos` of `buf` (up to `stop`) is a record of `fields` fields on
    its own (blank lines skipped; looked for in the next 64 KiB: a record is about 1 KB)."""
    end = buf.rfind(b"\n", pos, min(pos + 65536, len(buf) if stop is None else stop)) + 1
    seg = _split_records(buf[pos:end], 0, sep)[0] if end else None
    return seg is not None and len(seg) > 0 and int(seg.commas[0]) == (fields - 1) % 256


def _split_ahead(
    buf: bytes, pos: int, line: int, sep: int, max_record: int, fields: int
) -> Generator[Segment, None, tuple[int, int, bool]]:
    """Split `buf` from `pos` (a record boundary) as `_split_records` would, in windows that
    end at a line break and double while no broken record turns up: a stray quote on every
    line (a hostile file) re-split the whole rest of the 4 MiB block for each line, in time
    growing with the square of the lines (80,000 lines of `x"y`, 320 KB, took 74 s). Returns
    the position and line of the unsplit tail and whether it starts with a broken record."""
    width = SPLIT_WINDOW
    while True:
        if pos + width >= len(buf):
            end = len(buf)
        else:  # at a line break: the window's last, else the first after it
            end = buf.rfind(b"\n", pos, pos + width) + 1 or buf.find(b"\n", pos + width) + 1
            end = end or len(buf)
        seg, tail, line, broken = _split_records(buf[pos:end], line, sep, fields)
        if len(seg):
            _refuse_overlong(seg, max_record)
            yield seg
        # never capped: a record longer than the window (up to max_record_bytes) must fit
        pos, width = end - len(tail), width * 2
        if broken or end == len(buf):
            return pos, line, broken


def _broken_line(raw: bytes, line: int, stray: bool, last: bool, max_record: int) -> RawReject:
    """The reject for the first line of a record whose quoting is broken."""
    text = raw_str(raw.removesuffix(b"\r"))
    if stray:
        # `="0123"`: the text formula some tools write so that a spreadsheet keeps a
        # number's leading zero or `+`; CSV has no such cell
        formula = re.search(rb'(?:^|[,;\t|])="', raw) is not None
        return RawReject(
            line,
            "stray_quote",
            "a quote where CSV does not allow one (inside an unquoted field, or text after a "
            "closing quote); the line is quarantined and reading resumes on the next line. "
            + (
                'A cell written ="..." is a spreadsheet\'s text formula, not CSV: export the '
                "values as plain text (the number without = and quotes)"
                if formula
                else 'A quote inside a value must be written "" in a quoted field'
            ),
            text,
        )
    if last:
        return RawReject(
            line,
            "unterminated_quote",
            "the last record opens a quoted field that never closes (file truncated?)",
            text,
        )
    return RawReject(
        line,
        "unbalanced_quote",
        "a quoted field opened on this line never closes (or not within "
        f"{max_record:,} bytes); the line is quarantined and reading resumes after it",
        text,
    )
