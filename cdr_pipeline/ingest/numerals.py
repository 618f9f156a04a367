"""Numbers a spreadsheet or a tool wrote with its locale's marks: thousands grouped (by
commas, dots or blanks), a decimal mark that is a dot or a comma, and a minus sign. A value
whose reading is beyond doubt loses its group marks; one that reads as two numbers a thousand
apart is left as it is, so it does not parse and is quarantined rather than loaded a thousand
times too large or too small.
"""

from __future__ import annotations

import re

import polars as pl

from cdr_pipeline.schema.base import DOUBLE, INTEGER, SMALLINT

WHOLE_TYPES = (INTEGER, SMALLINT)
NUMBER_TYPES = (INTEGER, SMALLINT, DOUBLE)


def _groups(mark: str) -> str:
    """A number of groups of three digits separated by `mark` ('0.125' groups nothing)."""
    return rf"[+-]?[1-9]\d{{0,2}}({re.escape(mark)}\d{{3}})+"


def ungroup(s: pl.Expr, dtype: str, decimal_comma: bool | None) -> pl.Expr:
    """`s` (trimmed text of a number column of type `dtype`) with the group marks removed
    and a decimal comma turned into a dot where the value leaves no doubt: a file separated
    by semicolons (`decimal_comma`) is saved in a locale of decimal commas, one separated by
    commas in one of decimal dots; one separated by tabs (None: Excel's "Unicode Text"
    separates by tabs in every locale) tells no locale, so only what each value's marks
    leave beyond doubt is read (`_either_locale`)."""
    if dtype not in NUMBER_TYPES:
        return s
    if decimal_comma is None:
        return _either_locale(s, dtype)
    if decimal_comma:
        # there a dot groups thousands: '1.000' units are 1000, never 1.0; a price '1.000'
        # may be either (the file may write decimal dots too: '12.50'), so it is no number
        grouped = s.str.contains(f"^{_groups('.')}$")
        # '1.234,50' writes both marks: the dots group thousands beyond doubt
        both = s.str.contains(f"^{_groups('.')},\\d+$")
        plain = s.str.replace_all(".", "", literal=True)
        s = (
            pl.when(both)
            .then(plain)
            .when(grouped)
            .then(None if dtype == DOUBLE else plain)
            .otherwise(s)
        )
        return s.str.replace(r"^([+-]?\d+),(\d+)$", "${1}.${2}")  # '12,50', '36,0'
    if dtype not in WHOLE_TYPES:
        # '1,234.50' (Excel's "1000 separator" in a locale of decimal dots) writes both
        # marks: its commas group thousands beyond doubt. A price '1,200' stays no number: a
        # locale of decimal commas may have written it (1.2)
        both = s.str.contains(f"^{_groups(',')}\\.\\d+$")
        return pl.when(both).then(s.str.replace_all(",", "", literal=True)).otherwise(s)
    # among decimal dots '1.000' is a thousand or one: no number. A count '1,200' (or
    # '1,200.00') is 1200 either way: as a decimal comma it would be 1.2, no whole number
    dotted = s.str.contains(f"^{_groups('.')}$")
    grouped = s.str.contains(f"^{_groups(',')}(\\.\\d+)?$")
    return (
        pl.when(dotted)
        .then(None)
        .when(grouped)
        .then(s.str.replace_all(",", "", literal=True))
        .otherwise(s)
    )


def _either_locale(s: pl.Expr, dtype: str) -> pl.Expr:
    """`ungroup` in a file of either locale. Both marks (`1.234,50`, `1,234.50`): the last is
    the decimal mark. A comma not followed by a group of three (`12,50`, `4,5`, `0,125`) is a
    decimal comma: no locale groups so. One mark grouping thousands (`1.234`, `1,234`) reads
    as two numbers a thousand apart: a price is no number; a count is as among decimal dots
    (`1,200` is 1200 either way, `1.000` no number)."""
    dot_last = s.str.contains(f"^{_groups(',')}\\.\\d+$")
    comma_last = s.str.contains(f"^{_groups('.')},\\d+$")
    grouped = s.str.contains(f"^{_groups('.')}$") | s.str.contains(f"^{_groups(',')}$")
    comma = s.str.contains(r"^[+-]?\d*,\d+$")
    decimal = s.str.replace(",", ".", literal=True)
    if dtype in WHOLE_TYPES:
        counted = ungroup(s, dtype, decimal_comma=False)
        grouped_as = counted
    else:
        counted, grouped_as = s, pl.lit(None, pl.String)
    return (
        pl.when(dot_last)
        .then(s.str.replace_all(",", "", literal=True))
        .when(comma_last)
        .then(s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(grouped)
        .then(grouped_as)
        .when(comma)
        .then(decimal)
        .otherwise(counted)
    )


MINUS_SIGN = "\u2212"
"""Unicode's MINUS SIGN: a tool formatting numbers in a Swedish, Norwegian or Finnish locale on
ICU (.NET 5 and later, so PowerShell 7) writes -300 as `−300`."""

_BLANKS = " \u00a0\u202f"
"""The marks that group thousands in French, Swedish, Norwegian, Finnish, Russian, Polish...
locales: a space, a no-break space, or (French on Windows 10 and later) a narrow one."""

LOCALE_MARKS = f"[{MINUS_SIGN}{_BLANKS}]"
"""A value holding one of these may be a number `respell` reads."""

CLOCK_MARKS = f"[{MINUS_SIGN}{_BLANKS}:]|^[Pp]"
"""The same, the colon of a clock duration and the `P` of an ISO-8601 one, in a
`Column.clock` column."""

_CLOCK = r"^(\d{1,3}):([0-5]\d):([0-5]\d)$"
"""Hours, minutes and seconds (`0:01:23`, `00:01:23`, `100:00:00`): how a report tool, or a
spreadsheet formatting a duration, writes one. Minutes and seconds alone (`1:23`) are not
read: they could be hours and minutes."""

_ISO = r"^[Pp](?:(\d{1,5})[Dd])?(?:[Tt](?:(\d{1,6})[Hh])?(?:(\d{1,8})[Mm])?(?:(\d{1,9})[Ss])?)?$"
"""An ISO-8601 duration of whole units (`PT36S`, `PT1M5S`, `PT1H`, `P1DT2H`, any case): how
a tool that types the column as a time span writes it (.NET's `XmlConvert`, Java's
`Duration`, Power Automate, a JSON serializer in between). No Webex source writes it, but it
leaves no doubt: it is its seconds. A fraction (`PT36.5S`) stays unreadable, as `36.5` does."""
_ISO_UNITS = (86400, 3600, 60, 1)


def respell(s: pl.Expr, decimal_comma: bool | None, clock: bool = False) -> pl.Expr:
    """`s` (text of a number that did not parse) with a minus sign `−` written `-`, and
    thousands grouped by blanks ungrouped where the value leaves no doubt: `1 200` and
    `1 234,50` in a file of decimal commas (`1 234.50` in one of dots) are 1200 and 1234.50,
    as no locale writes a blank for its decimal mark. In a `clock` column a clock duration
    (`_CLOCK`) is its seconds: `00:01:23` is 83 (it was a bad integer, the leg quarantined),
    and so is an ISO-8601 duration (`_ISO`): `PT1M5S` is 65. Other text is left for the
    caller to find unreadable."""
    s = s.str.strip_chars().str.replace(f"^{MINUS_SIGN}", "-")
    fraction = {True: r"(,\d+)?", False: r"(\.\d+)?", None: r"([.,]\d+)?"}[decimal_comma]
    grouped = s.str.contains(rf"^[+-]?[1-9]\d{{0,2}}([{_BLANKS}]\d{{3}})+{fraction}$")
    s = pl.when(grouped).then(s.str.replace_all(f"[{_BLANKS}]", "")).otherwise(s)
    if not clock:
        return s
    part = s.str.extract_groups(_CLOCK)
    seconds = (
        part.struct.field("1").cast(pl.Int64) * 3600
        + part.struct.field("2").cast(pl.Int64) * 60
        + part.struct.field("3").cast(pl.Int64)
    )
    s = pl.when(s.str.contains(_CLOCK)).then(seconds.cast(pl.String)).otherwise(s)
    iso = s.str.extract_groups(_ISO)
    total = pl.sum_horizontal(
        iso.struct.field(str(i + 1)).cast(pl.Int64).fill_null(0) * unit
        for i, unit in enumerate(_ISO_UNITS)
    )
    whole = s.str.contains(_ISO) & s.str.contains(r"\d[DdHhMmSs]$")  # a unit, no bare `PT`
    return pl.when(whole).then(total.cast(pl.String)).otherwise(s)
