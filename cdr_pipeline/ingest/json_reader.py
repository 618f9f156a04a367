"""Chunked reading of the API's JSON: `{"items": [...]}` pages (one or several, e.g. saved
pages concatenated or one page per line), a top-level array of records, or JSON lines of
records. Parsed incrementally with ijson behind a guard of the JSON limits (json_guard), so a
large or hostile file is never held in memory."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, BinaryIO

import ijson
import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import (
    CHUNK_BYTES,
    CHUNK_FIELDS,
    NO_KEYS,
    NOT_AN_OBJECT,
    BadInput,
    Chunk,
    RawReject,
)
from cdr_pipeline.ingest.json_answers import no_cdrs_answer, refuse_answer, refuse_other_key
from cdr_pipeline.ingest.json_guard import JsonGuard
from cdr_pipeline.ingest.json_lines import (
    Broken,
    Record,
    ambiguous_detail,
    json_lines,
    lines_in_head,
    lines_layout,
)
from cdr_pipeline.ingest.json_screen import (
    HALF_CHARACTER,
    NUL_CHARACTER,
    Batch,
    NulWatch,
    half_character,
    holds_nul,
    screened,
)
from cdr_pipeline.ingest.json_where import Placed, place
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.render import shorten_middle

log = logging.getLogger(__name__)

GUARD_BLOCK = 64 * 1024
"""Bytes the guard scans at a time under the JSON-lines reader (well within `READ_AHEAD`):
its numpy passes cost the same for 8 KiB (the default) as for 64 KiB, and 25 MB of lines
took 5 s in 8 KiB blocks, 1.5 s in these."""

HEAD_BYTES = 64 * 1024
"""Bytes read ahead to tell the layout: a page's `"items"` key must begin within them."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # A whole number written with its digits (36, 3.6e1) is that integer; a huge
        # exponent (1e999999999) stays text, never an integer of a billion digits. So does
        # an exponent past the digits given (2.34059e9): a number rounded as a spreadsheet
        # rounds it, whose zeros are made up (`2340590000` was loaded as a Report ID); kept
        # as `2.34059E+9`, the checks of scientific notation quarantine it in an id or
        # number column, as in a CSV. A whole number written with a fraction (36.0, 36.000)
        # is written `36.0`: in a number column it is 36 seconds all the same (`36.000`
        # would be a thousands group there), and in a phone number (`13125550111.0`, a
        # dataframe tool's float: its `+` dropped) it is quarantined as `spreadsheet_float`,
        # as in a CSV, not loaded as `13125550111`
        exponent = value.as_tuple().exponent
        if (
            value.is_finite()
            and value.adjusted() < 40
            and value == value.to_integral_value()
            and isinstance(exponent, int)
            and exponent <= 0
        ):
            return str(int(value)) if exponent == 0 else f"{int(value)}.0"
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


class _Chain(io.RawIOBase):
    """`first` then the rest of `stream` (a line read ahead to sniff JSON lines)."""

    def __init__(self, first: bytes, stream: BinaryIO) -> None:
        self._first, self._stream = memoryview(first), stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._first:
            n = min(len(buffer), len(self._first))
            buffer[:n] = self._first[:n]
            self._first = self._first[n:]
            return n
        return self._stream.readinto(buffer)  # type: ignore[attr-defined]


def _iter_records(stream: BinaryIO, limits: Limits) -> Iterator[tuple[int, Any]]:
    """(item number or line, record) pairs, in one of four layouts. JSON lines are read line
    by line: a broken line is quarantined and reading goes on with the next. The other
    layouts are streamed; a syntax error there fails the file (no record boundary to resume
    at), as does a layout that is not one of these."""
    head = _read_head(stream)
    stream = io.BufferedReader(_Chain(head, stream))
    page = _page_layout(head, limits)
    if page is not None:
        if not page:
            raise BadInput(
                '"items" is not a list of records',
                line=1,
                hint="this is not a page of the Webex APIs; fetch it again",
            )
        # every page's "items", whatever keys surround it (trackingId, totalCount...): ijson
        # builds only the values under the prefix, so the other keys cost nothing
        yield from _streamed(stream, limits, 2, "items.item")
    elif head.lstrip()[:1] == b"[":
        yield from _array_records(stream, limits)
    else:
        refuse_other_key(head, limits)
        # JSON lines told from the head: each line judged on its own from the first byte
        told = lines_in_head(head)
        guard = JsonGuard(stream, limits, 0, per_line=told)
        guarded = io.BufferedReader(guard, GUARD_BLOCK)
        first = guarded.readline(limits.record_bytes + 1)
        # the head tells more than the first two lines can (two broken lines, then records)
        is_lines, ahead = (True, b"") if told else lines_layout(first, guarded, limits)
        # the second line, when read to tell the layout, comes next
        lines = io.BufferedReader(_Chain(ahead, guarded)) if ahead else guarded
        if is_lines:
            guard.read_lines()
            records = json_lines(first, lines, limits, guard.deep)
        else:
            chained = io.BufferedReader(_Chain(first, lines))
            records = _streamed(chained, limits, 0, "", guard)
        for n, record in records:
            if no_cdrs_answer(record):
                log.info("record %d is the API's answer for a window without records: skipped", n)
                continue
            refuse_answer(n, record)
            if isinstance(record, dict) and isinstance(record.get("items"), list):
                if n == 1:  # the file is a page, not told from its head
                    raise BadInput(
                        f'a page whose "items" key begins after the first {HEAD_BYTES // 1024} '
                        "KiB is not read as a page",
                        line=n,
                        hint='put "items" earlier in the object (the Webex APIs write it '
                        "first), or save the records as a JSON array",
                    )
                if isinstance(record, Record) and "items" in record.ambiguous:
                    # its second list was dropped without a word (the page kept the first)
                    raise BadInput(
                        'a page names "items" twice with different lists: which records it '
                        "holds cannot be told; none of the file's rows are published",
                        line=n,
                        hint="fetch the page again; or, when both lists are wanted, put each "
                        'in a page of its own ({"items": [...]}) on a line of its own',
                    )
                # a page among records (a saved page appended to JSON lines): its items are
                # records of that line (or value), as a file of pages would give them
                log.info("record %d is a page: its %d items are read", n, len(record["items"]))
                yield from ((n, item) for item in record["items"])
                continue
            yield n, record


def _array_records(stream: BinaryIO, limits: Limits) -> Iterator[tuple[int, Any]]:
    """The records of a JSON array. An array of pages (a script that kept each page and
    dumped the list) fails, saying how to save them."""
    for n, record in _streamed(stream, limits, 1, "item"):
        if isinstance(record, dict) and isinstance(record.get("items"), list):
            raise BadInput(
                'an array of pages, not of records: its items hold "items"',
                line=n,
                hint="save the pages one after another ({...}{...}, as cdr fetch and curl "
                "write them) or each in its own file, or the records as one array",
            )
        yield n, record


def _read_head(stream: BinaryIO) -> bytes:
    """Up to HEAD_BYTES of `stream` (fewer at its end)."""
    parts, size = [], 0
    while size < HEAD_BYTES:
        part = stream.read(HEAD_BYTES - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _page_layout(head: bytes, limits: Limits) -> bool | None:
    """Whether the first top-level value is a page: an object with an "items" key at its top
    level, wherever that key comes among the others (`{"trackingId": ..., "items": [...]}`).
    True when "items" is an array, False when it is anything else, None when the value is
    not such an object (a record, an array; or "items" does not begin within the head)."""
    depth, at_items = 0, False
    guarded = JsonGuard(io.BytesIO(head), limits, 2)  # the parser never sees past a limit
    try:
        for _, event, value in ijson.parse(guarded, multiple_values=True):
            if at_items:
                return event == "start_array"
            if event in ("start_map", "start_array"):
                if depth == 0 and event == "start_array":
                    return None
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:  # the first object ended without "items": a record
                    return None
            elif depth == 0:  # a top-level scalar
                return None
            elif depth == 1 and event == "map_key" and value == "items":
                at_items = True
    except (ijson.JSONError, BadInput):  # the head ends mid-value, or a limit: read on
        pass
    return None


def _streamed(
    stream: BinaryIO, limits: Limits, base: int, prefix: str, guard: JsonGuard | None = None
) -> Iterator[tuple[int, Any]]:
    """The records under `prefix`, parsed through `guard` (`stream` is read through it
    already) or a new guard of `stream`."""
    source: BinaryIO = stream
    if guard is None:
        guard = JsonGuard(stream, limits, base)
        source = guard  # type: ignore[assignment]
    n = 0
    placed = Placed(source)
    try:
        items = ijson.items(placed, prefix, multiple_values=True, map_type=Record)
        for n, record in enumerate(items, 1):
            guard.check_text()
            yield n, record
        guard.check_text()
    except UnicodeError as exc:  # a half character the parser cannot decode
        raise BadInput(
            "the JSON holds text that is not UTF-8 "
            f"{f'after record {n:,}' if n else 'before the first record'} ({exc}); none of "
            "the file's rows are published",
            hint="fetch or export the file again; a tool that rewrote it may have split a "
            "character (a lone \\ud800-style escape)",
        ) from exc
    except ijson.JSONError as exc:
        why, note = _one_line(exc), ""
        if "invalid bytes in UTF8" in why:
            note = " (its text is not UTF-8: a tool that rewrote it saved it as Windows-1252?)"
        elif "inside string" in why:
            note = " (a control character, such as a NUL byte, inside a text: damaged data?)"
        elif "lexical error" in why:
            note = " (NaN and Infinity are not JSON: a tool that rewrote it may have written them)"
        at = place(exc.args[0] if exc.args else str(exc), placed)
        raise BadInput(
            f"the JSON breaks {f'near column {at[1]:,}, ' if at else ''}"
            f"{f'after record {n:,}' if n else 'before the first record'} ({why}); "
            "none of the file's rows are published",
            line=at[0] if at else None,
            hint="the file is damaged or incomplete: fetch or copy it again" + note,
        ) from exc


def _one_line(exc: Exception) -> str:
    """The parser's message on one line: yajl's is the error, then the text around it and a
    line pointing into that text (bytes, when the text is not UTF-8)."""
    raw = exc.args[0] if exc.args else None
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # (a NUL byte in the text cuts yajl's context line: its pointer follows on that line)
    context = [c for c in (line.split("(right here)")[0].strip() for line in lines[1:]) if c]
    return f"{lines[0]} near {context[0]!r}" if context else lines[0]


def read_json_chunks(
    stream: BinaryIO, chunk_rows: int, limits: Limits | None = None
) -> Iterator[Chunk]:
    limits = limits or Limits()
    batch: Batch = []
    rejects: list[RawReject] = []
    keys: set[str] = set()
    counted = NulWatch(stream)
    start = end = 0  # bytes read before this chunk's first record, and up to the last one
    for n, record in _iter_records(counted, limits):  # type: ignore[arg-type]
        if (batch or rejects) and counted.count - start > CHUNK_BYTES:
            # the chunk ends by bytes, as a CSV chunk does: before the record that overflows
            yield _chunk(batch, rejects, end, counted.nul_seen)
            batch, rejects, keys, start = [], [], set(), end
        end = counted.count
        if isinstance(record, Broken):
            rejects.append(RawReject(n, record.reason, record.detail, record.text))
        elif isinstance(record, str) and record.startswith("@{"):
            raise BadInput(
                f"an item is PowerShell's text of a record ('{shorten_middle(record, 60)}'), "
                "not a JSON object: ConvertTo-Json wrote the records as text past its "
                "default -Depth 2",
                line=n,
                hint="save the API's answer as it came (Invoke-RestMethod ... -OutFile FILE), "
                "or convert with ConvertTo-Json -Depth 10",
            )
        elif not isinstance(record, dict):
            rejects.append(
                RawReject(
                    n,
                    "invalid_json",
                    NOT_AN_OBJECT,
                    json.dumps(record, default=str),
                )
            )
        elif isinstance(record, Record) and record.ambiguous:
            text = json.dumps(record, default=str, ensure_ascii=False)
            rejects.append(RawReject(n, "duplicate_key", ambiguous_detail(record), text))
        else:
            batch.append((n, record))
            keys.update(record)  # every key becomes a column of the chunk
            if len(keys) > limits.columns:
                raise BadInput(
                    f"records with more than max_columns ({limits.columns:,}) different keys",
                    line=n,
                    hint="check this is an export of the Webex APIs; raise max_columns in "
                    "cdr.toml if it is",
                )
        # or at CHUNK_FIELDS cells, as a CSV chunk (25,000 records x 1,963 keys: 4 GB)
        if len(batch) + len(rejects) >= chunk_rows or len(batch) * len(keys) >= CHUNK_FIELDS:
            yield _chunk(batch, rejects, end, counted.nul_seen)
            batch, rejects, keys, start = [], [], set(), end
    if batch or rejects:
        yield _chunk(batch, rejects, end, counted.nul_seen)


READ_AHEAD = 1024 * 1024
"""Bytes the JSON readers may have read past the last record they returned, at most (the
layout's look-ahead, ijson's and the line reader's buffers)."""


def _chunk(batch: Batch, rejects: list[RawReject], read: int, nul: bool) -> Chunk:
    """The chunk of `batch`, `read` bytes into the stream; a record no column can hold
    (json_screen: half a character, or a NUL when the stream holds `\u0000`) is
    quarantined."""
    if nul:
        batch = screened(batch, rejects, holds_nul, "nul_bytes", NUL_CHARACTER)
    try:
        chunk = _built(batch, rejects)
    except UnicodeEncodeError:
        good = screened(batch, rejects, half_character, "invalid_utf8", HALF_CHARACTER)
        chunk = _built(good, rejects)
    chunk.bytes_read = max(read - READ_AHEAD, 0)  # the records' end lies no earlier
    return chunk


def _built(batch: Batch, rejects: list[RawReject]) -> Chunk:
    headers: dict[str, None] = {}
    for _, rec in batch:
        for key in rec:
            headers.setdefault(key, None)
    names = list(headers)
    if half_character(names):  # a key with half a character: screened like a value
        raise UnicodeEncodeError("utf-8", "", 0, 1, "a lone surrogate in a key")
    cols, numbers = {}, {}
    for i, h in enumerate(names):
        values = [rec.get(h) for _, rec in batch]
        others = [v for v in values if type(v) is not str]  # most values are strings
        cols[f"c{i}"] = pl.Series(
            [v if type(v) is str else _text(v) for v in values] if others else values,
            dtype=pl.String,
        )
        if typed := sum(type(v) is int for v in others):  # bool is no int here
            numbers[i] = typed
    if not cols:
        names = [NO_KEYS]
        cols = {"c0": pl.Series([None] * len(batch), dtype=pl.String)}
    frame = pl.DataFrame(cols)
    rows = np.array([i for i, _ in batch], dtype=np.int64)
    recs = [rec for _, rec in batch]

    def raw_text(i: int) -> str:
        return json.dumps(recs[i], default=str, ensure_ascii=False)

    doubled = sum(isinstance(rec, Record) and bool(rec.secrets) for _, rec in batch)
    rejected = list(rejects)
    return Chunk(
        names, frame, rows, raw_text, rejected, json_numbers=numbers, secrets_doubled=doubled
    )
