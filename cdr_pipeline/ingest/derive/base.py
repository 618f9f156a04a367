"""What a per-kind derivation returns: derived columns and the row checks that quarantine;
and the check every kind shares, a field too long (`long_values`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from cdr_pipeline.schema.base import TableSchema


@dataclass(frozen=True)
class Check:
    """A row check: rows where `bad` is true are quarantined with `reason` and `detail`."""

    reason: str
    bad: pl.Expr
    detail: pl.Expr


Deriver = Callable[[pl.DataFrame], tuple[pl.DataFrame, list[Check]]]
"""Typed chunk in, the chunk with derived columns and the kind's extra row checks out."""


def long_values(names: list[str], schema: TableSchema, limit: int) -> Check:
    """A row with a field longer than `limit` bytes (`max_value_bytes`): no DCH or device
    value is more than a few hundred bytes, and rows of megabytes each, within
    `max_record_bytes`, took the partition merge and the build past their memory (exit 6 for
    the whole run, every night the file stayed in the inbox)."""
    text = [c.name for c in schema.input_columns if not c.sensitive and c.name in names]
    if "extra" in names:  # the unknown columns, together
        text.append("extra")
    longest = pl.max_horizontal([pl.col(n).str.len_bytes() for n in text])
    return Check(
        "value_too_long",
        longest > limit,
        pl.format(
            f"a field of {{}} bytes, over max_value_bytes ({limit:,}): raise it in cdr.toml "
            "if values this long are genuine",
            longest,
        ),
    )


SCIENTIFIC = r"^[+-]?\d(\.\d+)?[Ee][+-]\d+$"
"""A spreadsheet's scientific notation: one digit, a fraction, then a signed exponent. One
that opened a file and saved it again wrote a long digit string so (`+442079460000` as
`4.42079E+11`, an id as `2.34059E+09`), its other digits gone for good. No phone number,
extension, call or session id is written so (a hex id has no `.` or sign)."""


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
