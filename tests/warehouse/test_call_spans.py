"""A call's span (`fct_calls.first_start_time` to `last_release_time`) holds every leg's
start, also when a record's release is earlier than its start (an unanswered record's
release is checked against nothing): the by-call refresh finds the calls of a changed day
by their stored span, and a month's report reads the days its calls span."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports import REPORTS
from cdr_pipeline.reports.run import query_report
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import build_warehouse, connect, refresh_warehouse
from cdr_pipeline.warehouse.catalog import read_sql_file
from cdr_pipeline.warehouse.materialize import SCHEMA

HEADER = (
    "Report ID,Report time,Start time,Release time,Answered,Duration,Direction,Call type,"
    "Client type,Sub client type,User UUID,User number,Org UUID,Location,Correlation ID,"
    "Local call ID"
)


def _record(rid: str, start: str, release: str, corr: str, *, go: bool, sent: str) -> str:
    client, sub = ("SIP", "MOBILE_NETWORK") if go else ("WXC_DEVICE", "")
    return (
        f"{rid},{sent},{start},{release},false,0,ORIGINATING,SIP_ENTERPRISE,{client},{sub},"
        f"user-{rid},+1555000{rid[-1]},org-1,Paris,{corr},{rid}:0"
    )


# call X: its second record starts after midnight, on 1 November, but says it was released
# before then (on 31 October, before its own start)
FIRST = _record(
    "X1",
    "2026-10-31T23:50:00.000Z",
    "2026-10-31T23:55:00.000Z",
    "X",
    go=False,
    sent="2026-11-01T01:00:00.000Z",
)
LATE = ("X2", "2026-11-01T00:10:00.000Z", "2026-10-31T23:58:00.000Z")


def _load(settings: Settings, path: Path, *rows: str) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    result = ingest_paths(settings, [path])
    assert result.exit_code == 0, [f.message for f in result.files]


def test_a_record_released_before_its_start_stays_in_its_calls_span(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    sent = "2026-11-01T01:00:00.000Z"
    _load(settings, tmp_path / "calls.csv", FIRST, _record(*LATE, "X", go=True, sent=sent))
    build_warehouse(settings)
    con = connect(settings)
    try:
        (span,) = con.execute(
            "select last_release_time from fct_calls where correlation_id = 'X'"
        ).fetchall()
        assert str(span[0].date()) == "2026-11-01"  # X2's start, not its earlier release
        # a month's report reads the days its calls span: October's call has a Webex Go
        # leg on 1 November, counted as in the report of every month
        report = REPORTS["webex-go-adoption"]
        whole = query_report(con, report, None).to_pylist()
        october = query_report(con, report, date(2026, 10, 1)).to_pylist()
        assert october == [r for r in whole if r["month"] == date(2026, 10, 1)]
        assert october[0]["webex_go_legs"] == 1
    finally:
        con.close()

    # X2 comes again as a record of call Y, on the same day: the refresh finds X by its
    # stored span, which holds that day, and takes X2 out of it
    _load(
        settings,
        tmp_path / "again.csv",
        _record(*LATE, "Y", go=True, sent="2026-11-02T00:00:00.000Z"),
    )
    refresh_warehouse(settings)
    spec = read_sql_file(sql_dir() / "fct_calls.sql")
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        order = "order by correlation_id"
        table = con.execute(f"select * from {SCHEMA}.fct_calls {order}").fetchall()
        assert table == con.execute(f"select * from ({spec.sql}) {order}").fetchall()
        counts = con.execute(
            f"select correlation_id, record_count from {SCHEMA}.fct_calls {order}"
        ).fetchall()
        assert counts == [("X", 1), ("Y", 1)]
    finally:
        con.close()
