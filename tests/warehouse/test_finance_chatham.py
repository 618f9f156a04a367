"""Finance figures of a world in Pacific/Chatham, worked out by hand: a zone 45 minutes off
the hour, east of UTC, whose summer time starts inside the month (2026-09-27 02:45, UTC+12:45
to UTC+13:45). September 2026 runs from 2026-08-31T11:15Z up to 2026-09-30T10:15Z: its first
local morning lies on the UTC day 08-31, and the offsets at its two ends differ by an hour."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import query_report
from tests.warehouse.finance_world import BYOD, World, records, user

ZONE = "Pacific/Chatham"
SEPT_START, OCT_START = "2026-08-31T11:15:00Z", "2026-09-30T10:15:00Z"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    w = World()
    u, n = {i: user(i) for i in range(1, 5)}, {i: f"+1555000{i:04d}" for i in range(1, 5)}
    # C1: provisioned at the first instant of September, deleted at the first of October
    w.event(SEPT_START, "C1", "PROVISIONED", u[1], n[1])
    w.event("2026-08-31T11:15:30Z", "C1", "ACTIVATED", u[1], n[1])
    w.event(OCT_START, "C1", "DELETED", u[1], n[1])
    # C2: held for 59 seconds of 09-30 (local 23:14..23:15), not at month end
    w.event("2026-09-30T10:14:00Z", "C2", "PROVISIONED", u[2], n[2])
    w.event("2026-09-30T10:14:59Z", "C2", "DELETED", u[2], n[2])
    # C3: from 09-01 12:45 local, listed at the horizon (10-02 13:45 local)
    w.event("2026-09-01T00:00:00Z", "C3", "PROVISIONED", u[3], n[3])
    w.event("2026-09-01T00:00:00Z", "C3", "ACTIVATED", u[3], n[3])
    w.snapshot("2026-10-02T00:00:00Z", "C3", u[3], n[3])
    # C4: activated and deleted at the same instant: the activation is not before the end
    # of its holding, so it never counts as activated
    w.event("2026-09-01T00:00:00Z", "C4", "PROVISIONED", u[4], n[4])
    w.event("2026-09-15T00:00:00Z", "C4", "ACTIVATED", u[4], n[4])
    w.event("2026-09-15T00:00:00Z", "C4", "DELETED", u[4], n[4])
    # bought from the local day 09-30 on (2026-09-29T10:15Z)
    w.entitlements.append(f"Sub-1,{BYOD},3,2026-09-30,,1.005,USD")
    # UTC days 08-31..09-30: Chatham's 09-01..09-30 (to 09-30T10:15Z), not its 10-01
    calls = "calls_2026-08-31_2026-10-01.csv"
    w.leg(calls, "L1", "2026-08-31T11:16:00Z", u[1], n[1], 90)  # 09-01 00:01, UTC day 08-31
    w.leg(calls, "L3", OCT_START, u[3], n[3], 30)  # 10-01 00:00 local: October's
    return w.build(tmp_path_factory.mktemp("chatham"), reporting_timezone=ZONE)


def test_months_cut_at_chatham_midnights(con: duckdb.DuckDBPyConnection) -> None:
    """Peak 3 (C1, C3, C4 to the 15th; C1, C2, C3 on 09-30); at month end C1, deleted at
    exactly the first instant of October, and C3; licence-days 30 + 1 + 30 + 15; C1's call
    at 00:01 on 09-01 (UTC day 08-31) is September's use, C3's at 00:00 on 10-01 (UTC day
    09-30) October's. No August: C1 came at September's first instant."""
    usage = records(
        con,
        "select month, max(m.days_in_month) as days, sum(licences_held_month_end) as month_end,"
        " sum(licence_days) as licence_days, sum(devices_held) as held,"
        " sum(devices_activated) as activated, sum(licences_used) as used,"
        " sum(licences_idle) as idle, sum(licences_never_activated) as never,"
        " sum(webex_go_calls) as calls, any_value(u.call_coverage) as coverage"
        " from rpt_licence_usage_monthly as u join fct_licence_months as m using (month)"
        " group by month order by month",
    )
    peaks = records(con, "select licences_held_peak from rpt_licence_peak_monthly order by 1")
    assert [str(r.pop("month")) for r in usage] == ["2026-09-01", "2026-10-01"]
    assert usage == [
        {"days": 30, "month_end": 2, "licence_days": 76, "held": 4, "activated": 2,
         "used": 1, "idle": 1, "never": 2, "calls": 1, "coverage": "full"},
        {"days": 31, "month_end": 1, "licence_days": 2, "held": 1, "activated": 1,
         "used": 1, "idle": None, "never": None, "calls": 1, "coverage": "none"},
    ]  # fmt: skip
    assert sorted(r["licences_held_peak"] for r in peaks) == [1, 3]


def test_costs_of_a_purchase_from_the_last_chatham_day(con: duckdb.DuckDBPyConnection) -> None:
    """3 units from the local day 09-30: in force on September's last day, and more held
    than bought before it (over). 3 idle (C3 idle, C2 and C4 never activated) x 1.005 is
    3.015, 3.02 rounded half up; 1 unassigned at month end is 1.005, 1.01."""
    recon = records(
        con,
        "select month, entitled_units, consumed_peak, consumed_month_end, idle_licences,"
        " idle_cost, status, unassigned_units, unassigned_cost"
        " from rpt_licence_reconciliation order by month",
    )
    assert [str(r.pop("month")) for r in recon] == ["2026-09-01", "2026-10-01"]
    assert recon == [
        {"entitled_units": 3, "consumed_peak": 3, "consumed_month_end": 2, "idle_licences": 3,
         "idle_cost": 3.02, "status": "over", "unassigned_units": 1, "unassigned_cost": 1.01},
        {"entitled_units": 3, "consumed_peak": 1, "consumed_month_end": 1,
         "idle_licences": None, "idle_cost": None, "status": "no_call_data",
         "unassigned_units": 2, "unassigned_cost": 2.01},
    ]  # fmt: skip


def test_a_report_of_one_month_reads_the_utc_days_its_midnights_fall_on(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """`cdr report licence-usage --month` reads only the UTC days the month needs: those of
    September's first Chatham morning (UTC day 08-31, C1's call) and of October's (UTC day
    09-30, C3's call) are among them."""
    report = REPORTS["licence-usage"]
    used = {
        month: sum(query_report(con, report, month).column("licences_used").to_pylist())
        for month in (date(2026, 9, 1), date(2026, 10, 1))
    }
    assert used == {date(2026, 9, 1): 1, date(2026, 10, 1): 1}
