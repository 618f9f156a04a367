"""September figures a finance user worked out by hand from sql/README.md, for things that
change in the middle of the month: a price or currency that changes with a new entitlement
row, a phone that calls, then moves to another subscription, and a deleted phone that a
later listing still shows (reporting time zone UTC).

- Sub-P bought 2 units at 12.00 USD to 09-15 and 3 at 10.00 USD from 09-16; it holds P1 and
  P2 all month and P1 calls on 09-03. The price is that of the rows read for
  `entitled_units`, those in force on the month's last day: 10.00, not the 12.00 of the
  first half (1 idle unit costs 10.00, 1 unassigned unit 10.00).
- Sub-Q bought 1 unit at 10.00 USD to 09-15 and 1 at 9.00 EUR from 09-16: the rows in force
  on the last day are in one currency, so the month is `matched` at 9.00 EUR, not
  `mixed_currency`.
- E is in Sub-1 until the 09-16 06:00 snapshot lists it in Sub-2, and calls on 09-10. The
  call counts in Sub-1, the group of the phone when it called; the unit, its device and its
  use count once, in Sub-2, the group of its last held instant. Sub-1 held 1 unit at peak
  and none at month end: its 1 unit bought is unassigned (10.00).
- V in Sub-R is deleted on 09-10 at noon and still listed by the snapshots of 09-16 and
  10-01 (a listing that lags the deletion): DELETED is final, so V holds 09-01..09-10 only
  (10 licence-days, none at month end) and nothing in October.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.warehouse.finance_world import BYOD, World, records, user

SEPT_FILE = "calls_2026-09-01_2026-10-01.csv"


@pytest.fixture(scope="module")
def september(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, object]]]:
    w = World()
    w.held_through_september(
        [
            ("P1", user(1), "+15550001", "Sub-P"),
            ("P2", user(2), "+15550002", "Sub-P"),
            ("Q1", user(3), "+15550003", "Sub-Q"),
        ]
    )
    w.entitlements.append(f"Sub-P,{BYOD},2,2026-01-01,2026-09-15,12.00,USD")
    w.entitlements.append(f"Sub-P,{BYOD},3,2026-09-16,,10.00,USD")
    w.entitlements.append(f"Sub-Q,{BYOD},1,2026-01-01,2026-09-15,10.00,USD")
    w.entitlements.append(f"Sub-Q,{BYOD},1,2026-09-16,,9.00,EUR")
    w.leg(SEPT_FILE, "LP", "2026-09-03T10:00:00Z", user(1), "+15550001", 600)
    e, number = user(4), "+15550004"
    w.event("2026-08-15T00:00:00Z", "E", "PROVISIONED", e, number, subscription="Sub-1")
    w.event("2026-08-16T00:00:00Z", "E", "ACTIVATED", e, number, subscription="Sub-1")
    w.snapshot("2026-09-01T06:00:00Z", "E", e, number, subscription="Sub-1")
    w.snapshot("2026-09-16T06:00:00Z", "E", e, number, subscription="Sub-2")
    w.snapshot("2026-10-01T06:00:00Z", "E", e, number, subscription="Sub-2")
    w.leg(SEPT_FILE, "LE", "2026-09-10T10:00:00Z", e, number, 120)
    v, number = user(5), "+15550005"
    w.event("2026-08-15T00:00:00Z", "V", "PROVISIONED", v, number, subscription="Sub-R")
    w.snapshot("2026-09-01T06:00:00Z", "V", v, number, subscription="Sub-R")
    w.event("2026-09-10T12:00:00Z", "V", "DELETED", v, number, subscription="Sub-R")
    w.snapshot("2026-09-16T06:00:00Z", "V", v, number, subscription="Sub-R")
    w.snapshot("2026-10-01T06:00:00Z", "V", v, number, subscription="Sub-R")
    w.entitlements.append(f"Sub-1,{BYOD},1,2026-01-01,,10.00,USD")
    w.entitlements.append(f"Sub-2,{BYOD},1,2026-01-01,,10.00,USD")
    con = w.build(tmp_path_factory.mktemp("mid_month"))
    return {
        "recon": records(
            con,
            "select subscription_id, entitled_units, consumed_peak, consumed_month_end, "
            "variance_units, licences_used, idle_licences, unit_price, currency, idle_cost, "
            "status, unassigned_units, unassigned_cost from rpt_licence_reconciliation "
            "where month = date '2026-09-01' order by subscription_id",
        ),
        "usage": records(
            con,
            "select subscription_id, licences_held_peak, licences_held_month_end, "
            "licence_days, devices_held, webex_go_calls, webex_go_minutes, licences_used, "
            "licences_idle from rpt_licence_usage_monthly "
            "where month = date '2026-09-01' and subscription_id in ('Sub-1', 'Sub-2') "
            "order by subscription_id",
        ),
        "relisted": records(
            con,
            "select month, licences_held_peak, licences_held_month_end, licence_days "
            "from rpt_licence_usage_monthly where subscription_id = 'Sub-R' order by month",
        ),
    }


def _recon(september: dict[str, list[dict[str, object]]], sub: str) -> dict[str, object]:
    (row,) = [r for r in september["recon"] if r["subscription_id"] == sub]
    return row


def test_a_new_price_from_mid_month_is_the_months_price(
    september: dict[str, list[dict[str, object]]],
) -> None:
    assert _recon(september, "Sub-P") == {
        "subscription_id": "Sub-P",
        "entitled_units": 3,
        "consumed_peak": 2,
        "consumed_month_end": 2,
        "variance_units": 1,
        "licences_used": 1,
        "idle_licences": 1,
        "unit_price": 10.0,
        "currency": "USD",
        "idle_cost": 10.0,
        "status": "under",
        "unassigned_units": 1,
        "unassigned_cost": 10.0,
    }


def test_a_new_currency_from_mid_month_is_not_mixed(
    september: dict[str, list[dict[str, object]]],
) -> None:
    row = _recon(september, "Sub-Q")
    assert (row["unit_price"], row["currency"], row["status"]) == (9.0, "EUR", "matched")
    assert (row["idle_licences"], row["idle_cost"], row["unassigned_cost"]) == (1, 9.0, 0.0)


def test_a_call_before_a_move_counts_where_it_was_made_and_the_use_where_the_unit_ends(
    september: dict[str, list[dict[str, object]]],
) -> None:
    assert september["usage"] == [
        # 09-01..09-15; the call of 09-10 (2 minutes), no unit ends the month here
        {"subscription_id": "Sub-1", "licences_held_peak": 1, "licences_held_month_end": 0,
         "licence_days": 15, "devices_held": 0, "webex_go_calls": 1, "webex_go_minutes": 2.0,
         "licences_used": 0, "licences_idle": 0},
        # 09-16 (its last instant is here) ..09-30: the unit, its device and its use
        {"subscription_id": "Sub-2", "licences_held_peak": 1, "licences_held_month_end": 1,
         "licence_days": 15, "devices_held": 1, "webex_go_calls": 0, "webex_go_minutes": 0.0,
         "licences_used": 1, "licences_idle": 0},
    ]  # fmt: skip
    sub1, sub2 = _recon(september, "Sub-1"), _recon(september, "Sub-2")
    assert (sub1["consumed_peak"], sub1["licences_used"], sub1["status"]) == (1, 0, "matched")
    assert (sub1["unassigned_units"], sub1["unassigned_cost"]) == (1, 10.0)
    assert (sub2["licences_used"], sub2["idle_cost"], sub2["unassigned_units"]) == (1, 0.0, 0)


def test_a_listing_after_the_deletion_starts_no_new_holding(
    september: dict[str, list[dict[str, object]]],
) -> None:
    assert september["relisted"] == [
        {"month": date(2026, 8, 1), "licences_held_peak": 1, "licences_held_month_end": 1,
         "licence_days": 17},
        {"month": date(2026, 9, 1), "licences_held_peak": 1, "licences_held_month_end": 0,
         "licence_days": 10},
    ]  # fmt: skip
