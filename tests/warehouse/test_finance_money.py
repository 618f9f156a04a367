"""Money of the reconciliation, worked out by hand: costs are prices times whole units,
rounded to cents as a decimal amount, never as the binary double a price is stored in."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.warehouse.finance_world import BYOD, World, records, user

U1 = user(1)


def test_costs_round_the_decimal_amount_half_up(tmp_path: Path) -> None:
    w = World()
    # one device held all September, activated, never used: idle
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.held_through_september([("D2", user(2), "+15550002", "Sub-2")])
    w.held_through_september([("D3", user(3), "+15550003", "Sub-2")])
    w.held_through_september([("D4", user(4), "+15550004", "Sub-2")])
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U1, "+1555", 30, go=False
    )
    # 2 bought at 2.675, 1 held: 1 unassigned (2.675 is 2.67499999... as a double)
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,2.675,USD")
    # 3 held idle at 1.005 (3 x 1.005 = 3.0149999... in doubles), 4 bought: 1 unassigned
    w.entitlements.append(f"Sub-2,{BYOD},4,2026-01-01,,1.005,USD")
    con = w.build(tmp_path)
    rows = records(
        con,
        "select subscription_id, idle_licences, idle_cost, unassigned_units, unassigned_cost "
        "from rpt_licence_reconciliation where month = date '2026-09-01' order by 1",
    )
    assert rows == [
        {
            "subscription_id": "Sub-1",
            "idle_licences": 1,
            "idle_cost": 2.68,
            "unassigned_units": 1,
            "unassigned_cost": 2.68,
        },
        {
            "subscription_id": "Sub-2",
            "idle_licences": 3,
            "idle_cost": 3.02,
            "unassigned_units": 1,
            "unassigned_cost": 1.01,
        },
    ]


def test_a_month_without_any_unit_held_still_pays_for_its_entitlements(tmp_path: Path) -> None:
    w = World()
    # D1 held in August only (deleted at September's first instant), D2 from October 5
    w.event("2026-08-01T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-09-01T00:00:00Z", "D1", "DELETED", U1, "+15550001")
    w.event("2026-10-05T00:00:00Z", "D2", "PROVISIONED", user(2), "+15550002")
    w.snapshot("2026-10-20T00:00:00Z", "D2", user(2), "+15550002")
    w.entitle("Sub-1", BYOD, 3, "10.00")
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U1, "+1555", 30, go=False
    )
    con = w.build(tmp_path)
    # September: 3 bought, none held, all 3 unassigned (30.00), with full call coverage
    rows = records(
        con,
        "select entitled_units, consumed_peak, consumed_month_end, licence_days, "
        "idle_licences, unassigned_units, unassigned_cost, status, call_coverage "
        "from rpt_licence_reconciliation where month = date '2026-09-01'",
    )
    assert rows == [
        {
            "entitled_units": 3,
            "consumed_peak": 0,
            "consumed_month_end": 0,
            "licence_days": 0,
            "idle_licences": 0,
            "unassigned_units": 3,
            "unassigned_cost": 30.0,
            "status": "under",
            "call_coverage": "full",
        }
    ]
    peaks = records(con, "select month, licences_held_peak from rpt_licence_peak_monthly")
    assert [p["licences_held_peak"] for p in sorted(peaks, key=lambda p: p["month"])] == [1, 0, 1]


def test_a_row_taken_back_with_zero_units_counts_no_units_and_no_price(tmp_path: Path) -> None:
    """Finance loads a top-up with the wrong start (it belonged to another subscription) and
    takes it back by loading its key again with 0 units: from then on the month counts only
    the rows still bought, at their price (not the highest price of the rows in force)."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U1, "+1555", 30, go=False
    )
    w.entitlements.append(f"Sub-1,{BYOD},5,2026-01-01,,10.00,USD")
    w.entitlements.append(f"Sub-1,{BYOD},3,2026-09-15,,20.00,USD")  # in error
    query = (
        "select entitled_units, unit_price, unassigned_units, unassigned_cost, status "
        "from rpt_licence_reconciliation where month = date '2026-09-01'"
    )
    con = w.build(tmp_path)
    assert records(con, query) == [
        {
            "entitled_units": 8,
            "unit_price": 20.0,
            "unassigned_units": 7,
            "unassigned_cost": 140.0,
            "status": "under",
        }
    ]
    withdrawal = tmp_path / "entitlements_withdrawal.csv"
    withdrawal.write_text(
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
        f"Sub-1,{BYOD},0,2026-09-15,,20.00,USD\n",
        encoding="utf-8",
    )
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [withdrawal]).exit_code == 0
    con = connect_snapshots(settings, table_snapshots(settings))
    assert records(con, query) == [
        {
            "entitled_units": 5,
            "unit_price": 10.0,
            "unassigned_units": 4,
            "unassigned_cost": 40.0,
            "status": "under",
        }
    ]


def test_a_month_only_a_taken_back_row_covered_is_as_if_never_loaded(tmp_path: Path) -> None:
    """A row loaded with the wrong start and taken back (0 units) leaves no trace: in the
    month it alone covered the device held is charged to no entitlement, at no price."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U1, "+1555", 30, go=False
    )
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-10-01,,10.00,USD")  # the right row
    w.entitlements.append(f"Sub-1,{BYOD},0,2026-09-01,,99.00,EUR")  # loaded in error, taken back
    con = w.build(tmp_path)
    assert records(
        con,
        "select entitled_units, consumed_peak, unit_price, currency, idle_cost, status "
        "from rpt_licence_reconciliation where month = date '2026-09-01'",
    ) == [
        {
            "entitled_units": 0,
            "consumed_peak": 1,
            "unit_price": None,
            "currency": None,
            "idle_cost": None,
            "status": "no_entitlement",
        }
    ]


def test_a_top_up_loaded_without_a_price_is_not_priced_at_the_other_rows(tmp_path: Path) -> None:
    """A top-up bought at a price finance has not loaded yet: its units have no cost
    (docs/inputs-devices.md), so the month's costs are unknown rather than the top-up
    charged at the price of the row beside it."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U1, "+1555", 30, go=False
    )
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,7.50,USD")
    w.entitlements.append(f"Sub-1,{BYOD},1,2026-09-15,,,USD")  # a top-up, price not loaded
    con = w.build(tmp_path)
    assert records(
        con,
        "select entitled_units, unit_price, currency, idle_licences, idle_cost, "
        "unassigned_units, unassigned_cost, status "
        "from rpt_licence_reconciliation where month = date '2026-09-01'",
    ) == [
        {
            "entitled_units": 3,
            "unit_price": None,
            "currency": "USD",
            "idle_licences": 1,
            "idle_cost": None,
            "unassigned_units": 2,
            "unassigned_cost": None,
            "status": "under",
        }
    ]


def test_a_month_without_call_data_still_says_more_was_held_than_bought(tmp_path: Path) -> None:
    """Two phones held in August against one licence bought: `over` (README: a negative
    variance is status `over`), whatever the call data. Peaks and entitlements need no call;
    the status said `no_call_data` instead, and a controller filtering on `over` missed it
    (the samples' August: 10 held, 6 bought)."""
    w = World()
    w.held_through_september(
        [("D1", U1, "+15550001", "Sub-1"), ("D2", user(2), "+15550002", "Sub-1")]
    )
    w.entitle("Sub-1", BYOD, 1, "10.00")
    w.entitle("Sub-2", BYOD, 1, "10.00")  # bought, nothing held: under, as before unknown
    con = w.build(tmp_path)
    assert records(
        con,
        "select subscription_id, variance_units, call_coverage, status "
        "from rpt_licence_reconciliation where month = date '2026-08-01' order by 1",
    ) == [
        {
            "subscription_id": "Sub-1",
            "variance_units": -1,
            "call_coverage": "none",
            "status": "over",
        },
        {
            "subscription_id": "Sub-2",
            "variance_units": 1,
            "call_coverage": "none",
            "status": "no_call_data",
        },
    ]


def test_an_entitlement_typed_in_another_case_is_the_subscription_of_the_devices(
    tmp_path: Path,
) -> None:
    """Finance types the subscription `SUB-1` where the device data says `Sub-1` (no two
    subscriptions differ in case only): the 2 licences bought and the 2 held were two rows,
    2 unassigned at 25.00 beside 2 held without entitlement; an admin's events saying
    `SUB-1` of a device the list says is on `Sub-1` moved it between two subscriptions. A
    sheet re-sent with the id written as the devices write it and a corrected count amends
    the row, not adds to it."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    # D2's events typed by an admin in capitals, its snapshots as Cisco's list spells it
    for time, kind in (
        ("2026-08-15T00:00:00Z", "PROVISIONED"),
        ("2026-08-16T00:00:00Z", "ACTIVATED"),
    ):
        w.event(time, "D2", kind, user(2), "+15550002", subscription="SUB-1")
    for time in ("2026-09-15T06:00:00Z", "2026-10-01T06:00:00Z"):
        w.snapshot(time, "D2", user(2), "+15550002", subscription="Sub-1")
    w.leg("calls_2026-09-01_2026-10-01.csv", "G1", "2026-09-15T10:00:00Z", U1, "+15550001", 60)
    w.entitlements.append(f"SUB-1,{BYOD},2,2026-01-01,,12.50,USD")
    query = (
        "select subscription_id, entitled_units, consumed_peak, licences_used, idle_licences, "
        "unassigned_units, unassigned_cost, status "
        "from rpt_licence_reconciliation where month = date '2026-09-01'"
    )
    con = w.build(tmp_path)
    # a case alone never moves a device to another subscription: one group, held all month
    usage = records(
        con,
        "select subscription_id, licences_held_peak, licences_held_month_end, licence_days "
        "from rpt_licence_usage_monthly where month = date '2026-09-01'",
    )
    assert [tuple(r.values()) for r in usage] == [("Sub-1", 2, 2, 60)]
    assert records(con, query) == [
        {
            "subscription_id": "Sub-1",  # as the device data spells it
            "entitled_units": 2,
            "consumed_peak": 2,
            "licences_used": 1,
            "idle_licences": 1,
            "unassigned_units": 0,
            "unassigned_cost": 0.0,
            "status": "matched",
        }
    ]
    resent = tmp_path / "entitlements_resent.csv"
    resent.write_text(
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
        f"Sub-1,{BYOD},3,2026-01-01,,12.50,USD\n",
        encoding="utf-8",
    )
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [resent]).exit_code == 0
    con = connect_snapshots(settings, table_snapshots(settings))
    ((units, unassigned, status),) = con.execute(
        "select entitled_units, unassigned_units, status from rpt_licence_reconciliation "
        "where month = date '2026-09-01'"
    ).fetchall()
    assert (units, unassigned, status) == (3, 1, "under")  # 3 bought, not 2 + 3
