"""Times a spreadsheet rewrote: one that opened an export and saved it again wrote each time
it recognised in the user's local date format (`12/01/2026 14:03`, `01.12.2026 14:03`),
where day and month may come in either order. No such value is guessed at: the record is
quarantined as `spreadsheet_date`, which says what happened (docs/webex-dch.md#zip-and-bom).
"""

from __future__ import annotations

import polars as pl

from cdr_pipeline.ingest.derive.base import Check

LOCAL_DATE = r"^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(\s|,|$)"
"""Day and month of one or two digits, in some order, then the year: no ISO-8601 form."""

REASON = "spreadsheet_date"


def _flag_name(name: str) -> str:
    return f"__local_date_{name}"


def mark_local_dates(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """A flag column per timestamp column: true where the value is present, did not parse,
    and is in a local date format. Only the rows that did not parse are matched (a chunk's
    timestamps nearly all parse: the pattern costs nothing on them)."""
    for name in names:
        missed = df[f"__typed_{name}"].is_null() & df[name].is_not_null()
        flag = pl.repeat(False, df.height, eager=True).alias(_flag_name(name))
        if missed.any():
            idx = missed.arg_true()
            flag = flag.scatter(idx, df[name].gather(idx).str.contains(LOCAL_DATE))
        df = df.with_columns(flag)
    return df


def local_date_check(name: str, spelled: str) -> Check:
    """The check of a timestamp column, before its `bad_timestamp`."""
    return Check(
        REASON,
        pl.col(_flag_name(name)),
        pl.format(
            f"{spelled}: '{{}}' is a spreadsheet's local date format, whose order of day and "
            "month is unknown",
            pl.col(name).str.slice(0, 80),
        ),
    )


def drop_flags(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop(pl.selectors.starts_with("__local_date_"))
