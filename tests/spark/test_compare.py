"""The parity comparison finds what differs (so a passing parity test means something)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.spark.parity import compare_view


def _setup(tmp_path: Path, spark_rows: str) -> tuple[duckdb.DuckDBPyConnection, Path]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        "create view v as select * from (values (1, 0.1 + 0.2, "
        "cast('2026-10-05 06:00:00+00' as timestamptz)), (1, 0.1 + 0.2, "
        "cast('2026-10-05 06:00:00+00' as timestamptz))) t(k, x, at_time)"
    )
    out = tmp_path / "v"
    out.mkdir()
    con.execute(
        f"copy (select * from (values {spark_rows}) t(k, x, at_time)) "
        f"to '{out / 'part-0.parquet'}' (format parquet)"
    )
    return con, out


def test_equal_within_six_decimals(tmp_path: Path) -> None:
    # Spark's side: a decimal value is the same value
    con, out = _setup(
        tmp_path,
        "(1, cast(0.3000000001 as decimal(18, 10)), timestamptz '2026-10-05 06:00:00+00'), "
        "(1, cast(0.3000000001 as decimal(18, 10)), timestamptz '2026-10-05 06:00:00+00')",
    )
    assert compare_view(con, "v", out) == []


def test_a_duplicate_too_many_or_a_value_off_is_found(tmp_path: Path) -> None:
    con, out = _setup(
        tmp_path,
        "(1, 0.3, timestamp '2026-10-05 06:00:00'), (1, 0.31, timestamp '2026-10-05 06:00:00'),"
        " (1, 0.3, timestamp '2026-10-05 06:00:00')",
    )
    problems = compare_view(con, "v", out)
    assert any("2 rows in DuckDB, 3 in Spark" in p for p in problems)
    assert any("rows only in Spark" in p and "0.31" in p for p in problems)


def test_missing_rows_and_columns_are_found(tmp_path: Path) -> None:
    con, out = _setup(tmp_path, "(1, 0.3, timestamp '2026-10-05 06:00:01')")
    assert any("rows only in DuckDB" in p for p in compare_view(con, "v", out))
    con.execute("create view w as select 1 as k, 2 as extra")
    assert "columns differ" in compare_view(con, "w", out)[0]


def test_a_wall_clock_written_as_an_instant_is_found(tmp_path: Path) -> None:
    """The same values in a UTC session, but a reader in another zone sees other hours."""
    con, out = _setup(
        tmp_path,
        "(1, 0.3, timestamp '2026-10-05 06:00:00'), (1, 0.3, timestamp '2026-10-05 06:00:00')",
    )
    problems = compare_view(con, "v", out)
    assert problems == ["v.at_time: TIMESTAMP WITH TIME ZONE in DuckDB, TIMESTAMP in Spark"], (
        problems
    )
