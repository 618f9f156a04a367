"""A Webex Go leg's conversation counts once in the Webex Go minutes of the licence usage
report and of webex-go-adoption when one of its two records lacks a call ID (no Remote call
ID, or only the Network call ID): the records of one leg are paired as `fct_calls` pairs
them (docs/webex-dch.md#legs-and-correlation), not only by `fct_call_legs.leg_id`, which
gives such a record a leg of its own. Figures worked out by hand below."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.warehouse.finance_world import ORG, World, records, user

U1, U2 = user(1), user(2)
HEADER = (
    "Report ID,Report time,Start time,Answer time,Release time,Duration,Answered,Direction,"
    "Call type,Client type,Sub client type,User UUID,User number,User type,Org UUID,Location,"
    "Site timezone,Correlation ID,Local call ID,Remote call ID,Network call ID"
)
# (report id, correlation, direction, user, number, seconds, local, remote, network):
# three Go-to-Go legs between the two devices of one group, each with a partial record
LEGS = [
    # c1: the terminating record lacks its Remote call ID (the other names its Local one)
    ("a1", "c1", "ORIGINATING", U1, "+15550001", 120, "x:0", "y:0", ""),
    ("b1", "c1", "TERMINATING", U2, "+15550002", 120, "y:0", "", ""),
    # c2: the terminating record holds only the Network call ID both records carry
    ("a2", "c2", "ORIGINATING", U1, "+15550001", 60, "p:0", "q:0", "BW9@10.0.0.1"),
    ("b2", "c2", "TERMINATING", U2, "+15550002", 60, "", "", "BW9@10.0.0.1"),
    # c3: the originating record lacks its Remote call ID; the other's Remote names it
    ("a3", "c3", "ORIGINATING", U1, "+15550001", 30, "r:0", "", ""),
    ("b3", "c3", "TERMINATING", U2, "+15550002", 30, "s:0", "r:0", ""),
]


def _build(root: Path) -> duckdb.DuckDBPyConnection:
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1"), ("D2", U2, "+15550002", "Sub-1")])
    inputs = w.write(root / "inputs")
    rows = [
        f"{rid},{at},{at},{at},{at},{secs},true,{direction},SIP_ENTERPRISE,SIP,MOBILE_NETWORK,"
        f"{uid},{number},User,{ORG},HQ,0,{corr},{local},{remote},{network}"
        for rid, corr, direction, uid, number, secs, local, remote, network in LEGS
        for at in ["2026-09-10T10:00:00Z"]
    ]
    (inputs / "calls_2026-09-01_2026-10-01.csv").write_text(
        "\n".join([HEADER, *rows]) + "\n", encoding="utf-8"
    )
    settings = Settings(warehouse=root / "wh")
    result = ingest_paths(settings, [inputs])
    assert result.exit_code == 0, [f.message for f in result.files]
    return connect_snapshots(settings, table_snapshots(settings))


def test_a_go_to_go_leg_with_a_partial_record_counts_its_minutes_once(tmp_path: Path) -> None:
    con = _build(tmp_path)
    # fct_calls already counts one leg per call
    calls = records(con, "select correlation_id, leg_count, talk_seconds from fct_calls")
    assert sorted((c["correlation_id"], c["leg_count"], c["talk_seconds"]) for c in calls) == [
        ("c1", 1, 120),
        ("c2", 1, 60),
        ("c3", 1, 30),
    ]
    usage = records(
        con,
        "select * from rpt_licence_usage_monthly "
        "where month = date '2026-09-01' and subscription_id = 'Sub-1'",
    )
    assert len(usage) == 1
    got = usage[0]
    # six Webex Go records of three calls; each conversation once: (120 + 60 + 30) / 60
    assert (got["webex_go_calls"], got["webex_go_legs"]) == (3, 6)
    assert got["webex_go_minutes"] == 3.5
    assert got["webex_go_device_minutes"] == 7.0  # every record: 2 * 210 / 60
    sql = REPORTS["webex-go-adoption"].sql.replace("$month::date", "cast(null as date)")
    (hq,) = records(con, sql)
    assert (hq["calls"], hq["webex_go_calls"], hq["webex_go_users"]) == (3, 3, 2)
    assert (hq["webex_go_legs"], hq["webex_go_minutes"]) == (6, 3.5)


def test_a_go_to_go_leg_across_the_month_end_counts_its_minutes_in_one_month(
    tmp_path: Path,
) -> None:
    """The two records of one leg start a moment apart: here 0.8 s, either side of the end
    of September. Each record is a Webex Go leg record of its month (legs, device minutes),
    but the conversation counts once, in the month of the leg's first record in the group:
    1.0 minute in September and none in October, in the report of every month as in the
    report of each (the report of October reads the day before it)."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1"), ("D2", U2, "+15550002", "Sub-1")])
    w.snapshot("2026-10-20T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-10-20T06:00:00Z", "D2", U2, "+15550002")
    f = "calls_2026-09-01_2026-10-20.csv"
    w.leg(f, "A", "2026-09-30T23:59:59.600Z", U1, "+15550001", 60,
          correlation="c1", local_id="x", remote_id="y")  # fmt: skip
    w.leg(f, "B", "2026-10-01T00:00:00.400Z", U2, "+15550002", 60,
          correlation="c1", local_id="y", remote_id="x", direction="TERMINATING")  # fmt: skip
    con = w.build(tmp_path)
    sql = (
        "select month, webex_go_legs, webex_go_minutes, webex_go_device_minutes "
        "from rpt_licence_usage_monthly where month >= date '2026-09-01' order by month"
    )
    expected = [
        {"month": date(2026, 9, 1), "webex_go_legs": 1, "webex_go_minutes": 1.0,
         "webex_go_device_minutes": 1.0},
        {"month": date(2026, 10, 1), "webex_go_legs": 1, "webex_go_minutes": 0.0,
         "webex_go_device_minutes": 1.0},
    ]  # fmt: skip
    assert records(con, sql) == expected
    for month in expected:
        con.execute(f"set variable cdr_report_month = date '{month['month']}'")
        one = records(con, sql.replace(">= date '2026-09-01'", f"= date '{month['month']}'"))
        con.execute("reset variable cdr_report_month")
        assert [month] == one
