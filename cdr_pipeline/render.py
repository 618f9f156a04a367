"""Text for people and JSON for scripts, shared by the library and the CLI: the one table
renderer, the one JSON encoder, and the escaping of control characters.

A string shown on a terminal may come from data (a header, a file name, a record value) and
carry control characters: ESC starts a terminal escape sequence (move the cursor, retitle
the window, rewrite what was printed), BEL rings, CR and backspace overwrite. `safe_text`
shows each as a visible escape (`\\x1b`) so output can never drive the terminal. It leaves
printable text, including every non-Latin script, as it is.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import wcwidth

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), and the Unicode
# bidirectional marks, overrides and isolates that reorder what is displayed
_OTHER_CONTROLS = r"\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_RE = re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]")
_CONTROL_BUT_NEWLINE_RE = re.compile(rf"[\x00-\x09\x0b-\x1f{_OTHER_CONTROLS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, *, newlines: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`), and the
    bytes of a file name that are not UTF-8 as `\\xe9` (`os_text`).
    `newlines`: keep line breaks (a multi-line message); otherwise they are escaped too."""
    pattern = _CONTROL_BUT_NEWLINE_RE if newlines else _CONTROL_RE
    return pattern.sub(_escape, os_text(text))


_INVISIBLE_RE = re.compile("[\u00a0\u00ad\u2007\u200b-\u200d\u202f\u2060\ufeff]")
"""Characters that show as nothing or as a plain space: a no-break space, a soft hyphen, the
zero-width ones, a BOM inside a value."""


def visible_text(text: str) -> str:
    """`safe_text`, with the characters that print as nothing or as a space escaped too
    (`\\ufeff`, `\\u00a0`): a value quoted in a message as the reason a line was refused
    must not look like a valid one (`'\\ufeff2026-09-30T00:01:32Z'` is no timestamp)."""
    return _INVISIBLE_RE.sub(_escape, safe_text(text))


SHORT_CHARS = 80
"""A column name or value a note quotes is cut to this many characters (a DCH header or
a documented value is under 30)."""


def visible_short(text: str, quote: str = "") -> str:
    """A column name or a value as a note or an error quotes it (between `quote`s):
    `visible_text`, and text longer than `SHORT_CHARS` cut in the middle, saying how long
    it is (a header of two names of 300,000 characters each, within `max_header_bytes`,
    made `cdr ingest` print a note of 600 KB)."""
    if len(text) <= SHORT_CHARS:
        return f"{quote}{visible_text(text)}{quote}"
    half = SHORT_CHARS // 2
    cut = visible_text(f"{text[:half]}…{text[-half:]}")
    return f"{quote}{cut}{quote} ({len(text):,} characters)"


NAMED_LETTERS = 3
"""Characters that are not ASCII a quoted column name names (`not_ascii`)."""


def not_ascii(name: str) -> str:
    """What a quoted column name adds for its characters that are not ASCII and show as
    themselves: ` (not ASCII: U+FF24 FULLWIDTH LATIN CAPITAL LETTER D, character 1)`, or
    nothing. Every column of an export is named in ASCII, and a lookalike (the fullwidth D
    of 'Ｄuration', the Cyrillic a of 'Locаtion') reads as the name it is not: quoted alone,
    a familiar column kept in `extra` gave no clue why."""
    found = [(i, c) for i, c in enumerate(name) if ord(c) > 127 and visible_text(c) == c][
        :NAMED_LETTERS
    ]
    if not found:
        return ""
    named = ", ".join(
        f"U+{ord(c):04X} {unicodedata.name(c, '?')}, character {i + 1}" for i, c in found
    )
    return f" (not ASCII: {named})"


# lone surrogates: what Python makes of the bytes of a file name that are not UTF-8
# (surrogateescape: byte 0xe9 -> '\udce9'); no UTF-8 writer (Parquet, JSON, a terminal) takes them
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def os_text(text: str) -> str:
    """`text` (a path as the OS gave it) as valid Unicode: a byte of the name that is not
    UTF-8 becomes the escape `\\xe9` (`lat\\xe9n.csv`); any other text is returned as is.
    For whatever is written as text (the ledger, rejects, the tables' `source_file`, logs,
    JSON, the terminal); the `Path` itself still opens and moves the file."""
    if _SURROGATE_RE.search(text) is None:  # the usual case: one regex scan
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte (from data)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------------------- JSON


def plain(value: Any) -> Any:
    """`value` as JSON-ready data: objects with `to_dict()` serialise themselves, other
    dataclasses by their fields; dates and times ISO-8601, Decimal as float, paths as text,
    non-finite floats as null, anything else by `str`."""
    if isinstance(value, str):
        return os_text(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return plain(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {os_text(str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return _plain_scalar(value)


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return plain(value.value)
    return os_text(str(value))  # paths and anything else


# JSON escapes C0 controls itself; these it would leave raw with ensure_ascii=False
_JSON_RAW_CONTROLS = re.compile(f"[{_OTHER_CONTROLS}]")


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """`value` (see `plain`) as JSON text, UTF-8 characters kept readable; every control
    character is a `\\u` escape, so the text is also safe to show on a terminal."""
    text = json.dumps(plain(value), indent=indent, ensure_ascii=False, allow_nan=False)
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


# ----------------------------------------------------------------------------- tables


def cell_text(value: Any, *, grouped: bool = True) -> str:
    """One table cell: dates ISO-8601, lists as JSON, nothing for null; control characters
    escaped. `grouped` numbers (counts, seconds) get thousands separators and floats one
    decimal; otherwise numbers are shown in full (report data)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and grouped:
        return f"{value:,.1f}"
    if isinstance(value, int) and grouped:
        return f"{value:,}"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return safe_text(json.dumps(plain(value), ensure_ascii=False))
    return safe_text(str(value))


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def display_width(text: str) -> int:
    """Terminal columns `text` takes: a wide (CJK, full-width) character two, a combining
    or zero-width mark none, every other character one (wcwidth, as terminals count). `len`
    counted `東京本社` as 4 columns for 8, so a row with such a location name ran past the
    other rows and wrapped on the terminal."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    width: int = wcwidth.wcwidth(ch)
    return width if width >= 0 else 1  # a control character (escaped before display)


def cut_to_width(text: str, width: int, *, from_end: bool = False) -> str:
    """The longest start (or end, `from_end`) of `text` that takes at most `width` columns."""
    if display_width(text) <= width:
        return text
    chars = reversed(text) if from_end else iter(text)
    kept: list[str] = []
    used = 0
    for ch in chars:
        used += _char_width(ch)
        if used > width:
            break
        kept.append(ch)
    return "".join(reversed(kept)) if from_end else "".join(kept)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `width` terminal columns (on the left when `right`)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def short_id(value: Any, keep: int = 10) -> Any:
    """A long id (a base64 Webex device id, a UUID) cut to `…` and its last `keep`
    characters, as a readable report table shows it: the start of a Webex id is the same
    for every device, the end tells them apart. Other values are returned as they are.
    `cdr forget` looks for this form of an erased id too (`privacy/scrub.py`)."""
    if not isinstance(value, str) or len(value) <= keep + 1:
        return value
    return "…" + value[-keep:]


def shorten_middle(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns by replacing its middle with `…` (the start
    and the end of a file name or an id say the most)."""
    if display_width(text) <= width:
        return text
    if width <= 1:
        return cut_to_width(text, width)
    head = cut_to_width(text, width // 2)
    tail = cut_to_width(text, width - 1 - display_width(head), from_end=True)
    return head + "…" + tail


MIN_TEXT_WIDTH = 8
"""A text column is never shortened below this (or its header's length, if smaller)."""


def _fit(
    widths: list[int], heads: list[str], whole: list[bool], max_width: int, first: list[bool]
) -> list[int]:
    """Column widths within `max_width`: the `first` columns shrink before the others, the
    widest first; a `whole` column (a number, a time) never does."""
    widths = list(widths)
    floor = [w if whole[i] else min(w, max(MIN_TEXT_WIDTH, display_width(heads[i])))
             for i, w in enumerate(widths)]  # fmt: skip
    while sum(widths) + 2 * (len(widths) - 1) > max_width:
        spare = [i for i, w in enumerate(widths) if w > floor[i]]
        if not spare:
            break
        widest = max([i for i in spare if first[i]] or spare, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _cut_line(text: str, more: str, max_width: int | None, floor: int) -> str:
    """A table line within `max_width`, but never shorter than `floor` (the end of its last
    number or time column), its `more` marker kept then; text only is cut to the width."""
    if max_width is None:
        return (text + more).rstrip()
    if not floor:
        return cut_to_width((text + more).rstrip(), max_width)
    return (cut_to_width(text, max(max_width - len(more), floor)) + more).rstrip()


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    grouped: bool = True,
    max_width: int | None = None,
    wrap_last: bool = False,
    whole: Sequence[str] = (),
    give_first: Sequence[str] = (),
) -> str:
    """A plain aligned text table: a header line, a rule, one line per row; columns whose
    values are all numbers (or null) are right-aligned. Every cell is safe to show on a
    terminal. `grouped`: see `cell_text`. `max_width` (a terminal's width): text cells are
    shortened in the middle to fit; when the table is still too wide, the columns that do not
    fit are left out whole and every line ends with `…` (a number is never cut: `300` for
    300,378 would be a wrong figure, not a short one; `--json` or a wider terminal shows all).
    `wrap_last`: a last column of sentences (a stage's result) wraps onto lines of its own
    under it instead of losing its middle, when every column is shown. `whole`: headers of
    text columns never shortened, as numbers are (a time cut in the middle is no time).
    `give_first`: headers of columns shortened before the others (an input's kind, a word
    of a known few, before its file name)."""
    cells = [[cell_text(v, grouped=grouped) for v in row] for row in rows]
    heads = [safe_text(str(h)) for h in headers]
    widths = [display_width(h) for h in heads]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], display_width(c))
    right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows)
             and any(_numeric(r[i]) for r in rows) for i in range(len(heads))]  # fmt: skip
    shown, more, floor = len(heads), "", 0
    if max_width is not None:
        keep = [right[i] or headers[i] in whole for i in range(len(heads))]
        first = [h in give_first for h in headers]
        natural, widths = widths, _fit(widths, heads, keep, max_width, first)
        while shown > 1 and sum(widths[:shown]) + 2 * (shown - 1) + (3 if more else 0) > max_width:
            shown, more = shown - 1, "  …"
        if more:  # the columns left out free their room: the text shown takes it back
            n = shown
            widths[:n] = _fit(natural[:n], heads[:n], keep[:n], max_width - 3, first[:n])
        # a terminal narrower than the first column: a line is cut to its width, but never
        # inside a number or a time (`2026-1` for 2026-10 is another month), and keeps its
        # `…` for the columns left out; the terminal wraps what is longer
        kept = [i for i in range(shown) if keep[i]]
        floor = sum(widths[: kept[-1] + 1]) + 2 * kept[-1] if kept else 0

    def line(values: Sequence[str]) -> str:
        text = "  ".join(
            pad(shorten_middle(v, widths[i]), widths[i], right=right[i])
            for i, v in enumerate(values[:shown])
        )
        return _cut_line(text, more, max_width, floor)

    wrap = wrap_last and max_width is not None and not more and bool(heads) and not right[-1]

    def lines(values: Sequence[str]) -> list[str]:
        if not wrap or display_width(values[-1]) <= widths[-1]:
            return [line(values)]
        parts = textwrap.wrap(values[-1], widths[-1], break_on_hyphens=False) or [""]
        indent = " " * (sum(widths[:-1]) + 2 * (len(widths) - 1))
        return [line([*values[:-1], parts[0]]), *(indent + part for part in parts[1:])]

    body = [text for r in cells for text in lines(r)]
    return "\n".join([line(heads), line(["-" * w for w in widths]), *body])
