"""Finance figures that must add up: used, idle and never activated partition the units
(and devices) held; a leg while the device is unlisted is reported; money of different
currencies is never mixed. Each on a hand-written world, expected figures worked out by
hand (reporting time zone UTC)."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.finance import finance_summary
from tests.warehouse.finance_world import BYOD, World, records, user

U1, U2 = user(1), user(2)
OCT_FILE = "calls_2026-10-01_2026-11-01.csv"


def _one(con: object, sql: str) -> dict[str, object]:
    rows = records(con, sql)  # type: ignore[arg-type]
    assert len(rows) == 1, rows
    return rows[0]


def test_a_used_licence_never_activated_is_used_only(tmp_path: Path) -> None:
    w = World()
    # held from 10-01, no ACTIVATED event or ONLINE status ever; the code issued on 11-01
    # carries the device data past October
    w.event("2026-10-01T00:00:00Z", "H1", "PROVISIONED", U1, "+15555550001")
    w.event("2026-10-01T00:00:00Z", "H2", "PROVISIONED", U2, "+15555550002")
    w.event("2026-11-01T00:00:00Z", "H1", "ACTIVATION_CODE_ISSUED", U1, "+15555550001")
    w.entitle("Sub-1", BYOD, 2, "10.00")
    # H1 calls on 10-10 (use); H2 never calls (held, never activated, not used)
    w.leg(OCT_FILE, "R1", "2026-10-10T08:00:00Z", U1, "+15555550001", 60)
    con = w.build(tmp_path)
    usage = _one(
        con,
        "select * from rpt_licence_usage_monthly where month = date '2026-10-01'",
    )
    assert usage["call_coverage"] == "full"
    # 2 units held = 1 used + 0 idle + 1 never activated (H1 is not counted twice)
    got = (usage["licences_used"], usage["licences_idle"], usage["licences_never_activated"])
    assert got == (1, 0, 1)
    assert (usage["devices_held"], usage["devices_used"]) == (2, 1)
    assert (usage["devices_idle"], usage["devices_never_activated"]) == (0, 1)
    recon = _one(
        con,
        "select * from rpt_licence_reconciliation where month = date '2026-10-01'",
    )
    # only H2 is held without use: 1 x 10.00
    assert (recon["licences_used"], recon["idle_licences"], recon["idle_cost"]) == (1, 1, 10.0)


def test_a_leg_while_the_device_is_unlisted_is_an_anomaly_not_use(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-20T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-21T00:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    w.event("2026-08-20T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    for time in ("2026-09-01T06:00:00Z", "2026-09-10T06:00:00Z", "2026-10-01T06:00:00Z"):
        w.snapshot(time, "D1", U1, "+15550001")
    for time in ("2026-09-01T06:00:00Z", "2026-09-05T06:00:00Z", "2026-09-10T06:00:00Z"):
        w.snapshot(time, "D2", U2, "+15550002", status="PENDING_ACTIVATION")
    w.snapshot("2026-10-01T06:00:00Z", "D2", U2, "+15550002", status="PENDING_ACTIVATION")
    # D1 is left out of the 09-05 listing and listed again on 09-10: its leg of 09-07 falls
    # in the gap; D2 is listed throughout (pending, no leg)
    w.leg("calls_2026-09-01_2026-10-01.csv", "R1", "2026-09-07T12:00:00Z", U1, "+15550001", 60)
    con = w.build(tmp_path)
    leg = _one(con, "select * from fct_webex_go_calls where report_id = 'R1'")
    assert (leg["device_id"], leg["anomaly_type"]) == ("D1", "device_unlisted")
    assert str(leg["device_unlisted_at"]) == "2026-09-05 06:00:00+00:00"
    anomaly = _one(con, "select * from rpt_webex_go_anomalies where anomaly_id = 'call:R1'")
    assert (anomaly["anomaly_source"], anomaly["anomaly_type"]) == ("call", "device_unlisted")
    assert "2026-09-05T06:00:00Z" in str(anomaly["detail"])
    usage = _one(con, "select * from rpt_licence_usage_monthly where month = date '2026-09-01'")
    # the leg is not use: D1 (activated) is idle, D2 never activated
    assert (usage["webex_go_legs"], usage["licences_used"]) == (0, 0)
    assert (usage["licences_idle"], usage["licences_never_activated"]) == (1, 1)


def test_a_deletion_at_midnight_ends_the_holding_before_that_day(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-09-10T00:00:00Z", "D1", "DELETED", U1, "+15550001")
    # deleted at the first instant of October: held when September ends, never in October
    w.event("2026-08-15T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    w.event("2026-10-01T00:00:00Z", "D2", "DELETED", U2, "+15550002")
    # another subscription carries the device data into October
    w.snapshot("2026-10-05T06:00:00Z", "D9", user(9), "+15550009", subscription="Sub-9")
    con = w.build(tmp_path)
    days = records(
        con,
        "select licence_unit_id, count(*) as n, max(licence_day) as last from fct_licence_days "
        "where licence_unit_id in ('D1', 'D2') and licence_day >= '2026-09-01' "
        "group by 1 order by 1",
    )
    # D1: 09-01..09-09 (not 09-10); D2: all of September, no October day
    assert [(d["licence_unit_id"], d["n"], str(d["last"])) for d in days] == [
        ("D1", 9, "2026-09-09"),
        ("D2", 30, "2026-09-30"),
    ]
    sept = _one(
        con,
        "select * from rpt_licence_usage_monthly "
        "where month = date '2026-09-01' and subscription_id = 'Sub-1'",
    )
    assert (sept["licences_held_peak"], sept["licences_held_month_end"]) == (2, 1)
    assert sept["licence_days"] == 9 + 30
    october = records(
        con,
        "select * from rpt_licence_usage_monthly "
        "where month = date '2026-10-01' and subscription_id = 'Sub-1'",
    )
    assert october == []


def test_entitlements_in_several_currencies_have_no_cost(tmp_path: Path) -> None:
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1"), ("D2", U2, "+15550002", "Sub-2")])
    w.entitlements += [
        # Sub-1: two rows in force in two currencies
        f"Sub-1,{BYOD},2,2026-01-01,,10.00,USD",
        f"Sub-1,{BYOD},1,2026-06-01,,9.00,EUR",
        # Sub-2: two rows in force at two prices of one currency
        f"Sub-2,{BYOD},1,2026-01-01,,10.00,USD",
        f"Sub-2,{BYOD},1,2026-06-01,,12.00,USD",
    ]
    _desk_call(w)
    con = w.build(tmp_path)
    rows = records(
        con,
        "select subscription_id, entitled_units, unit_price, currency, idle_licences, "
        "idle_cost, unassigned_units, unassigned_cost, status "
        "from rpt_licence_reconciliation where month = date '2026-09-01' order by 1",
    )
    assert rows == [
        # 3 units bought, 1 held and idle, 2 unassigned: no single price, so no cost
        {
            "subscription_id": "Sub-1",
            "entitled_units": 3,
            "unit_price": None,
            "currency": None,
            "idle_licences": 1,
            "idle_cost": None,
            "unassigned_units": 2,
            "unassigned_cost": None,
            "status": "mixed_currency",
        },
        # units added, the highest price: 1 idle x 12.00, 1 unassigned x 12.00
        {
            "subscription_id": "Sub-2",
            "entitled_units": 2,
            "unit_price": 12.0,
            "currency": "USD",
            "idle_licences": 1,
            "idle_cost": 12.0,
            "unassigned_units": 1,
            "unassigned_cost": 12.0,
            "status": "under",
        },
    ]
    con.close()
    html, _ = finance_summary(Settings(warehouse=tmp_path / "wh"), "2026-09")
    assert "1 subscription row(s) have entitlements in more than one currency" in html
    assert "USD 12.00" in html and "EUR" not in html


def test_the_summary_says_when_held_licences_have_no_entitlement(tmp_path: Path) -> None:
    """Idle licences in a subscription nothing was bought for have no price: the headline's
    idle cost leaves them out, and the page says so instead of showing 0 without a word."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-9")])  # idle, not bought
    w.held_through_september([("D2", user(2), "+15550002", "Sub-1")])
    w.entitle("Sub-1", BYOD, 1, "10.00")
    _desk_call(w)
    w.build(tmp_path).close()
    html, _ = finance_summary(Settings(warehouse=tmp_path / "wh"), "2026-09")
    assert (
        "1 subscription row(s) hold licences with no entitlement in force on any day of the "
        "month (1 held at peak, 1 idle)"
    ) in html
    assert "USD 10.00" in html  # Sub-1's idle licence, the one with a price


def test_the_summary_never_counts_unknown_idle_licences_without_entitlement_as_0(
    tmp_path: Path,
) -> None:
    """The same world with call data for 09-01..09-14 only (partial coverage): Sub-9's idle
    figure is unknown, and the note said '1 held at peak, 0 idle'. Without any call data
    (status no_call_data, not no_entitlement) the note was not there at all, though Sub-9
    holds a licence nothing was bought for."""
    for name, calls in (("partial", "calls_2026-09-01_2026-09-15.csv"), ("none", None)):
        w = World()
        w.held_through_september([("D1", user(1), "+15550001", "Sub-9")])
        w.held_through_september([("D2", user(2), "+15550002", "Sub-1")])
        w.entitle("Sub-1", BYOD, 1, "10.00")
        if calls:
            w.leg(calls, "DESK", "2026-09-10T10:00:00Z", user(3), "+1", 30, go=False)
        w.build(tmp_path / name).close()
        html, _ = finance_summary(Settings(warehouse=tmp_path / name / "wh"), "2026-09")
        assert (
            "1 subscription row(s) hold licences with no entitlement in force on any day of "
            "the month (1 held at peak, idle unknown)"
        ) in html, name


def test_the_summary_leaves_out_and_names_entitlements_without_a_price(tmp_path: Path) -> None:
    """Sub-1 bought 2 at 10.00 USD, Sub-2 bought 2 in USD with no unit_price; each holds one
    idle licence all September. By hand: Sub-1's idle cost is 10.00 and its unassigned cost
    10.00; Sub-2's are unknown (no price). The page shows USD 10.00 for both and says that
    one row has no price, as it does for mixed currencies; before, one unpriced row made the
    whole USD total 'unknown' without a word."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.held_through_september([("D2", user(2), "+15550002", "Sub-2")])
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,10,USD")
    w.entitlements.append(f"Sub-2,{BYOD},2,2026-01-01,,,USD")
    _desk_call(w)
    con = w.build(tmp_path)
    sub2 = _one(
        con,
        "select unit_price, currency, idle_licences, idle_cost, unassigned_cost, status "
        "from rpt_licence_reconciliation where subscription_id = 'Sub-2' "
        "and month = date '2026-09-01'",
    )
    assert sub2 == {
        "unit_price": None,
        "currency": "USD",
        "idle_licences": 1,
        "idle_cost": None,
        "unassigned_cost": None,
        "status": "under",
    }
    con.close()
    html, _ = finance_summary(Settings(warehouse=tmp_path / "wh"), "2026-09")
    assert "<b>USD 10.00</b><span>idle cost" in html
    assert "<b>USD 10.00</b><span>unassigned cost" in html
    assert "1 subscription row(s) have entitlements in force without a unit price" in html


def test_the_summary_keeps_a_priced_entitlement_without_a_currency_in_its_totals(
    tmp_path: Path,
) -> None:
    """Sub-1 bought 2 at 10.00 USD, Sub-2 bought 2 at 20.00 with the currency cell left empty;
    each holds one idle licence all September. By hand: Sub-1 idles 1 × 10.00 = USD 10.00
    and leaves 1 unassigned, USD 10.00; Sub-2 idles 1 × 20.00 = 20.00 and leaves 1 unassigned,
    20.00, in no stated currency. The reconciliation has both costs; the page dropped
    Sub-2's 20.00 from its totals and its row (shown '–') without a word. It keeps such an
    amount apart, never added to a currency, and says which rows lack their currency."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.held_through_september([("D2", user(2), "+15550002", "Sub-2")])
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,10,USD")
    w.entitlements.append(f"Sub-2,{BYOD},2,2026-01-01,,20,")
    _desk_call(w)
    con = w.build(tmp_path)
    sub2 = _one(
        con,
        "select unit_price, currency, idle_cost, unassigned_cost, status "
        "from rpt_licence_reconciliation where subscription_id = 'Sub-2' "
        "and month = date '2026-09-01'",
    )
    assert sub2 == {
        "unit_price": 20.0,
        "currency": None,
        "idle_cost": 20.0,
        "unassigned_cost": 20.0,
        "status": "under",
    }
    con.close()
    html, _ = finance_summary(Settings(warehouse=tmp_path / "wh"), "2026-09")
    assert "<b>(no currency) 20.00 + USD 10.00</b><span>idle cost" in html
    assert "<b>(no currency) 20.00 + USD 10.00</b><span>unassigned cost" in html
    assert '<td class="n">(no currency) 20.00</td>' in html  # Sub-2's row
    assert "1 subscription row(s) have a unit price without a currency" in html


def _desk_call(w: World) -> None:
    """A September export (declared range 09-01..10-01) with one desk-phone leg: the month
    has full call coverage."""
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", user(3), "+1", 30,
        go=False,
    )  # fmt: skip
