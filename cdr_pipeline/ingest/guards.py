"""A spreadsheet's formula guard before a value: a tool guarding a CSV against formula
injection (OWASP "CSV injection") writes `'` before a value that starts with `=`, `+`, `-`
or `@` (`'-300`, `'+14155550100`; `cdr report --format csv` does so), and a sheet keeps a
typed `'` that marks a cell as text (`'36`). The `'` is no part of the value: a `Site
timezone` of `'-480` was a `bad_integer` (every leg of a site west of UTC quarantined, the
file failing the reject rate), and a `Calling number` of `'+14155550100` was the number of
no person, device or other leg.

The guard is dropped only where what follows it is a valid value of the column: a number
of a number column (`repaired_numbers`, with a locale's marks), a phone number or dialled
digits of `TableSchema.phone_text` (`unguarded_phones`). Any other
guarded value stays as delivered (a guarded formula `'=1+2` is no number and is still
quarantined; a name stays as written). Each column's count goes into the file's note.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cdr_pipeline.ingest.numerals import CLOCK_MARKS, LOCALE_MARKS, NUMBER_TYPES
from cdr_pipeline.schema.base import Column, TableSchema

GUARD = "'"

PHONE_TEXT = r"^'(\+?[0-9*#]+)$"
"""A guarded phone number as the exports write numbers: E.164 (`'+14155550100`), an
extension or dialled digits (`'2101`, `'*73`, `'#31#0700`)."""


def repaired_numbers(
    df: pl.DataFrame, schema: TableSchema, read: Callable[[Column], pl.Expr]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """A number written with a locale's marks (`numerals.respell`: `−300`, `1 200`) or behind
    a spreadsheet's formula guard (`GUARD`: `'-300`), or both (`'−300`), is that
    number: such a `Site timezone` (every site west of UTC) failed the reject rate. Only
    values that did not parse are looked at (nearly none); `read` parses a column's text,
    respelled. Also returns the guarded values read, per column (the file's note)."""
    guarded_read: dict[str, int] = {}
    for c in schema.input_columns:
        if c.dtype not in NUMBER_TYPES or c.sensitive:
            continue
        typed, raw = df[f"__typed_{c.name}"], df[c.name]
        missed = typed.is_null() & raw.is_not_null()  # no text search over every value
        if not missed.any():
            continue
        idx = missed.arg_true()
        found = raw.gather(idx)
        guarded = found.str.starts_with(GUARD)
        bare = found.zip_with(~guarded, found.str.slice(1)) if guarded.any() else found
        marked = guarded | bare.str.contains(CLOCK_MARKS if c.clock else LOCALE_MARKS)
        if not marked.any():
            continue
        idx, bare, guarded = idx.filter(marked), bare.filter(marked), guarded.filter(marked)
        value = bare.to_frame().select(read(c)).to_series()
        df = df.with_columns(typed.scatter(idx, value.cast(typed.dtype)))
        unguarded = guarded & value.is_not_null()
        if unguarded.any():  # the guard is no part of the value, in the text either
            df = df.with_columns(raw.scatter(idx.filter(unguarded), bare.filter(unguarded)))
            guarded_read[c.name] = int(unguarded.sum())
    return df, guarded_read


def unguarded_phones(df: pl.DataFrame, schema: TableSchema) -> tuple[pl.DataFrame, dict[str, int]]:
    """Phone-number text columns (`TableSchema.phone_text`): `'+14155550100` is
    `+14155550100`. One prefix test per column and chunk; the pattern runs only on a
    column where a value starts with `'`."""
    counts: dict[str, int] = {}
    for name in schema.phone_text:
        col = df[name]
        if not col.str.starts_with(GUARD).any():
            continue
        hit = col.str.contains(PHONE_TEXT).fill_null(False)
        if not hit.any():
            continue
        idx = hit.arg_true()
        df = df.with_columns(col.scatter(idx, col.gather(idx).str.slice(1)))
        counts[name] = len(idx)
    return df, counts


def guard_note(counts: dict[str, int], headers: dict[str, str]) -> str:
    """The file's note: how many values of each column lost a guard (`headers`: the file's
    spelling of each column)."""
    shown = ", ".join(f"{n:,} of {headers.get(c, c)}" for c, n in counts.items())
    return (
        "values written with a spreadsheet's formula guard (a leading ') were read without "
        f"it: {shown}"
    )
