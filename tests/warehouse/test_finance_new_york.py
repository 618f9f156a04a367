"""Finance figures of a world in America/New_York, worked out by hand. October 2026 has call
data for 7 of its 31 days (partial coverage). November 2026 leaves summer time at 02:00 on
11-01 (EDT, UTC-4, to EST, UTC-5): it runs from 2026-11-01T04:00Z to 2026-12-01T05:00Z, 30
days, the first of 25 hours, and its 15th starts at 05:00Z, not at the month's offset
(04:00Z) nor at UTC midnight."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tests.warehouse.finance_world import BYOD, World, records, user

ZONE = "America/New_York"
NOV = date(2026, 11, 1)


def _held_all_month(w: World, device: str, n: int, sub: str) -> None:
    """Provisioned and activated in October (EDT), listed Online at the horizon."""
    uid, number = user(n), f"+1555000{n:04d}"
    w.event("2026-10-15T12:00:00Z", device, "PROVISIONED", uid, number, subscription=sub)
    w.event("2026-10-16T12:00:00Z", device, "ACTIVATED", uid, number, subscription=sub)
    w.snapshot("2026-12-01T06:00:00Z", device, uid, number, subscription=sub)


def _pending(w: World, device: str, n: int, sub: str, provisioned: str) -> None:
    """Provisioned at `provisioned`, never activated, listed pending at the horizon."""
    uid, number = user(n), f"+1555000{n:04d}"
    w.event(provisioned, device, "PROVISIONED", uid, number, subscription=sub)
    w.snapshot(
        "2026-12-01T06:00:00Z", device, uid, number, subscription=sub,
        status="PENDING_ACTIVATION",
    )  # fmt: skip


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    w = World()
    # Sub-N and Sub-M bought 1 unit until 11-14 and 2 from 11-15 (a local day: from
    # 2026-11-15T05:00Z, EST); each holds one phone all month and takes a second one
    # around that midnight
    for sub in ("Sub-N", "Sub-M"):
        w.entitlements.append(f"{sub},{BYOD},1,2026-01-01,2026-11-14,10.00,USD")
        w.entitlements.append(f"{sub},{BYOD},2,2026-11-15,,10.00,USD")
    _held_all_month(w, "N1", 1, "Sub-N")
    _held_all_month(w, "M1", 2, "Sub-M")
    # N2 at 04:30Z, 23:30 of 11-14 in New York: 2 held against the 1 in force until 05:00Z
    _pending(w, "N2", 3, "Sub-N", "2026-11-15T04:30:00Z")
    # M2 at 05:00Z, the first instant of 11-15 in New York: never more held than bought
    _pending(w, "M2", 4, "Sub-M", "2026-11-15T05:00:00Z")
    # P1, bought by nobody, held from 10-20 08:00 EDT, never activated nor used
    _pending(w, "P1", 5, "Sub-P", "2026-10-20T12:00:00Z")
    # calls: UTC days 10-25..10-31 and 11-01..12-01 (end exclusive). New York's days
    # 10-25..10-31 end at 11-01T04:00Z, inside the second export: October has 7 of its 31
    # days (partial), November all 30 (its last day ends at 12-01T05:00Z, inside 12-01)
    w.leg("calls_2026-10-25_2026-11-01.csv", "X1", "2026-10-26T15:00:00Z", user(9), "+1", 30,
          go=False)  # fmt: skip
    w.leg("calls_2026-11-01_2026-12-02.csv", "X2", "2026-11-10T15:00:00Z", user(9), "+1", 30,
          go=False)  # fmt: skip
    return w.build(tmp_path_factory.mktemp("finance_dst"), reporting_timezone=ZONE)


def _recon(con: duckdb.DuckDBPyConnection, month: date) -> dict[str, dict[str, object]]:
    rows = records(
        con,
        "select subscription_id, entitled_units, consumed_peak, consumed_month_end, "
        "licence_days, variance_units, licences_used, idle_licences, idle_cost, "
        "unassigned_units, status, covered_days, call_coverage "
        f"from rpt_licence_reconciliation where month = date '{month}'",
    )
    return {str(r.pop("subscription_id")): r for r in rows}


def test_a_top_up_starts_at_the_local_midnight_after_the_clocks_went_back(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """By hand: N1 and M1 are held all 30 days, N2 from 11-14 (23:30 local) to the end:
    17 days, M2 from 11-15: 16 days. Both subscriptions end the month with 2 held of 2
    bought (variance 0, nothing unassigned); nobody called from a phone, so all 4 units are
    idle (N1, M1) or never activated (N2, M2): 2 idle units at 10.00 each. Sub-N held 2
    against 1 for the half hour before 05:00Z (`over`); Sub-M never held more than it
    had bought (`matched`)."""
    got = _recon(con, NOV)
    same = {
        "entitled_units": 2,
        "consumed_peak": 2,
        "consumed_month_end": 2,
        "variance_units": 0,
        "licences_used": 0,
        "idle_licences": 2,
        "idle_cost": 20.0,
        "unassigned_units": 0,
        "covered_days": 30,
        "call_coverage": "full",
    }
    assert got["Sub-N"] == {**same, "licence_days": 30 + 17, "status": "over"}
    assert got["Sub-M"] == {**same, "licence_days": 30 + 16, "status": "matched"}


def test_never_activated_is_unknown_where_idle_is(con: duckdb.DuckDBPyConnection) -> None:
    """P1, held from 10-20 and never activated, made no call on the 7 days of October with
    call data; of the other 24 nothing is known, and a phone used without a recorded
    activation counts as used. Its October usage said 1 never activated beside an unknown
    (NULL) idle count: a partition of the units held whose parts were known and unknown
    at once. Unknown both, as idle is; in November (every day covered) 1 never activated."""
    rows = records(
        con,
        "select month, licence_days, devices_held, devices_idle, devices_never_activated, "
        "licences_idle, licences_never_activated, covered_days, call_coverage "
        "from rpt_licence_usage_monthly where subscription_id = 'Sub-P' and month < '2026-12-01' "
        "order by month",
    )
    assert rows == [
        # held 10-20..10-31: 12 days; calls cover 10-25..10-31 of its 31
        {
            "month": date(2026, 10, 1), "licence_days": 12, "devices_held": 1,
            "devices_idle": None, "devices_never_activated": None,
            "licences_idle": None, "licences_never_activated": None,
            "covered_days": 7, "call_coverage": "partial",
        },
        {
            "month": NOV, "licence_days": 30, "devices_held": 1,
            "devices_idle": 0, "devices_never_activated": 1,
            "licences_idle": 0, "licences_never_activated": 1,
            "covered_days": 30, "call_coverage": "full",
        },
    ]  # fmt: skip
    units = records(
        con,
        "select month, licences_idle, licences_never_activated from fct_licence_unit_usage "
        "where subscription_id = 'Sub-P' and month < '2026-12-01' order by month",
    )
    assert [tuple(u.values()) for u in units] == [(date(2026, 10, 1), None, None), (NOV, 0, 1)]
