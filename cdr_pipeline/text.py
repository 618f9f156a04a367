"""Text the pipeline writes: SQL quoting and the one timestamp format.

A leaf module (it imports nothing of the project), so every layer can use it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from string import ascii_lowercase, ascii_uppercase

ISO_MS_STRFTIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
"""polars/chrono spelling of `iso_ms` (for `dt.strftime` on a UTC column)."""
ISO_MS_SQL = "%Y-%m-%dT%H:%M:%S.%gZ"
"""DuckDB `strftime` spelling of `iso_ms` (%g: milliseconds)."""

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""A UUID in any case, as Control Hub and the APIs write ids (lower case) and databases
sometimes (upper case)."""


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def ascii_upper_sql(expr: str) -> str:
    """SQL of `expr` with its ASCII letters in upper case and every other character as it is
    (`ascii_upper` of `sql/_macros.sql`): how an id in any case (a subscription id) is one
    value wherever it is compared. Not `upper`: DuckDB's maps one character to one (`ß` to
    `ẞ`, `ﬁ` kept), Python's, polars' and Spark's to several (`SS`, `FI`), so ingest and the
    views, or DuckDB and Spark, took other ids for one."""
    return f"translate({expr}, {lit(ascii_lowercase)}, {lit(ascii_uppercase)})"


def lit(value: str | Path) -> str:
    """A SQL string literal (paths and settings are baked into SQL text)."""
    return "'" + str(value).replace("'", "''") + "'"


def iso_ms(t: datetime) -> str:
    """A UTC instant as the Webex APIs write it: `2026-10-01T11:01:16.545Z` (a naive value is
    taken as UTC)."""
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_seconds(t: datetime) -> str:
    """A UTC instant to the second: `2026-10-01T11:01:16Z`."""
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_ms(t: datetime) -> str:
    """A UTC instant as a compact, sortable name part: `20261001T110116545Z` (run ids,
    window folders)."""
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y%m%dT%H%M%S") + f"{t.microsecond // 1000:03d}Z"


def parse_stamp_ms(text: str) -> datetime | None:
    """The UTC instant `stamp_ms` wrote, None for text that is not one."""
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def unicode_forms(value: str) -> set[str]:
    """`value` with each accented letter as one character (NFC, as most text is written)
    and as the letter and its combining mark (NFD, as macOS writes file names, and a ZIP
    made there its members' names): `calls of Aiko Müller.csv` saved so kept her name in
    its file name, the rows' `source_file` and the ledger after `cdr forget`."""
    return {value, unicodedata.normalize("NFC", value), unicodedata.normalize("NFD", value)}


def is_name_of_words(value: str) -> bool:
    """A name of several words of letters (`Li Na`, `Lé Na`), however short: no date, time,
    count or coordinate spells one by chance. Read in NFC, as a combining mark is no letter
    (`Lé Na` held with `e` and its accent apart was taken for no name)."""
    words = unicodedata.normalize("NFC", value).split()
    return len(words) > 1 and all(w.isalpha() for w in words)


_NAME_GAPS = re.compile(r"[\s,]+")


def file_name_joins(value: str) -> list[str]:
    """`value` and, when it holds several words, its words as a file name joins them: by
    `_` or `-` (`grace_chen_calls.csv`, `Grace-Chen.csv`) and by a blank. A comma parts
    words too: a display name written `Last, First` (`Chen, Grace`) is saved as
    `Chen_Grace.csv` or `Chen Grace.csv`, never with its comma before the `_`, and as
    the name is spoken, `grace_chen.csv`."""
    words = [w for w in _NAME_GAPS.split(value.strip()) if w]
    if len(words) < 2:
        return [value]
    orders = [words]
    last, comma, first = value.partition(",")
    if comma and "," not in first and last.strip() and first.strip():
        orders.append(first.split() + last.split())  # `Grace Chen.csv` of `Chen, Grace`
    joins = [sep.join(order) for order in orders for sep in ("_", "-", " ")]
    return list(dict.fromkeys([value, *joins]))
