"""top-callers names each user by the name of the user's latest call of the month: a user
renamed during the month (Control Hub's display name changed, or a re-delivered export with
the new one) was shown under whichever name the scan met first, so the same data gave
another name from run to run, and on the Spark view tables than on DuckDB's views."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from cdr_pipeline.reports.registry import REPORTS

U1 = "00000000-0000-4000-8000-000000000001"
CALLS = [  # correlation_id, first_start_time, originating_user_name
    ("c1", datetime(2026, 10, 2, 9, tzinfo=UTC), "Aiko Álvarez"),
    ("c2", datetime(2026, 10, 20, 9, tzinfo=UTC), "Aiko Tanaka"),
    ("c3", datetime(2026, 10, 20, 9, tzinfo=UTC), None),
    ("c4", datetime(2026, 10, 5, 9, tzinfo=UTC), "Aiko Álvarez"),
]


def _top_callers(rows: list[tuple[str, datetime, str | None]]) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        "create table fct_calls (correlation_id varchar, first_start_time timestamptz, "
        "report_month date, originating_user_uuid varchar, originating_user_name varchar, "
        "is_answered boolean, talk_seconds bigint)"
    )
    for corr, start, name in rows:
        con.execute(
            "insert into fct_calls values (?, ?, date '2026-10-01', ?, ?, true, 60)",
            [corr, start, U1, name],
        )
    sql = REPORTS["top-callers"].sql.replace("$month::date", "cast(null as date)")
    return con.execute(f"select rank, user_uuid, user_name, calls from ({sql})").fetchall()


def test_a_renamed_user_is_named_by_the_latest_call_whatever_the_row_order() -> None:
    expected = [(1, U1, "Aiko Tanaka", 4)]
    assert _top_callers(CALLS) == expected
    assert _top_callers(CALLS[::-1]) == expected
