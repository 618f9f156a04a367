"""Times a spreadsheet rewrote: one that opened an export and saved it again wrote each time
it recognised in the user's local date format (`12/01/2026 14:03`, `01.12.2026 14:03`),
where day and month may come in either order, and seconds dropped. No such value is guessed
at: the record is quarantined as `spreadsheet_date`, which says what happened
(docs/webex-dch.md#zip-and-bom). In a locale whose dates are ISO-like (Sweden, Lithuania,
Canada: `2026-12-01 14:03`) the value still parses, but an export of a kind whose times
always carry their seconds (`TableSchema.seconds_written`) has lost them all the same.
"""

from __future__ import annotations

import polars as pl

from cdr_pipeline.ingest.derive.base import Check
from cdr_pipeline.schema.base import TableSchema

LOCAL_DATE = r"^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(\s|,|$)"
"""Day and month of one or two digits, in some order, then the year: no ISO-8601 form."""

SECONDS_DROPPED = (
    r"^\s*\d{4}(?:-|/|\.\s?)\d{1,2}(?:-|/|\.\s?)\d{1,2}\.?\s+\d{1,2}:\d{2}"
    r"(?:\s?[AaPp]\.?[Mm]\.?)?\s*$"
)
"""Year first, then a time to the minute with no zone: `2026-12-01 14:03` (sv-SE),
`2026-12-01 2:03 PM` (en-CA), `2026/12/01 14:03` (ja-JP), `2026. 12. 01. 14:03` (hu-HU)."""

SERIAL_DAY = r"^\s*(3[6-9]|[4-6]\d|7[0-3])\d{3}([.,]\d+)?\s*$"
"""A spreadsheet's serial day number, days since 1899-12-30 with the time as a fraction
(`45964.58681`: 2025-11-03 14:05): what it writes for a date column formatted as General or
Number. Only the numbers of the years 2000-2099 (36526-73050), which a timestamp may hold."""

MONTH_NAMED = (
    r"^\s*(\d{1,2}[-. ]\s?\p{L}{3,9}\.?[-. ]\s?\d{2,4}|\p{L}{3,9}\.?\s\d{1,2},?\s\d{2,4})"
    r"(\s|,|$)"
)
"""A date with its month's name, as a spreadsheet's date formats write it: `3-Nov-2025 14:05`,
`03-Nov-25`, `3. Nov. 2025`, `Nov 3, 2025`."""

SHORT_BYTES = 26
"""Values longer than this are no time to the minute (the export's `...T14:03:11.123Z` is
24 bytes, padding aside): only the shorter ones are matched."""

REASON = "spreadsheet_date"
_LOCAL, _CUT, _SERIAL, _NAMED = 1, 2, 3, 4


def _flag_name(name: str) -> str:
    return f"__local_date_{name}"


def mark_local_dates(
    df: pl.DataFrame, names: list[str], schema: TableSchema | None = None
) -> pl.DataFrame:
    """A flag column per timestamp column: `_LOCAL` where the value is present, did not
    parse, and is in a local date format (`_SERIAL`, `_NAMED`: a serial day number, a date
    with its month's name; they were `bad_timestamp`, "cannot parse"); `_CUT` where, in a
    kind whose times carry their seconds, it is a time to the minute; else 0. Only the rows
    that did not parse, and the short values, are matched (a chunk's timestamps nearly all
    parse and are longer: the patterns cost nothing on them)."""
    cut_seconds = schema is not None and schema.seconds_written
    for name in names:
        value = df[name]
        missed = df[f"__typed_{name}"].is_null() & value.is_not_null()
        flag = pl.repeat(0, df.height, dtype=pl.Int8, eager=True).alias(_flag_name(name))
        if missed.any():
            idx = missed.arg_true()
            text = value.gather(idx)
            form = pl.select(
                pl.when(text.str.contains(LOCAL_DATE))
                .then(_LOCAL)
                .when(text.str.contains(SERIAL_DAY))
                .then(_SERIAL)
                .when(text.str.contains(MONTH_NAMED))
                .then(_NAMED)
                .otherwise(0)
                .cast(pl.Int8)
            ).to_series()
            flag = flag.scatter(idx, form)
        if cut_seconds:
            short = (value.str.len_bytes() <= SHORT_BYTES).fill_null(False)
            if short.any():
                idx = short.arg_true()
                cut = value.gather(idx).str.contains(SECONDS_DROPPED).fill_null(False)
                kept = flag.gather(idx)
                flag = flag.scatter(idx, kept.zip_with(~cut, pl.Series([_CUT] * len(idx))))
        df = df.with_columns(flag)
    return df


def local_date_check(name: str, spelled: str) -> Check:
    """The check of a timestamp column, before its `bad_timestamp`."""
    flag = pl.col(_flag_name(name))
    shown = pl.col(name).str.slice(0, 80)
    return Check(
        REASON,
        flag > 0,
        pl.when(flag == _CUT)
        .then(
            pl.format(
                f"{spelled}: '{{}}' is a time a spreadsheet saved without its seconds (the "
                "export writes them: 2026-10-01T14:05:02.118Z)",
                shown,
            )
        )
        .when(flag == _SERIAL)
        .then(
            pl.format(
                f"{spelled}: '{{}}' is a spreadsheet's serial day number (days since "
                "1899-12-30): the column was formatted as a number",
                shown,
            )
        )
        .when(flag == _NAMED)
        .then(pl.format(f"{spelled}: '{{}}' is a date in a spreadsheet's own format", shown))
        .otherwise(
            pl.format(
                f"{spelled}: '{{}}' is a spreadsheet's local date format, whose order of day "
                "and month is unknown",
                shown,
            )
        ),
    )


def drop_flags(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop(pl.selectors.starts_with("__local_date_"))


INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
"""Zero-width characters (space, non-joiner, joiner, word joiner, BOM): no whitespace to
`strip_chars`, but they ride along when an id is copied from a web page, a chat or a mail
into a sheet (`\\u200bSub-1` was a subscription of its own, matched by no device)."""


WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
"""Every character Python's `str.isspace` calls a blank: Unicode's White_Space, which
`strip_chars()` strips, and the four information separators U+001C-U+001F."""


def trimmed(expr: pl.Expr) -> pl.Expr:
    """A typed or pasted value without the blanks and zero-width characters around it, in
    one pass (three, blanks then zero-width then blanks, cost three times `strip_chars()`:
    0.8 CPU-s more per 1M call legs over the ids the schema trims)."""
    return expr.str.strip_chars(WHITESPACE + INVISIBLE)
