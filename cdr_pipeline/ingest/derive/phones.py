"""Phone numbers of the device inputs (snapshots, events): one spelling per number, the
E.164 form where the value leaves no doubt (docs/inputs-devices.md), and the checks that
quarantine a number a spreadsheet or a dataframe tool damaged: in scientific notation
(`spreadsheet_number`) or written as a float (`spreadsheet_float`).
"""

from __future__ import annotations

import re

import polars as pl

from cdr_pipeline.ingest.derive.base import (
    Check,
    float_numbers,
    mark_floats,
    spreadsheet_numbers,
)

_NUMBER_MARKS = r"[\s().\-]"
"""What people and spreadsheets write between the digits of a phone number (blanks, including
no-break spaces, brackets, dots, dashes)."""


_NANP_NATIONAL = r"^\s*[2-9]\d{2}[\s.\-]\d{3}[\s.\-]\d{4}\s*$"
"""A North American number in its national form: area code, exchange and line, 3-3-4 digits
between blanks, dots or dashes (no other country writes ten digits with its country code
so: `32 2 555 01 03` is Belgian)."""


def _phone_number(expr: pl.Expr, nanp: pl.Expr | None = None) -> pl.Expr:
    """`+1 (555) 000-0009` -> `+15550000009`: a Webex Mobile number is the licence unit of a
    Mobile Operator device, and one number in two spellings would count as two licences (and a
    device whose list respells it would change number). Digits alone, not starting with 0,
    are an E.164 number whose `+` a spreadsheet dropped (it reads `+15550000009` as a
    number): `15550000009` -> `+15550000009`. A value that is not a number with such marks
    (letters, a `tel:` URI) is kept as given; digits starting with 0 (a national or 00
    prefix), with a bracket (`(312) 555-0103`: a national area code) or in the North
    American national grouping 3-3-4 (`312-555-0103`, `312.555.0103`: text a person typed,
    which a spreadsheet never strips of a `+`) have no E.164 country code and keep their
    digits without a `+`; so do the values `nanp` marks (`_nanp_national`)."""
    compact = expr.str.replace_all(_NUMBER_MARKS, "")
    national = expr.str.contains(r"^\s*\(") | expr.str.contains(_NANP_NATIONAL)
    if nanp is not None:
        national = national | nanp
    return (
        pl.when(compact.str.contains(r"^[1-9]\d*$") & ~national)
        .then(pl.lit("+") + compact)
        .when(compact.str.contains(r"^\+?\d+$"))
        .then(compact)
        .otherwise(expr)
    )


_INTERNATIONAL_TEXT = re.compile(r"^\s*(?:[+\uff0b]|tel:)", re.IGNORECASE)
"""A number written in international form that may carry more than digits and marks: `+`, a
full-width `＋` (an East Asian keyboard's) or a `tel:` URI (RFC 3966) first."""

_DIGITS_AND_MARKS = re.compile(r"^\s*\+[\d\s().\-]*$")


def _nanp_national(series: pl.Series) -> pl.Series:
    """True on ten digits alone that are a North American number in its national form:
    `3125550103` read with a `+` is no valid number (+31 then 8 digits: too short for a
    Dutch one), so it is no E.164 number a spreadsheet stripped of its `+` (Webex writes
    only valid ones), while +1 3125550103 is one. Such a value keeps its digits, and the
    views read it by its location's country, as `312-555-0103`; digits valid either way
    (or neither) keep the spreadsheet reading. Each distinct value is read once."""
    import phonenumbers  # deferred: only device lists with such numbers need it

    def valid(text: str) -> bool:
        try:
            return bool(phonenumbers.is_valid_number(phonenumbers.parse(text, None)))
        except phonenumbers.NumberParseException:
            return False

    marked: list[str] = []
    for value in series.drop_nulls().unique().to_list():
        digits = re.sub(_NUMBER_MARKS, "", value)
        ten = re.fullmatch(r"[2-9]\d{9}", digits) is not None
        if ten and not valid(f"+{digits}") and valid(f"+1{digits}"):
            marked.append(value)
    return series.is_in(marked).fill_null(False)


def _international_numbers(series: pl.Series) -> pl.Series:
    """An international number in a form people and tools write, as the E.164 number
    `phonenumbers` reads in it: `+44 (0)20 7946 0018` -> `+442079460018` (the bracketed
    trunk 0 is dropped where the country dials it, kept in an Italian number where it
    belongs: +39 06...), `+1 312 555 0111 x123` and `+13125550112;ext=12` -> the number
    without its extension (a licence unit and a CDR's User number have none),
    `tel:+13125550115` and `＋13125550114` -> `+13125550115`, `+13125550114`. Kept as
    written, each was a number no CDR carries (`+4402079460018`) or text another spelling
    of the same number did not equal (two licence units for one number). A `+` number of
    digits and marks alone is left to `_phone_number`, and a value `phonenumbers` cannot
    read stays as given. Each distinct value is read once."""
    import phonenumbers  # deferred: only device lists with such numbers need it

    mapping: dict[str, str] = {}
    for value in series.drop_nulls().unique().to_list():
        if not _INTERNATIONAL_TEXT.match(value):
            continue
        if _DIGITS_AND_MARKS.match(value) and "(0)" not in value.replace(" ", ""):
            continue
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            continue
        mapping[value] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return series.replace(mapping) if mapping else series


_TEXT_MARK = r"^\s*'\s*([+\d\uff0b(])"
"""A spreadsheet's text marker before a number: `'+13125550111`, typed so that the cell keeps
its `+` (Excel would read `+1312...` as a formula or a number), or written before a value
that starts with `+`, `=`, `-` or `@` by a tool guarding against formula injection (OWASP
"CSV injection"; `cdr report --format csv` does so). The `'` is no part of the number."""


def _unmarked(expr: pl.Expr) -> pl.Expr:
    """The number without a leading `_TEXT_MARK`: kept, `'+13125550111` was text apart from
    the same number's E.164 spelling, a second licence unit for one Webex Mobile number and
    the number of no CDR."""
    return expr.str.replace(_TEXT_MARK, "${1}")


def phone_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """`phone_number` in one spelling (`_unmarked`, `_international_numbers`, then
    `_phone_number`), and the flag `mark_floats` sets on a number written as a float
    (`13125550111.0`, `…,0`: a dataframe tool read the column as floats, as pandas does one
    with empty cells), whose value is kept as given: its dot is no mark between digits, and
    compacted it was another number (`+131255501110`, a digit added; `3125550103.0` a Dutch
    `+31255501030`), the licence unit of no device and the number of no CDR."""
    df = df.with_columns(_unmarked(pl.col("phone_number")))
    df = mark_floats(df.with_columns(_international_numbers(df["phone_number"])), ["phone_number"])
    nanp = _nanp_national(df["phone_number"])
    number = _phone_number(pl.col("phone_number"), pl.lit(nanp))
    return df.with_columns(
        pl.when(pl.col("__float_phone_number"))
        .then(pl.col("phone_number"))
        .otherwise(number)
        .alias("phone_number")
    )


def phone_number_checks() -> list[Check]:
    """The checks of `phone_numbers`' output: a number in a spreadsheet's scientific
    notation or written as a float is quarantined (both are kept as given)."""
    names = {"phone_number": "phone_number"}
    return spreadsheet_numbers(names) + float_numbers(names)
