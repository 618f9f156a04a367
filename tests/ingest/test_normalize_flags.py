"""The row checks' flags (`normalize._flag`): each row gets the reason and detail of its first
failing check; in a chunk where no row fails, the checks run once and no detail is built."""

from __future__ import annotations

import polars as pl

from cdr_pipeline.ingest.derive.base import Check
from cdr_pipeline.ingest.normalize import _flag


def _checks() -> list[Check]:
    return [
        Check("negative", pl.col("n") < 0, pl.format("n: {} is negative", pl.col("n"))),
        Check("long", pl.col("text").str.len_bytes() > 3, pl.format("text: {}", pl.col("text"))),
    ]


def test_a_chunk_where_no_check_fails_evaluates_each_check_once() -> None:
    """Checks are regexes over text columns: in the usual chunk, where no row fails, each is
    evaluated once, for the reasons, and no detail is built (evaluating the checks again for
    the details cost a seventh of normalizing a chunk)."""
    calls: list[int] = []

    def counted(s: pl.Series) -> pl.Series:
        calls.append(len(s))
        return s > 100

    df = pl.DataFrame({"n": [1, 2, 3], "text": ["a", "bb", None]})
    check = Check("big", pl.col("n").map_batches(counted, pl.Boolean), pl.lit("too big"))
    out = _flag(df, [check])
    assert calls == [3]
    assert out["__reason"].to_list() == out["__detail"].to_list() == [None] * 3
    assert out.schema["__reason"] == out.schema["__detail"] == pl.String
    again = _flag(out, [check], existing=True)
    assert calls == [3, 3]
    assert again["__detail"].null_count() == 3 and again.columns == out.columns


def test_each_failing_row_gets_its_first_checks_reason_and_detail() -> None:
    df = pl.DataFrame({"n": [-1, 2, -3, 4], "text": ["a", "long", "longer", None]})
    out = _flag(df, _checks())
    assert out["__reason"].to_list() == ["negative", "long", "negative", None]
    assert out["__detail"].to_list() == [
        "n: -1 is negative",
        "text: long",
        "n: -3 is negative",
        None,
    ]
    # later checks keep the earlier flags and fill the rows still clean
    more = [Check("four", pl.col("n") == 4, pl.lit("n is four"))]
    again = _flag(out, more, existing=True)
    assert again["__reason"].to_list() == ["negative", "long", "negative", "four"]
    assert again["__detail"].to_list()[3] == "n is four"
    assert again["__detail"].to_list()[:3] == out["__detail"].to_list()[:3]


def test_an_empty_chunk_gets_empty_flags() -> None:
    df = pl.DataFrame({"n": [], "text": []}, schema={"n": pl.Int64, "text": pl.String})
    out = _flag(df, _checks())
    assert out.height == 0 and out.schema["__detail"] == pl.String
