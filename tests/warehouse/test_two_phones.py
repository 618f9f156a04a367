"""A user with two Webex Go phones, each with its own number: a leg carrying one phone's
number is that phone's use, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.warehouse.finance_world import BYOD, World, records, user

OCT = "dch_2026-10-01_2026-11-01.csv"
N_A, N_B, DESK = "+13125550111", "+13125550122", "+13125550999"


def test_each_of_a_users_two_phones_gets_the_legs_of_its_number(tmp_path: Path) -> None:
    """User 1 has DA (number N_A, Sub-1, 1 unit at 10.00 USD), provisioned 2026-09-01
    09:00Z and activated an hour later, and DB (N_B, Sub-2, 1 unit at 20.00 USD) from
    2026-09-10 the same way; both listed by a snapshot of 2026-11-01T06:00Z (the horizon).
    October is covered; its two legs carry N_A. A September leg carries the user's desk
    number, neither phone's.

    Every leg of the user went to the phone provisioned last (DB): DA, the phone in use,
    read idle (10.00 of idle cost on Sub-1) and was offered for reclaim, DB used. Now:
    - L1, L2 (N_A, while DA was held and activated) are DA's; L3 (the desk number) keeps
      the rule for a user's several phones: DB, the latest to take the user's key.
    - October, Sub-1: used 1, idle 0, idle cost 0.00; Sub-2: used 0, idle 1, 20.00.
    - Reclaim at 2026-11-01T06:00Z: DB idle since L3 (2026-09-20T10:00Z): 41 days 20 h,
      41 days. DA's last leg 2026-10-06T10:00Z is 25 days old (< idle_days 30): none."""
    w = World()
    for dev, num, sub, day in (("DA", N_A, "Sub-1", "01"), ("DB", N_B, "Sub-2", "10")):
        w.event(f"2026-09-{day}T09:00:00Z", dev, "PROVISIONED", user(1), num, subscription=sub)
        w.event(f"2026-09-{day}T10:00:00Z", dev, "ACTIVATED", user(1), num, subscription=sub)
        w.snapshot("2026-11-01T06:00:00Z", dev, user(1), num, subscription=sub)
    w.entitle("Sub-1", BYOD, 1, "10.00")
    w.entitle("Sub-2", BYOD, 1, "20.00")
    w.leg(OCT, "L1", "2026-10-05T10:00:00Z", user(1), N_A, 60)
    w.leg(OCT, "L2", "2026-10-06T10:00:00Z", user(1), N_A, 60)
    w.leg("dch_sep.csv", "L3", "2026-09-20T10:00:00Z", user(1), DESK, 60)
    con = w.build(tmp_path)

    legs = records(
        con, "select report_id, device_id from fct_webex_go_leg_devices order by report_id"
    )
    assert legs == [
        {"report_id": "L1", "device_id": "DA"},
        {"report_id": "L2", "device_id": "DA"},
        {"report_id": "L3", "device_id": "DB"},
    ]
    october = records(
        con,
        "select subscription_id, licences_used, idle_licences, idle_cost "
        "from rpt_licence_reconciliation where month = date '2026-10-01' order by 1",
    )
    assert october == [
        {"subscription_id": "Sub-1", "licences_used": 1, "idle_licences": 0, "idle_cost": 0.0},
        {"subscription_id": "Sub-2", "licences_used": 0, "idle_licences": 1, "idle_cost": 20.0},
    ]
    assert Decimal(str(october[1]["idle_cost"])) == Decimal("20.00")
    reclaim = records(
        con, "select device_id, reason, since, days_since from rpt_reclaim_candidates"
    )
    assert reclaim == [
        {
            "device_id": "DB",
            "reason": "idle",
            "since": datetime(2026, 9, 20, 10, tzinfo=UTC),
            "days_since": 41,
        }
    ]


def test_a_leg_that_cannot_tell_two_online_phones_apart_says_so(tmp_path: Path) -> None:
    """User 1's DA (N_A) is activated 2026-09-01 10:00Z, DB (N_B) 2026-09-10 10:00Z; a
    snapshot of 2026-10-10T06:00Z shows DA Offline and DB Online. The rule takes, of two
    phones ranking alike, the latest provisioned: the leg was given to DB silently, as if
    known. Worked out by hand:
    - L1 (09-05, desk number): DA is the user's only phone then: clear.
    - L2 (09-20, N_A): DA by its number: clear.
    - L3 (09-20, desk number): DA and DB both Online, neither's number: DB, ambiguous
      (2 tied devices).
    - L4 (10-12, desk number): DA Offline, DB Online: DB, clear."""
    w = World()
    for dev, num, day in (("DA", N_A, "01"), ("DB", N_B, "10")):
        w.event(f"2026-09-{day}T09:00:00Z", dev, "PROVISIONED", user(1), num)
        w.event(f"2026-09-{day}T10:00:00Z", dev, "ACTIVATED", user(1), num)
    w.snapshot("2026-10-10T06:00:00Z", "DA", user(1), N_A, status="OFFLINE")
    w.snapshot("2026-10-10T06:00:00Z", "DB", user(1), N_B)
    w.leg("dch_sep.csv", "L1", "2026-09-05T10:00:00Z", user(1), DESK, 60)
    w.leg("dch_sep.csv", "L2", "2026-09-20T10:00:00Z", user(1), N_A, 60)
    w.leg("dch_sep.csv", "L3", "2026-09-20T11:00:00Z", user(1), DESK, 60)
    w.leg(OCT, "L4", "2026-10-12T10:00:00Z", user(1), DESK, 60)
    con = w.build(tmp_path)

    assert records(
        con,
        "select report_id, device_id, is_device_ambiguous from fct_webex_go_calls "
        "order by report_id",
    ) == [
        {"report_id": "L1", "device_id": "DA", "is_device_ambiguous": False},
        {"report_id": "L2", "device_id": "DA", "is_device_ambiguous": False},
        {"report_id": "L3", "device_id": "DB", "is_device_ambiguous": True},
        {"report_id": "L4", "device_id": "DB", "is_device_ambiguous": False},
    ]
    # the user's key: DA alone from its provisioning, both Online from DB's activation,
    # DA Offline from the snapshot
    assert records(
        con,
        "select iso_utc(valid_from) as at, device_id, tied_device_count, is_ambiguous "
        "from fct_webex_go_device_choices "
        f"where match_key = 'u:{user(1)}' and valid_from >= '2026-09-10T10:00:00Z' "
        "order by valid_from",
    ) == [
        {
            "at": "2026-09-10T10:00:00Z",
            "device_id": "DB",
            "tied_device_count": 2,
            "is_ambiguous": True,
        },
        {
            "at": "2026-10-10T06:00:00Z",
            "device_id": "DB",
            "tied_device_count": 1,
            "is_ambiguous": False,
        },
    ]


def test_two_phones_sharing_the_users_number_are_ambiguous_by_number_too(
    tmp_path: Path,
) -> None:
    """BYOD phones carry the user's business number: DA and DB both have N_A, both Online
    from 2026-09-10 10:00Z. The leg's number matches both (the `b:` key), so L1 (09-20)
    goes to DB, the newer, flagged; L0 (09-05, DA alone) is clear."""
    w = World()
    for dev, day in (("DA", "01"), ("DB", "10")):
        w.event(f"2026-09-{day}T09:00:00Z", dev, "PROVISIONED", user(1), N_A)
        w.event(f"2026-09-{day}T10:00:00Z", dev, "ACTIVATED", user(1), N_A)
    w.leg("dch_sep.csv", "L0", "2026-09-05T10:00:00Z", user(1), N_A, 60)
    w.leg("dch_sep.csv", "L1", "2026-09-20T10:00:00Z", user(1), N_A, 60)
    con = w.build(tmp_path)
    assert records(
        con,
        "select report_id, device_id, is_device_ambiguous from fct_webex_go_leg_devices "
        "order by report_id",
    ) == [
        {"report_id": "L0", "device_id": "DA", "is_device_ambiguous": False},
        {"report_id": "L1", "device_id": "DB", "is_device_ambiguous": True},
    ]
