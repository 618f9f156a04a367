"""Money of the reconciliation, worked out by hand: costs are prices times whole units,
rounded to cents as a decimal amount, never as the binary double a price is stored in."""

from __future__ import annotations

from pathlib import Path

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
