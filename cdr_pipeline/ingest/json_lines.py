"""JSON lines: one API record a line. A line that does not parse is quarantined and reading
goes on with the next; runs of blank lines are skipped in bulk. Also the record type both
JSON readers build, which finds a key given two values."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise
from typing import Any

from cdr_pipeline.ingest.chunk import EOF_MARK, BadInput, raw_str
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.render import shorten_middle
from cdr_pipeline.schema import secret_key


class Record(dict[str, Any]):
    """A JSON object whose repeated keys are checked. JSON leaves a key named twice
    undefined (RFC 8259: parsers differ, most take the last value, some the first), and no
    Webex API writes one: a repeat of the same value, or a null beside a value, is that one
    value; a key given two different values makes the record ambiguous (`ambiguous`: the
    keys), and it is quarantined (`duplicate_key`) rather than loaded with a guess (it
    loaded under its first `Report ID`, the second kept in `extra` as `Report ID_2` and
    named a new column). One lookup per key: a record naming one key 50,000 times costs no
    more than 50,000 keys. A secret no table stores (`secret_key`: the activation code)
    given two values costs the record nothing: the key is dropped, as it would be on read,
    and the record loads (`secrets`)."""

    def __init__(self) -> None:
        super().__init__()
        self.ambiguous: dict[str, None] = {}
        self.secrets: set[str] = set()
        """Keys of a secret given two values, dropped."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self.secrets:
            return
        if key not in self:
            super().__setitem__(key, value)
            return
        held = super().__getitem__(key)
        if value is None or value == held:
            return
        if held is None:
            super().__setitem__(key, value)
        elif secret_key(key):
            self.secrets.add(key)
            super().__delitem__(key)
        else:
            self.ambiguous[key] = None


def ambiguous_detail(record: Record) -> str:
    """The detail of a record that gives a key two values (never the values: the key may
    be a sensitive column's)."""
    keys = list(record.ambiguous)
    named = ", ".join(f"'{shorten_middle(k, 60)}'" for k in keys[:3])
    more = f" and {len(keys) - 3:,} more" if len(keys) > 3 else ""
    return (
        f"the record names {named}{more} more than once with different values: which one "
        "it holds cannot be told (fix the record, keeping one, and load the file again)"
    )


def from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON line's object: a plain dict (built in C) unless a key repeats, then a
    `Record` (a hook of Python calls for every key doubled the time of reading a line)."""
    plain = dict(pairs)
    if len(plain) == len(pairs):
        return plain
    record = Record()
    for key, value in pairs:
        record[key] = value
    return record


def lines_layout(first: bytes, lines: io.BufferedReader[Any], limits: Limits) -> tuple[bool, bytes]:
    """Whether a stream that is neither a page nor an array is JSON lines, told from its
    first line (read), and the bytes read ahead to tell it. A first line that parses is
    one. A first line that does not is read on: when the line after it is an object on its
    own, the first line is a broken record of JSON lines (cut short, a stray comma), to be
    quarantined like any other, not the start of one object spread over lines."""
    try:
        json.loads(first)
        return first.endswith(b"\n") or not lines.peek(1), b""
    except ValueError:
        if not first.endswith(b"\n"):
            return False, b""
    second = lines.readline(limits.record_bytes + 1)
    try:
        return isinstance(json.loads(second), dict), second
    except ValueError:
        return False, second


def lines_in_head(head: bytes) -> bool:
    """Whether the first lines of `head` tell JSON lines, for the guard to judge each line
    on its own before it reads a byte: told after its first read ahead, a first line cut
    short inside its object had held the lines after it open, one record 8 KiB long for
    `max_record_bytes`. As `lines_layout` tells them (a first line that parses; a second
    line that is an object on its own), or by a line that is an object on its own followed
    by a line that does not go on with a `,`, `]` or `}`, whatever lines before them do not
    parse: one JSON text never holds a value after a whole value without a comma between
    them, so the lines before are broken records (a cut line, then a line of garbage), not
    the start of one document. False when the lines run past the head (the reader tells the
    layout, and the guard, then)."""
    lines = head.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0])
        return True
    except (ValueError, RecursionError):
        pass
    if len(lines) > 2 and _object(lines[1]):
        return True
    whole = [line.strip() for line in lines[1:-1] if line.strip()]  # the last may be cut
    return any(
        not after.startswith((b",", b"]", b"}")) and _object(line)
        for line, after in pairwise(whole)
    )


def _object(line: bytes) -> bool:
    """Whether `line` is a JSON object on its own."""
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def json_lines(
    first: bytes, lines: io.BufferedReader[Any], limits: Limits, deep: dict[int, int] | None = None
) -> Iterator[tuple[int, Any]]:
    """(line, record) pairs of JSON lines; a line that does not parse is a `Broken` one.
    `deep` is the guard's note of the lines nested deeper than `max_json_depth` (line -> the
    byte of the line where it crosses it): each such line is quarantined (`too_deep`) and
    reading goes on, as Python's json parses it on its own, within `max_record_bytes`
    (a page among the lines fails the file still: its records would be lost as one line)."""
    deep = {} if deep is None else deep
    line_no, raw = 1, first
    while raw:
        if len(raw) > limits.record_bytes:
            raise BadInput(
                f"a line longer than max_record_bytes ({limits.record_bytes:,} bytes)",
                line=line_no,
                hint="raise max_record_bytes in cdr.toml if records this long are genuine",
            )
        if not raw.endswith(b"\n"):  # the last line: Windows `copy`'s end-of-file mark after it
            raw = raw.removesuffix(EOF_MARK)
        text = raw.strip()
        if text:
            record: Any
            try:
                # numbers as ijson gives them (the guard already bounded their digits)
                record = json.loads(text, parse_float=Decimal, object_pairs_hook=from_pairs)
            except (ValueError, RecursionError) as exc:
                # a cut one stops before its object's end; a stray comma after it is no cut
                if not raw.endswith(b"\n") and not text.rstrip(b", ").endswith(b"}"):
                    raise _cut_short(line_no) from exc
                lead = len(raw) - len(raw.lstrip())
                record = Broken(raw_str(text), f"not valid JSON: {_why(exc, lead)}")
            if (at := deep.pop(line_no, None)) is not None:
                record = _too_deep(record, raw_str(text), line_no, at, limits.json_depth)
            yield line_no, record
        else:
            line_no += skip_blank_lines(lines)
        raw = lines.readline(limits.record_bytes + 1)
        line_no += 1


def _too_deep(record: Any, text: str, line: int, at: int, limit: int) -> Broken:
    """The reject of a JSON line nested deeper than `limit` from byte `at` of the line; a
    page fails the file, as a page on lines of its own does."""
    where = f"nested deeper than max_json_depth ({limit}) from byte {at:,} of the line"
    if isinstance(record, dict) and isinstance(record.get("items"), list):
        raise BadInput(
            f"a page of records {where}: its records cannot be read",
            line=line,
            hint="check the file is an export of the Webex APIs; raise max_json_depth in "
            "cdr.toml if this is genuine",
        )
    detail = f"{where}: raise max_json_depth in cdr.toml if records this deep are genuine"
    return Broken(text, detail, "too_deep")


def _why(exc: ValueError | RecursionError, lead: int) -> str:
    """Why a JSON line does not parse, its column counted on the file's line (after `lead`
    blanks): json's own words said 'line 1 column 101' of a record quarantined under line
    11, which read as two lines of the file."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno + lead}"
    return str(exc)


def _cut_short(line: int) -> BadInput:
    """The last line stops inside its record, with no line break after it: a download or
    copy cut short, whose records after the cut are missing. Quarantined as one broken line,
    it let the file load without them (exit 0), where a CSV so cut fails."""
    return BadInput(
        "the file ends inside a record, with no line break after it: it was cut short, as "
        "an interrupted download or copy leaves it",
        line=line,
        hint="download or copy it again; to load the records before it, delete that last line",
    )


def skip_blank_lines(lines: io.BufferedReader[Any]) -> int:
    """Consume the whole blank (or whitespace) lines at the reader's position a buffer at a
    time, and return how many: read one by one, 300 MB of them took 84 s."""
    skipped = 0
    while True:
        ahead = lines.peek(1)  # what the buffer holds; nothing at the end of the stream
        blank = len(ahead) - len(ahead.lstrip())
        end = ahead.rfind(b"\n", 0, blank) + 1  # up to the last line break in the blank run
        if end == 0:
            return skipped
        skipped += ahead.count(b"\n", 0, end)
        lines.read(end)


class Broken:
    """A JSON line that does not parse (`invalid_json`), or that nests too deep to be read
    (`too_deep`): quarantined with its text."""

    def __init__(self, text: str, detail: str, reason: str = "invalid_json") -> None:
        self.text, self.detail, self.reason = text, detail, reason
