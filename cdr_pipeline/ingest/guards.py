"""A spreadsheet's formula guard before a value: a tool guarding a CSV against formula
injection (OWASP "CSV injection") writes `'` before a value that starts with `=`, `+`, `-`
or `@` (`'-300`, `'+14155550100`; `cdr report --format csv` does so), and a sheet keeps a
typed `'` that marks a cell as text (`'36`). The `'` is no part of the value: a `Site
timezone` of `'-480` was a `bad_integer` (every leg of a site west of UTC quarantined, the
file failing the reject rate), and a `Calling number` of `'+14155550100` was the number of
no person, device or other leg.

The guard is dropped only where what follows it is a valid value of the column: a number
of a number column, a phone number or dialled digits of `TableSchema.phone_text`. Any other
guarded value stays as delivered (a guarded formula `'=1+2` is no number and is still
quarantined; a name stays as written). Each column's count goes into the file's note.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cdr_pipeline.ingest.numerals import NUMBER_TYPES
from cdr_pipeline.schema.base import TableSchema

GUARD = "'"

PHONE_TEXT = r"^'(\+?[0-9*#]+)$"
"""A guarded phone number as the exports write numbers: E.164 (`'+14155550100`), an
extension or dialled digits (`'2101`, `'*73`, `'#31#0700`)."""


def unguarded_numbers(
    df: pl.DataFrame, schema: TableSchema, parse: Callable[[str, pl.Expr], pl.Expr]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Number columns: a value that did not parse (`__typed_<name>` NULL) and is `'` then
    a value `parse` reads is that value. Only the values that did not parse are looked at
    (nearly none), so a chunk without a guard costs one null test per column, as in
    `normalize._locale_numbers`."""
    counts: dict[str, int] = {}
    for c in schema.input_columns:
        if c.dtype not in NUMBER_TYPES or c.sensitive:
            continue
        typed, raw = df[f"__typed_{c.name}"], df[c.name]
        missed = typed.is_null() & raw.is_not_null()
        if not missed.any():
            continue
        idx = missed.arg_true()
        found = raw.gather(idx)
        guarded = found.str.starts_with(GUARD)
        if not guarded.any():
            continue
        bare = found.filter(guarded).str.slice(1)
        value = bare.to_frame().select(parse(c.dtype, pl.col(c.name))).to_series()
        read = value.is_not_null()
        if not read.any():
            continue
        idx = idx.filter(guarded).filter(read)
        df = df.with_columns(
            raw.scatter(idx, bare.filter(read)),
            typed.scatter(idx, value.filter(read).cast(typed.dtype)),
        )
        counts[c.name] = int(read.sum())
    return df, counts


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
