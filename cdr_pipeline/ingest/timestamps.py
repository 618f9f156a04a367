"""Timestamps of every input kind: ISO-8601 in the forms the exports and the tools that
re-save them write, to UTC (docs/webex-dch.md#timestamps). The `...Z` form the API and
Control Hub write is parsed first for every row; the other forms only on the rows it missed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl

ISO_Z = "%Y-%m-%dT%H:%M:%S%.fZ"
"""The form the API and Control Hub write (docs/webex-dch.md#timestamps); parsed first for every
row."""


YEAR_FIRST = r"^\s*(\d{4})(?:/|\.\s?)(\d{1,2})(?:/|\.\s?)(\d{1,2})\.?(\s|[Tt]|$)"
"""A date written year first with slashes or dots (`2026/10/01`, `2026. 10. 01.`): the short
date a spreadsheet in a Japanese, Chinese or Taiwanese (slashes) or Hungarian (dots) locale
saves. Year first, the month always comes next (no locale writes year, day, month), so the
day is not guessed as in `01/10/2026`."""


def dash_year_first(s: pl.Expr) -> pl.Expr:
    """`2026/10/1 6:00` -> `2026-10-1 6:00`: the ISO order with ISO's separators."""
    return s.str.replace(YEAR_FIRST, "${1}-${2}-${3}${4}")


def parse_timestamp(s: pl.Expr) -> pl.Expr:
    """ISO-8601 with or without `T`, `Z`, seconds, fraction, or a numeric offset -> UTC (us).
    A fraction may follow a comma, as ISO 8601 allows. A time may stop at the minute
    (ISO-8601 allows `06:00Z`; a spreadsheet saving a snapshot time in an ISO-date locale
    writes `2026-09-01 06:00`). A zone written `UTC` after the time is `Z`: a database's
    export writes it so (BigQuery's CSV `2026-10-01 14:03:27.412000 UTC`, Go's `... +0000
    UTC`), and each such record was a bad_timestamp; `GMT` is the same zone (`... GMT`,
    `... GMT+00:00`), and `GMT+05:30` (Java's `z` for an offset zone) is that offset.
    A date may be written year first with slashes or dots (`2026/09/01 06:00`, as a
    spreadsheet in a Japanese locale saves a snapshot time): the ISO date with other
    separators; it was a bad_timestamp."""
    # RFC 3339 allows a lower-case `t` and `z`
    plain = (
        dash_year_first(s.str.strip_chars())
        # ISO 8601's other decimal sign (`14:05:02,118`: log4j's ISO8601 layout writes it)
        .str.replace(r"(:\d{2}),(\d)", "${1}.${2}")
        .str.replace(r"(?:\s*[+-]00:?00\s*(?:UTC|GMT)|[Zz])$", "")
        # `UTC`/`GMT` right after the time (never after another offset: `+02:00 UTC` stays
        # bad), alone or with the offset it names (`GMT+05:30`, as Java's `z` writes it)
        .str.replace(
            r"^(.*[^+\-\d]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:UTC|GMT)([+-]\d{2}:?\d{2})?$",
            "${1}${2}",
        )
        # two literal replaces: a regex `[Tt]` cost 0.02 CPU s per column and million rows
        .str.replace("T", " ", literal=True)
        .str.replace("t", " ", literal=True)
    )
    naive = plain.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
    with_offset = plain.str.strptime(
        pl.Datetime("us", "UTC"), "%Y-%m-%d %H:%M:%S%.f%#z", strict=False
    )
    minute = plain.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False)
    minute_offset = plain.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%d %H:%M%#z", strict=False)
    naive, minute = naive.dt.replace_time_zone("UTC"), minute.dt.replace_time_zone("UTC")
    return pl.coalesce(naive, with_offset, minute, minute_offset)


def parse_iso_z(s: pl.Expr) -> pl.Expr:
    """The fast path: only the ISO `...Z` form; `fill_timestamps` parses what it misses."""
    return s.str.strptime(pl.Datetime("us", "UTC"), ISO_Z, strict=False)


TIMESTAMP_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
"""The instants a record's timestamp can hold (from, before). Webex Calling began long after
2000; a year such as 0001 or 9999 is a corrupt or placeholder value, and one loaded would
break every later refresh (a call day has a day before and after it; the calendar has not)."""


def fill_timestamps(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Second phase of timestamp parsing: rows the ISO `Z` form did not parse (space form,
    offsets, padding) are parsed with every accepted form, on those rows only."""
    return _fill_unparsed(df, names, parse_timestamp)


def _fill_unparsed(
    df: pl.DataFrame, names: list[str], parse: Callable[[pl.Expr], pl.Expr]
) -> pl.DataFrame:
    """Each column of `names` whose typed value (`__typed_<name>`) is still NULL where its
    text is not: `parse` of the text, on those rows only."""
    for name in names:
        typed = f"__typed_{name}"
        missed = df[typed].is_null() & df[name].is_not_null()
        if not missed.any():
            continue
        idx = missed.arg_true()
        values = df[name].gather(idx).to_frame().select(parse(pl.col(name)))
        df = df.with_columns(df[typed].scatter(idx, values.to_series()))
    return df


DATE_ONLY = r"^\d{4}-\d{1,2}-\d{1,2}$"
"""A date alone, ISO order (after `dash_year_first`: `2026/12/30` too)."""
DAY_FIRST = r"^\d{1,2}\.\d{1,2}\.\d{4}$"
"""A date alone, day first with dots and the year last (`30.12.2026`)."""


def end_of_day(s: pl.Expr) -> pl.Expr:
    """A date alone (`2026-12-30`, `2026/12/30`, `30.12.2026`) -> the first instant after
    that day, UTC (2026-12-31 00:00Z); anything else NULL. An expiry shown as a date is
    valid through that day: its real time, cut off by the spreadsheet, is somewhere in it,
    so the day's end never judges a code used on its last day as used after expiry."""
    plain = dash_year_first(s.str.strip_chars())
    day = pl.coalesce(
        pl.when(plain.str.contains(DATE_ONLY)).then(
            plain.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        ),
        # a spreadsheet in a day-first locale (de, ru, pl...) saves 01.10.2026: day first,
        # as a date column reads it
        pl.when(plain.str.contains(DAY_FIRST)).then(
            plain.str.strptime(pl.Date, "%d.%m.%Y", strict=False)
        ),
    )
    return day.cast(pl.Datetime("us")).dt.offset_by("1d").dt.replace_time_zone("UTC")


def fill_end_of_day(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """After `fill_timestamps`: in the `Column.end_of_day` columns `names`, a value that is
    a date alone is the end of that day (`end_of_day`), on the rows still unparsed only."""
    return _fill_unparsed(df, names, end_of_day)
