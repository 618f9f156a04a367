"""What a per-kind derivation returns: derived columns and the row checks that quarantine;
and the check every kind shares, a field too long (`long_values`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import ascii_lowercase, ascii_uppercase

import polars as pl

from cdr_pipeline.schema import HeaderResolution
from cdr_pipeline.schema.base import NULL_WORDS, STRING, TableSchema


@dataclass(frozen=True)
class Check:
    """A row check: rows where `bad` is true are quarantined with `reason` and `detail`."""

    reason: str
    bad: pl.Expr
    detail: pl.Expr


EMPTY_WORD = "an empty value written as a word: only an empty field, NA or na reads as empty"
SPELLED_NULL_WORDS = sorted(
    {
        "".join(cased)
        for word in NULL_WORDS
        for cased in itertools.product(*zip(word, word.upper(), strict=True))
    }
)
"""`NULL_WORDS` in every mix of cases (`NULL`, `Null`, `N/A`...): matched as they are, no
lower-case copy of every value made first."""


def null_word(column: str) -> pl.Expr:
    """Whether the text value is one of `NULL_WORDS`, in any case."""
    return pl.col(column).is_in(SPELLED_NULL_WORDS)


def word_detail(column: str, spelled: str) -> pl.Expr:
    return pl.format(f"{spelled}: '{{}}' is {EMPTY_WORD}", pl.col(column))


def null_word_keys(schema: TableSchema, spelled: Mapping[str, str]) -> list[Check]:
    """A key or required text value written as an empty word (`NULL`, `N/A`): quarantined as
    missing. Kept as text, five legs of a database's export with Report ID `NULL` were one
    record and four duplicates, and a `NULL` Correlation ID made one call of every such leg;
    a text column that is neither key nor required keeps such a word as data."""
    return [
        Check(
            "missing_required",
            null_word(c.name),
            word_detail(c.name, spelled.get(c.name, c.name)),
        )
        for c in schema.input_columns
        if c.dtype == STRING and not c.sensitive and (c.required or c.name in schema.key)
    ]


Deriver = Callable[[pl.DataFrame], tuple[pl.DataFrame, list[Check]]]
"""Typed chunk in, the chunk with derived columns and the kind's extra row checks out."""


def long_values(names: list[str], schema: TableSchema, limit: int, res: HeaderResolution) -> Check:
    """A row with a field longer than `limit` bytes (`max_value_bytes`): no DCH or device
    value is more than a few hundred bytes, and rows of megabytes each, within
    `max_record_bytes`, took the partition merge and the build past their memory (exit 6 for
    the whole run, every night the file stayed in the inbox). The detail names the longest
    field as the source spells it (it said only `a field of N bytes`: in a record of seventy
    columns, or a JSON record, which one was left to guess)."""
    columns = [c for c in schema.input_columns if not c.sensitive and c.name in names]
    text = {c.name: res.spelling(c) for c in columns}
    if "extra" in names:  # the unknown columns, together
        text["extra"] = "the unknown columns (kept in 'extra')"
    lengths = {n: pl.col(n).str.len_bytes() for n in text}
    longest = pl.max_horizontal(list(lengths.values()))
    field = pl.coalesce(
        [pl.when(size == longest).then(pl.lit(text[n])) for n, size in lengths.items()]
    )
    return Check(
        "value_too_long",
        longest > limit,
        pl.format(
            f"{{}}: {{}} bytes, over max_value_bytes ({limit:,}): raise it in cdr.toml if "
            "values this long are genuine",
            field,
            longest,
        ),
    )


def conflicting_lines(
    key: tuple[str, ...],
    terms: tuple[str, ...],
    advice: str,
    *,
    named: str | None = None,
    folded: tuple[str, ...] = (),
) -> Check:
    """Lines of one chunk with one `key` and other `terms` (`conflicting_lines`): the table
    keeps one row of a key, the later, which is right for a later file (a correction) but
    a guess between lines of one file. All of them are quarantined, each naming the
    others' lines and the terms that differ; the same line twice is one row. `named` is
    what the detail calls the key (default: its columns); the key columns in `folded` are
    one value in any case (a subscription id typed `SUB-1` and `Sub-1`)."""
    complete = pl.all_horizontal(pl.col(c).is_not_null() for c in key)
    over = [ascii_upper(pl.col(c)) if c in folded else pl.col(c) for c in key]
    lines = pl.col("source_row").cast(pl.String).over(over, mapping_strategy="join")
    differing = pl.concat_str(
        [pl.when(pl.col(t).n_unique().over(over) > 1).then(pl.lit(t)) for t in terms],
        separator=", ",
        ignore_nulls=True,
    )
    named = named or ", ".join(key)
    return Check(
        "conflicting_lines",
        complete & (pl.struct(terms).n_unique().over(over) > 1),
        pl.format(
            f"lines {{}} name one {named} with other {{}}: {advice}",
            lines.list.join(", "),
            differing,
        ),
    )


def ascii_upper(expr: pl.Expr) -> pl.Expr:
    """`expr` with its ASCII letters in upper case, every other character as it is: as the
    views and the ingest's DuckDB queries compare an id in any case (`text.ascii_upper_sql`).
    `str.to_uppercase` made `SUB-ß1` and `SUB-SS1` one id that DuckDB's `upper` keeps apart
    (and `SUB-ẞ1` another that it merges with `SUB-ß1`)."""
    return expr.str.replace_many(list(ascii_lowercase), list(ascii_uppercase))


SCIENTIFIC = r"^[+-]?\d([.,]\d+)?[Ee][+-]\d+$"
"""A spreadsheet's scientific notation: one digit, a fraction, then a signed exponent. One
that opened a file and saved it again wrote a long digit string so (`+442079460000` as
`4.42079E+11`, an id as `2.34059E+09`), its other digits gone for good; in a locale of
decimal commas (German, French: the one that saves with `;`) the fraction follows a comma,
`4,42079E+11`. No phone number, extension, call or session id is written so (a hex id has
no `.`, `,` or sign)."""


def spreadsheet_numbers(names: dict[str, str]) -> list[Check]:
    """The checks that quarantine a value of these text columns (column -> the name the
    detail gives it) in a spreadsheet's scientific notation (`spreadsheet_number`)."""
    return [
        Check(
            "spreadsheet_number",
            pl.col(name).str.contains(SCIENTIFIC),
            pl.format(
                f"{shown}: '{{}}' is a spreadsheet's scientific notation, its rounded-away "
                "digits are lost",
                pl.col(name),
            ),
        )
        for name, shown in names.items()
    ]


def id_numbers(*names: str) -> list[Check]:
    """`spreadsheet_numbers` of these id columns of a finance input, each named as it is
    (`subscription_id`): a purchase sheet or device list saved by a spreadsheet writes a
    numeric id too wide for its column rounded (`3.9015E+10`), and loaded so a device's
    licence was reconciled under a subscription nobody bought, or billed to no department."""
    return spreadsheet_numbers({name: name for name in names})


EXPONENT = r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)[Ee][+-]?\d+$"
"""Any number written with an exponent (`1.2346E+06`, `1,2346E+06`, `1e3`): what a number
column reads as a float, so `units` `1.2346E+06` loaded as 1,234,600."""


RESAVE = "format the column as Number and export again"
"""What to do about a figure in scientific notation in a sheet people keep (entitlements)."""

AS_DOWNLOADED = "load the export as downloaded"
"""... in a file Control Hub or the APIs wrote (call legs): a spreadsheet saved it again."""


def exponent_figure(name: str, shown: str, fix: str = RESAVE) -> Check:
    """The check that quarantines a figure of the `exact` column `name` (text as read) written
    in scientific notation (`spreadsheet_number`): a spreadsheet saves so a number too wide for
    its column, rounded to the digits shown (1,234,567 units as `1.2346E+06`). An exact one
    (`1E+03`) is refused too: the notation says the cell was shown rounded (`1E+03` is any
    count from 500 to 1,499), and nothing in the file tells a rounded figure from an exact
    one. The detail ends with `fix`."""
    return Check(
        "spreadsheet_number",
        pl.col(name).str.strip_chars().str.contains(EXPONENT),
        pl.format(
            f"{shown}: '{{}}' was saved in scientific notation by a spreadsheet, the exact "
            f"figure is lost: {fix}",
            pl.col(name).str.slice(0, 80),
        ),
    )


FLOAT = r"^[+-]?\d+[.,]0$"
"""A whole number written as a float: what pandas writes for a column of numbers that has
empty cells (`2001.0`, `13343822691.0`, the '+' dropped; `2001,0` with `decimal=","`, as a
file saved for a German or French spreadsheet is). No phone number, extension or id of a
call leg ends so."""


def mark_floats(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """A flag column per text column: true where the value is `FLOAT`. The pattern runs only
    on the values ending in `.0` or `,0`, found by a suffix test (a chunk's numbers nearly
    all lack one)."""
    for name in names:
        flag = pl.repeat(False, df.height, eager=True).alias(f"__float_{name}")
        text = df[name]
        held = (text.str.ends_with(".0") | text.str.ends_with(",0")).fill_null(False)
        if held.any():
            idx = held.arg_true()
            flag = flag.scatter(idx, df[name].gather(idx).str.contains(FLOAT))
        df = df.with_columns(flag)
    return df


def flagged_values(reason: str, flag: str, says: str, names: dict[str, str]) -> list[Check]:
    """The checks that quarantine as `reason` a value of these text columns (column -> the
    name the detail gives it) whose flag column `__<flag>_<column>` holds; the detail quotes
    the value, then `says` what is wrong with it."""
    return [
        Check(
            reason,
            pl.col(f"__{flag}_{name}"),
            pl.format(f"{shown}: '{{}}' {says}", pl.col(name).str.slice(0, 80)),
        )
        for name, shown in names.items()
    ]


def float_numbers(names: dict[str, str]) -> list[Check]:
    """The checks of values flagged by `mark_floats`: written as a float (`spreadsheet_float`)."""
    says = (
        "is a number saved as a float by a tool that read it as one (pandas writes 2001 as "
        "2001.0); a '+' or leading zeros may be gone too"
    )
    return flagged_values("spreadsheet_float", "float", says, names)


_CONTINUATION = (
    r"[\x{80}-\x{BF}\x{20AC}\x{201A}\x{0192}\x{201E}\x{2026}\x{2020}\x{2021}\x{02C6}\x{2030}"
    r"\x{0160}\x{2039}\x{0152}\x{017D}\x{2018}\x{2019}\x{201C}\x{201D}\x{2022}\x{2013}"
    r"\x{2014}\x{02DC}\x{2122}\x{0161}\x{203A}\x{0153}\x{017E}\x{0178}]"
)
"""A UTF-8 continuation byte (0x80-0xBF) read as Windows-1252 (or Latin-1: the bytes 1252
leaves undefined come out as the control character of that number)."""

MISREAD = (
    r"^(?:[\x00-\x7F]"
    rf"|[\x{{C2}}-\x{{DF}}]{_CONTINUATION}"
    rf"|[\x{{E0}}-\x{{EF}}]{_CONTINUATION}{{2}}"
    rf"|[\x{{F0}}-\x{{F4}}]{_CONTINUATION}{{3}})*$"
)
"""A value made of ASCII and UTF-8 byte sequences read one byte per character as
Windows-1252: `MÃ¼ller` for `Müller`, `å±±ç”°` for `山田`. What a spreadsheet writes when it
opens a UTF-8 CSV without a byte order mark and saves it again as UTF-8. Genuine text is not
made so: an accented letter stands before a letter or a blank (`São`, `JOÃO`, `Zoë`), never
only before the symbols 1252 puts at 0x80-0xBF."""


def mark_misread(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """A flag column per text column: true where the value is `MISREAD` and not ASCII. Every
    such value holds the byte 0xC3 (its first misread character is one of U+00C2-U+00F4),
    found by a byte search; the pattern runs on those rows only (a chunk's names are nearly
    all ASCII: a pattern on every row cost a quarter of a second per million rows and
    column)."""
    for name in names:
        flag = pl.repeat(False, df.height, eager=True).alias(f"__misread_{name}")
        held = df[name].cast(pl.Binary).bin.contains(b"\xc3").fill_null(False)
        if held.any():
            idx = held.arg_true()
            flag = flag.scatter(idx, df[name].gather(idx).str.contains(MISREAD))
        df = df.with_columns(flag)
    return df


def misread_text(names: dict[str, str]) -> list[Check]:
    """The checks of values flagged by `mark_misread`: decoded in the wrong encoding and
    saved again (`spreadsheet_encoding`)."""
    says = "is text read in the wrong encoding and saved again ('Müller' as 'MÃ¼ller')"
    return flagged_values("spreadsheet_encoding", "misread", says, names)
