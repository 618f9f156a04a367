"""Finance rules of the licence reports, each on a hand-written world whose expected figures
were worked out by hand (reporting time zone UTC unless a test says otherwise)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.warehouse.finance_world import BYOD, MOBILE, World, records, user

U1, U2, U3 = user(1), user(2), user(3)


def test_f7_days_since_counts_whole_days_elapsed(tmp_path: Path) -> None:
    w = World()
    w.event("2026-09-01T12:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-09-01T12:00:00.5Z", "D1", "ACTIVATED", U1, "+15550001")
    # the data horizon: 20 days and 23 hours after the activation (21 midnights crossed)
    w.snapshot("2026-09-22T11:00:00Z", "D1", U1, "+15550001")
    con = w.build(tmp_path, idle_days=10)
    rows = records(con, "select device_id, reason, days_since from rpt_reclaim_candidates")
    assert rows == [{"device_id": "D1", "reason": "idle", "days_since": 20}]


SEPT_FILE = "calls_2026-09-01_2026-10-01.csv"


def _usage(con: object, month: str, sub: str = "Sub-1") -> dict[str, object]:
    rows = records(
        con,  # type: ignore[arg-type]
        "select * from rpt_licence_usage_monthly "
        f"where month = date '{month}' and subscription_id = '{sub}'",
    )
    assert len(rows) == 1, rows
    return rows[0]


def _recon(con: object, month: str, sub: str = "Sub-1") -> dict[str, object]:
    rows = records(
        con,  # type: ignore[arg-type]
        "select * from rpt_licence_reconciliation "
        f"where month = date '{month}' and subscription_id = '{sub}'",
    )
    assert len(rows) == 1, rows
    return rows[0]


def _september_calls(w: World) -> None:
    """A September export (declared range 09-01..10-01) with one desk-phone leg."""
    w.leg(SEPT_FILE, "DESK", "2026-09-15T10:00:00Z", U3, "+15550003", 30, go=False)


def test_f1_peak_is_the_largest_number_held_at_one_instant(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-15T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    w.event("2026-09-10T09:00:00Z", "D2", "DELETED", U2, "+15550002")
    w.event("2026-09-10T11:00:00Z", "D3", "PROVISIONED", U3, "+15550003")
    w.snapshot("2026-09-01T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-09-01T06:00:00Z", "D2", U2, "+15550002")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "D3", U3, "+15550003")
    w.entitle("Sub-1", BYOD, 2, "10.00")
    _september_calls(w)
    con = w.build(tmp_path)
    usage = _usage(con, "2026-09-01")
    # three devices touch 09-10, but never more than two at once
    assert usage["licences_held_peak"] == 2
    assert usage["licences_held_month_end"] == 2
    assert usage["licence_days"] == 30 + 10 + 21  # D1 all month, D2 09-01..09-10, D3 09-10..
    recon = _recon(con, "2026-09-01")
    assert (recon["consumed_peak"], recon["variance_units"], recon["status"]) == (2, 0, "matched")


def test_f2_a_call_after_deletion_is_not_use(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-16T00:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    w.event("2026-09-20T10:00:00Z", "D1", "DELETED", U1, "+15550001")
    # another subscription's device carries the device data past the month end
    w.snapshot("2026-10-01T06:00:00Z", "D9", U3, "+15550009", subscription="Sub-9")
    w.leg(SEPT_FILE, "GO1", "2026-09-20T12:00:00Z", U1, "+15550001", 90)  # deletion day
    w.entitle("Sub-1", BYOD, 1, "10.00")
    con = w.build(tmp_path)
    calls = records(con, "select anomaly_type from fct_webex_go_calls where report_id = 'GO1'")
    assert calls == [{"anomaly_type": "device_deleted"}]
    usage = _usage(con, "2026-09-01")
    assert (usage["devices_used"], usage["devices_idle"], usage["licences_idle"]) == (0, 1, 1)
    assert (usage["webex_go_legs"], usage["webex_go_minutes"]) == (0, 0.0)
    recon = _recon(con, "2026-09-01")
    assert (recon["licences_used"], recon["idle_licences"], recon["idle_cost"]) == (0, 1, 10.0)


def test_f3_idle_counts_licence_units_not_devices(tmp_path: Path) -> None:
    w = World()
    number = "+15550100"
    kw = {"deployment": "MOBILE_OPERATOR"}
    w.event("2026-08-15T00:00:00Z", "D10", "PROVISIONED", U1, number, **kw)
    w.event("2026-08-16T00:00:00Z", "D10", "ACTIVATED", U1, number, **kw)
    w.snapshot("2026-09-01T06:00:00Z", "D10", U1, number, **kw)
    w.event("2026-09-10T12:00:00Z", "D10", "DELETED", U1, number, **kw)
    w.event("2026-09-12T09:00:00Z", "D11", "PROVISIONED", U1, number, **kw)  # never activated
    w.snapshot("2026-10-01T06:00:00Z", "D11", U1, number, status="PENDING_ACTIVATION", **kw)
    w.entitle("Sub-1", MOBILE, 1, "20.00")
    _september_calls(w)
    con = w.build(tmp_path)
    usage = _usage(con, "2026-09-01")
    # two devices, one licence: the number was activated (by D10) and never used
    assert (usage["devices_held"], usage["devices_idle"], usage["devices_never_activated"]) == (
        2,
        1,
        1,
    )
    assert (usage["licences_used"], usage["licences_idle"], usage["licences_never_activated"]) == (
        0,
        1,
        0,
    )
    assert usage["licences_held_peak"] == 1
    recon = _recon(con, "2026-09-01")
    assert (recon["idle_licences"], recon["idle_cost"]) == (1, 20.0)


def test_f4_activation_is_dated_in_the_reporting_time_zone(tmp_path: Path) -> None:
    w = World()
    w.event("2026-09-20T12:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    # 2026-09-30 22:00 in New York
    w.event("2026-10-01T02:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    w.snapshot("2026-10-05T06:00:00Z", "D1", U1, "+15550001")
    # every day of September in New York (to 10-01T04:00Z) has call data: a unit not
    # activated would be known never activated, not unknown
    w.leg("calls_2026-09-01_2026-10-02.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+15550003", 30,
          go=False)  # fmt: skip
    con = w.build(tmp_path, reporting_timezone="America/New_York")
    usage = _usage(con, "2026-09-01")
    assert (usage["devices_activated"], usage["devices_never_activated"]) == (1, 0)
    assert usage["licences_never_activated"] == 0
    day = records(
        con, "select status_at_day_end from fct_licence_days where licence_day = '2026-09-30'"
    )
    assert day == [{"status_at_day_end": "ONLINE"}]


def test_f5_call_coverage_per_month(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-01T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-02T00:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    w.snapshot("2026-11-01T06:00:00Z", "D1", U1, "+15550001")
    w.entitle("Sub-1", BYOD, 1, "10.00")
    _september_calls(w)  # declared 09-01..10-01: all of September
    # no declared range: covers its first..last start day, 10-03..10-05
    w.leg("calls.csv", "X1", "2026-10-03T10:00:00Z", U3, "+15550003", 30, go=False)
    w.leg("calls.csv", "X2", "2026-10-05T10:00:00Z", U3, "+15550003", 30, go=False)
    con = w.build(tmp_path)
    got = {
        str(r["month"]): r
        for r in records(con, "select * from rpt_licence_reconciliation order by month")
    }
    summary = {
        m: (r["covered_days"], r["call_coverage"], r["idle_licences"], r["idle_cost"], r["status"])
        for m, r in got.items()
    }
    assert summary == {
        "2026-08-01": (0, "none", None, None, "no_call_data"),
        "2026-09-01": (30, "full", 1, 10.0, "matched"),
        "2026-10-01": (3, "partial", None, None, "matched"),
        "2026-11-01": (0, "none", None, None, "no_call_data"),
    }
    # holdings, peaks, entitlements and variance are still reported without call data
    assert (got["2026-08-01"]["consumed_peak"], got["2026-08-01"]["variance_units"]) == (1, 0)
    usage = _usage(con, "2026-10-01")
    assert (usage["call_coverage"], usage["devices_idle"], usage["licences_idle"]) == (
        "partial",
        None,
        None,
    )
    assert usage["devices_activated"] == 1


def test_f6_no_usage_after_the_device_data_horizon(tmp_path: Path) -> None:
    w = World()
    w.event("2026-09-01T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-09-02T00:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001")
    # the last device observation: a status event on 3 November
    w.event("2026-11-03T10:00:00Z", "D1", "STATUS_CHANGED", U1, "+15550001")
    w.events[-1] = w.events[-1].replace(",,admin,", ",OFFLINE,admin,")
    w.entitle("Sub-1", BYOD, 1, "10.00")
    # call data for all of September to November
    w.leg("calls_2026-09-01_2026-12-01.csv", "X", "2026-09-15T10:00:00Z", U3, "+1555", 5, go=False)
    con = w.build(tmp_path)
    october = _recon(con, "2026-10-01")
    assert (october["call_coverage"], october["idle_cost"]) == ("full", 10.0)
    november = _recon(con, "2026-11-01")
    # device data for 1-3 November only: not a full month of usage
    assert (november["covered_days"], november["call_coverage"]) == (3, "partial")
    assert (november["idle_licences"], november["idle_cost"]) == (None, None)
    months = records(con, "select distinct month from rpt_licence_usage_monthly order by 1")
    assert [str(m["month"]) for m in months] == ["2026-09-01", "2026-10-01", "2026-11-01"]


def test_f8_a_go_to_go_leg_counts_its_minutes_once(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-15T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "D2", U2, "+15550002")
    # one leg, both ends Webex Go devices of the group: two records of 120 s
    w.leg(SEPT_FILE, "A", "2026-09-10T10:00:00Z", U1, "+15550001", 120,
          correlation="c1", local_id="x", remote_id="y")  # fmt: skip
    w.leg(SEPT_FILE, "B", "2026-09-10T10:00:00Z", U2, "+15550002", 120,
          correlation="c1", local_id="y", remote_id="x", direction="TERMINATING")  # fmt: skip
    w.leg(SEPT_FILE, "C", "2026-09-11T10:00:00Z", U1, "+15550001", 60)  # a call to the PSTN
    con = w.build(tmp_path)
    usage = _usage(con, "2026-09-01")
    assert (usage["webex_go_calls"], usage["webex_go_legs"]) == (2, 3)
    assert usage["webex_go_minutes"] == 3.0  # (120 + 60) / 60
    assert usage["webex_go_device_minutes"] == 5.0  # (120 + 120 + 60) / 60
    assert (usage["devices_used"], usage["licences_used"]) == (2, 2)


def test_f9_a_move_does_not_restate_past_months(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-20T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.snapshot("2026-09-01T06:00:00Z", "D1", U1, "+15550001")
    # moved to another subscription and location on 10-10
    moved = {"subscription": "Sub-2", "location": "Branch"}
    w.snapshot("2026-10-10T06:00:00Z", "D1", U1, "+15550001", **moved)
    w.snapshot("2026-10-20T06:00:00Z", "D1", U1, "+15550001", **moved)
    con = w.build(tmp_path)
    got = records(
        con,
        "select month, subscription_id, location_name, licences_held_peak, "
        "licences_held_month_end, licence_days, devices_held from rpt_licence_usage_monthly "
        "order by month, subscription_id",
    )
    assert [tuple(r.values())[1:] for r in got] == [
        ("Sub-1", "HQ", 1, 1, 12, 1),  # August: 08-20..08-31
        ("Sub-1", "HQ", 1, 1, 30, 1),  # September stays where it was
        ("Sub-1", "HQ", 1, 0, 9, 0),  # October 1-9; the device ends the month in Sub-2
        ("Sub-2", "Branch", 1, 1, 11, 1),  # 10-10 (its last instant) .. 10-20 (horizon)
    ]
    days = records(
        con,
        "select licence_day, subscription_id from fct_licence_days "
        "where licence_day in ('2026-09-15', '2026-10-10') order by 1",
    )
    assert [d["subscription_id"] for d in days] == ["Sub-1", "Sub-2"]


def test_f10_a_device_left_out_of_a_listing_stops_holding(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-20T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-20T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    w.snapshot("2026-09-01T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-09-01T06:00:00Z", "D2", U2, "+15550002")
    w.snapshot("2026-09-05T06:00:00Z", "D2", U2, "+15550002")  # D1 no longer listed
    w.snapshot("2026-09-10T06:00:00Z", "D2", U2, "+15550002")
    con = w.build(tmp_path)
    holdings = records(
        con,
        "select held_to, end_reason from fct_licence_holdings where licence_unit_id = 'D1'",
    )
    assert [(str(h["held_to"]), h["end_reason"]) for h in holdings] == [
        ("2026-09-05 06:00:00+00:00", "UNLISTED")
    ]
    days = records(
        con,
        "select count(*) as n, max(licence_day) as last from fct_licence_days "
        "where licence_unit_id = 'D1' and licence_day >= '2026-09-01'",
    )
    assert (days[0]["n"], str(days[0]["last"])) == (5, "2026-09-05")
    anomalies = records(
        con,
        "select device_id, observed_at from rpt_webex_go_anomalies "
        "where anomaly_type = 'device_unlisted'",
    )
    assert [(a["device_id"], str(a["observed_at"])) for a in anomalies] == [
        ("D1", "2026-09-05 06:00:00+00:00")
    ]
    usage = _usage(con, "2026-09-01")
    assert (usage["licences_held_peak"], usage["licences_held_month_end"]) == (2, 1)


def test_f11_unassigned_units_and_their_cost(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001")
    w.entitle("Sub-1", BYOD, 8, "12.50")
    _september_calls(w)
    con = w.build(tmp_path)
    recon = _recon(con, "2026-09-01")
    assert (recon["entitled_units"], recon["consumed_month_end"]) == (8, 1)
    assert (recon["unassigned_units"], recon["unassigned_cost"]) == (7, 87.5)
    assert recon["status"] == "under"


def _number_swap_world(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """T1 on +1101 and T2 on +1102 (Mobile) until 09-15, when T2 is deleted and T1 takes
    its number; one Mobile unit bought; the September calls."""
    w = World()
    kw = {"deployment": "MOBILE_OPERATOR"}
    for device, uid, number in (("T1", U1, "+15551101"), ("T2", U2, "+15551102")):
        w.event("2026-08-15T00:00:00Z", device, "PROVISIONED", uid, number, **kw)
        w.event("2026-08-16T00:00:00Z", device, "ACTIVATED", uid, number, **kw)
        w.snapshot("2026-09-01T00:00:00Z", device, uid, number, **kw)
    w.event("2026-09-15T00:00:00Z", "T2", "DELETED", U2, "+15551102", **kw)
    w.snapshot("2026-09-15T00:00:00Z", "T1", U1, "+15551102", **kw)
    w.snapshot("2026-10-01T00:00:00Z", "T1", U1, "+15551102", **kw)
    w.entitle("Sub-1", MOBILE, 1, "20.00")
    _september_calls(w)
    return w.build(tmp_path)


def test_f12_a_mobile_unit_is_the_number_in_effect_not_the_current_one(tmp_path: Path) -> None:
    """T1 is on +1101 and T2 on +1102 until 09-15, when T2 is deleted and T1 takes its
    number: two numbers held Mobile licences from 09-01 to 09-15 (peak 2: over the one
    bought), and +1101 for 14 days plus +1102 for the 30 days of September."""
    con = _number_swap_world(tmp_path)
    units = records(
        con,
        "select licence_unit_id, count(*) as days from fct_licence_days "
        "where licence_day between date '2026-09-01' and date '2026-09-30' "
        "group by all order by all",
    )
    assert units == [
        {"licence_unit_id": "+15551101", "days": 14},
        {"licence_unit_id": "+15551102", "days": 30},
    ]
    recon = _recon(con, "2026-09-01")
    assert (recon["consumed_peak"], recon["variance_units"], recon["status"]) == (2, -1, "over")


def test_f13_a_call_is_made_from_the_activated_phone_not_a_pending_one(tmp_path: Path) -> None:
    """U1's G1 is activated on 09-01; G2 is provisioned for U1 on 09-10 and never activated.
    Calls after 09-10 came from G1 (a pending phone places no Webex Go call): G1 is used and
    not idle, G2 holds an idle licence. Before activated devices came first, the latest
    provisioned (G2) took them: G1 showed idle and was offered for reclaim."""
    w = World()
    w.event("2026-09-01T00:00:00Z", "G1", "PROVISIONED", U1, "+15550001")
    w.event("2026-09-01T01:00:00Z", "G1", "ACTIVATED", U1, "+15550001")
    w.event("2026-09-10T00:00:00Z", "G2", "PROVISIONED", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "G1", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "G2", U1, "+15550001", status="PENDING_ACTIVATION")
    w.entitle("Sub-1", BYOD, 2, "10.00")
    for rid, day in (("C1", "05"), ("C2", "15"), ("C3", "28")):
        w.leg(SEPT_FILE, rid, f"2026-09-{day}T12:00:00Z", U1, "+15550001", 60)
    _september_calls(w)
    con = w.build(tmp_path, idle_days=10)
    legs = records(con, "select report_id, device_id from fct_webex_go_leg_devices order by 1")
    assert legs == [{"report_id": r, "device_id": "G1"} for r in ("C1", "C2", "C3")]
    recon = _recon(con, "2026-09-01")
    assert (recon["licences_used"], recon["idle_licences"], recon["idle_cost"]) == (1, 1, 10.0)
    reclaim = records(con, "select device_id from rpt_reclaim_candidates where reason = 'idle'")
    assert {"device_id": "G1"} not in reclaim


def test_f14_blanks_around_a_typed_id_do_not_split_a_subscription(tmp_path: Path) -> None:
    """Entitlements typed in a spreadsheet carry `"Sub-1 "`; the devices say `Sub-1`: one
    subscription, one matched row (not a `no_entitlement` row and an `under` one). So with
    the zero-width space or BOM an id copied from a web page or a chat carries."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.entitlements.append(f"\u200b Sub-1\ufeff , {BYOD} ,1, 2026-01-01 ,,10.00, USD\u200b ")
    _september_calls(w)
    con = w.build(tmp_path)
    rows = records(
        con,
        "select subscription_id, status, variance_units, unit_price, currency "
        "from rpt_licence_reconciliation where month = date '2026-09-01'",
    )
    assert rows == [
        {
            "subscription_id": "Sub-1",
            "status": "matched",
            "variance_units": 0,
            "unit_price": 10.0,
            "currency": "USD",
        }
    ]


def test_f15_a_device_pending_for_months_without_a_code_on_record_is_reclaimable(
    tmp_path: Path,
) -> None:
    """Known from snapshots only (no code event), PENDING_ACTIVATION from 05-01 to 11-01: any
    code issued for it came at or after 05-01 06:00 and expired 90 days later (the default
    code_expiry_days) unused. It holds an idle licence all along, so reclaim lists it:
    since 07-30 06:00, 93 whole days before the 11-01 horizon."""
    w = World()
    for time in ("2026-05-01T06:00:00Z", "2026-11-01T00:00:00Z"):
        w.snapshot(time, "P1", U1, "+15550001", status="PENDING_ACTIVATION")
    # a device provisioned too recently for its code to have expired is not listed
    w.snapshot("2026-10-20T00:00:00Z", "P2", U2, "+15550002", status="PENDING_ACTIVATION")
    w.snapshot("2026-11-01T00:00:00Z", "P2", U2, "+15550002", status="PENDING_ACTIVATION")
    con = w.build(tmp_path)
    rows = records(
        con,
        "select device_id, reason, strftime(since, '%Y-%m-%d %H:%M') as since, days_since "
        "from rpt_reclaim_candidates",
    )
    assert rows == [
        {
            "device_id": "P1",
            "reason": "never_activated_code_expired",
            "since": "2026-07-30 06:00",
            "days_since": 93,
        }
    ]


def test_reclaim_counts_days_of_24_hours_whatever_the_session_time_zone(tmp_path: Path) -> None:
    """`idle_days` and `code_expiry_days` are whole days of 24 h, as fct_activation_codes
    counts them: a DuckDB shell opened where the clock changes (Chicago left daylight saving
    time on 2026-11-01) gets the reclaim list a UTC session gets. GI's last call is 30 days
    less 30 minutes before the horizon (11-01 07:30Z); GN was provisioned 90 days and 30
    minutes before it, with no code on record."""
    w = World()
    w.event("2026-09-01T00:00:00Z", "GI", "PROVISIONED", user(1), "+15550001")
    w.event("2026-09-01T01:00:00Z", "GI", "ACTIVATED", user(1), "+15550001")
    w.leg("calls_2026-10-01_2026-11-01.csv", "L1", "2026-10-02T07:00:00Z", user(1), "", 60)
    w.snapshot("2026-08-03T07:00:00Z", "GN", user(2), "+15550002", status="PENDING_ACTIVATION")
    for device, uid, number, status in [
        ("GI", user(1), "+15550001", "ONLINE"),
        ("GN", user(2), "+15550002", "PENDING_ACTIVATION"),
    ]:
        w.snapshot("2026-11-01T07:30:00Z", device, uid, number, status=status)
    con = w.build(tmp_path)
    sql = "select device_id, reason, days_since from rpt_reclaim_candidates order by device_id"
    expected = [
        {"device_id": "GI", "reason": "idle", "days_since": 30},
        {"device_id": "GN", "reason": "never_activated_code_expired", "days_since": 0},
    ]
    assert records(con, sql) == expected
    con.execute("set TimeZone = 'America/Chicago'")
    assert records(con, sql) == expected


def test_f16_licence_holdings_follow_the_number_in_effect(tmp_path: Path) -> None:
    """The world of f12: fct_licence_holdings, which docs/inputs-devices.md gives as the
    licences held, lists what the reports count: +1101 held by T1 until 09-15, +1102 by T2
    until its deletion and by T1 after, not T1's whole life under the number it has now."""
    con = _number_swap_world(tmp_path)
    holdings = records(
        con,
        "select licence_unit_id, strftime(held_from, '%m-%d') as held_from, "
        "strftime(held_to, '%m-%d') as held_to, device_id, device_count "
        "from fct_licence_holdings order by all",
    )
    assert holdings == [
        {
            "licence_unit_id": "+15551101",
            "held_from": "08-15",
            "held_to": "09-15",
            "device_id": "T1",
            "device_count": 1,
        },
        {
            "licence_unit_id": "+15551102",
            "held_from": "08-15",
            "held_to": None,
            "device_id": "T1",
            "device_count": 2,
        },
    ]


def test_f17_reclaim_names_the_subscription_the_usage_report_holds_the_device_in(
    tmp_path: Path,
) -> None:
    """R1 is listed in Sub-1 on 10-01 and moved to Sub-2 by an event on 10-02, the data
    horizon, after the last snapshot: October's usage holds it in Sub-2 at month end (the
    horizon), so the reclaim list, judged at the horizon, offers it back from Sub-2, not
    from the last snapshot's Sub-1."""
    w = World()
    w.held_through_september([("R1", U1, "+15551201", "Sub-1")])
    w.event("2026-10-02T00:00:00Z", "R1", "LICENSE_ASSIGNED", U1, "+15551201", subscription="Sub-2")
    con = w.build(tmp_path)
    usage = records(
        con,
        "select subscription_id, licences_held_month_end from rpt_licence_usage_monthly "
        "where month = date '2026-10-01' order by all",
    )
    assert usage == [
        {"subscription_id": "Sub-1", "licences_held_month_end": 0},
        {"subscription_id": "Sub-2", "licences_held_month_end": 1},
    ]
    reclaim = records(con, "select device_id, reason, subscription_id from rpt_reclaim_candidates")
    assert reclaim == [{"device_id": "R1", "reason": "idle", "subscription_id": "Sub-2"}]


def test_reclaim_never_offers_a_device_in_use_as_never_activated(tmp_path: Path) -> None:
    """Snapshots of Control Hub's Devices page carry Status unavailable only, so no activation
    is ever on record. U1 calls every day of October: the usage report counts its unit used,
    yet reclaim offered it as never_activated_code_expired since 08-30 06:00 (06-01 06:00 +
    90 days), asking finance to take back the licence of a phone in daily use. A leg shows
    its line was on a phone: U1 is no candidate (its last leg, 10-31 12:00, is 0 days
    before the 11-01 06:00 horizon). U2, used until 09-20 12:00 only, is idle from then:
    11-01 06:00 - 09-20 12:00 = 41 days 18 h, 41 whole days (> idle_days 30). U3, never
    called, is never activated as before: since 08-30 06:00, 63 whole days. So is U4, whose
    only leg (05-15) came before its device was first seen (06-01): the leg is matched to
    the device its user took later, but says nothing of that device's line."""
    w = World()
    for time in ("2026-06-01T06:00:00Z", "2026-11-01T06:00:00Z"):
        for device, uid, number in (("U1", U1, "+15550001"), ("U2", U2, "+15550002")):
            w.snapshot(time, device, uid, number, status="STATUS_UNAVAILABLE")
        w.snapshot(time, "U3", U3, "+15550003", status="STATUS_UNAVAILABLE")
        w.snapshot(time, "U4", user(4), "+15550004", status="STATUS_UNAVAILABLE")
    w.leg("calls_2026-05-01_2026-06-01.csv", "q1", "2026-05-15T12:00:00Z", user(4), "+15550004", 60)
    for day in range(1, 32):
        w.leg(
            "calls_2026-10-01_2026-11-01.csv", f"r{day}", f"2026-10-{day:02d}T12:00:00Z", U1,
            "+15550001", 60,
        )  # fmt: skip
    w.leg("calls_2026-09-01_2026-10-01.csv", "s1", "2026-09-20T12:00:00Z", U2, "+15550002", 60)
    con = w.build(tmp_path)
    assert _usage(con, "2026-10-01")["licences_used"] == 1  # U1 is used in the usage report
    rows = records(
        con,
        "select device_id, reason, strftime(since, '%Y-%m-%d %H:%M') as since, days_since "
        "from rpt_reclaim_candidates order by device_id",
    )
    assert rows == [
        {"device_id": "U2", "reason": "idle", "since": "2026-09-20 12:00", "days_since": 41},
        {
            "device_id": "U3",
            "reason": "never_activated_code_expired",
            "since": "2026-08-30 06:00",
            "days_since": 63,
        },
        {
            "device_id": "U4",
            "reason": "never_activated_code_expired",
            "since": "2026-08-30 06:00",
            "days_since": 63,
        },
    ]


def test_reclaim_judges_idle_from_the_activation_not_a_leg_before_the_device(
    tmp_path: Path,
) -> None:
    """U5's user made a Webex Go leg on 05-15 with no device on record; the device first
    seen 06-01 is matched to it, and activated on 10-10 12:00. Idle counted from that old
    leg: 169 days, offered for reclaim three weeks after the phone was activated. From the
    activation: 11-01 06:00 - 10-10 12:00 = 21 days 18 h < idle_days 30, no candidate."""
    w = World()
    for time in ("2026-06-01T06:00:00Z", "2026-11-01T06:00:00Z"):
        w.snapshot(time, "U5", user(5), "+15550005", status="STATUS_UNAVAILABLE")
    w.event("2026-10-10T12:00:00Z", "U5", "ACTIVATED", user(5), "+15550005")
    w.leg("calls_2026-05-01_2026-06-01.csv", "q1", "2026-05-15T12:00:00Z", user(5), "+15550005", 60)
    con = w.build(tmp_path)
    assert records(con, "select device_id, reason from rpt_reclaim_candidates") == []
