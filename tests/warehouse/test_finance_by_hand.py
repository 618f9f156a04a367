"""Finance figures of small worlds worked out by hand by the finance probe: a Mobile device
whose number changes mid-month (reporting time zone UTC unless a test says otherwise)."""

from __future__ import annotations

from pathlib import Path

from tests.warehouse.finance_world import MOBILE, World, records, user

U1, U9 = user(1), user(9)
SEPT_FILE = "calls_2026-09-01_2026-10-01.csv"


def test_a_mobile_device_activated_before_its_number_changed_activates_both_numbers(
    tmp_path: Path,
) -> None:
    """M1, activated in August on +1000, shows +2000 from the 09-16 snapshot on: September
    has two units (the numbers), +1000 on 16 days and +2000 on 15, never both at once. The
    phone that held each was activated while it held it, so with no Webex Go call both are
    idle: 2 idle, 0 never activated (the device counted its activation for one unit only,
    picked at random)."""
    w = World()
    kw = {"deployment": "MOBILE_OPERATOR"}
    w.event("2026-08-20T00:00:00Z", "M1", "PROVISIONED", U1, "+15551000", **kw)
    w.event("2026-08-21T00:00:00Z", "M1", "ACTIVATED", U1, "+15551000", **kw)
    w.snapshot("2026-09-01T06:00:00Z", "M1", U1, "+15551000", **kw)
    w.snapshot("2026-09-16T06:00:00Z", "M1", U1, "+15552000", **kw)
    w.snapshot("2026-10-01T06:00:00Z", "M1", U1, "+15552000", **kw)
    w.entitlements.append(f"Sub-1,{MOBILE},2,2026-01-01,,20,USD")
    w.leg(SEPT_FILE, "DESK", "2026-09-15T10:00:00Z", U9, "+15559", 30, go=False)
    con = w.build(tmp_path)
    usage = records(
        con,
        "select licences_held_peak, licence_days, devices_held, devices_idle, licences_used, "
        "licences_idle, licences_never_activated from rpt_licence_usage_monthly "
        "where month = date '2026-09-01'",
    )
    assert usage == [
        {
            "licences_held_peak": 1,
            "licence_days": 31,
            "devices_held": 1,
            "devices_idle": 1,
            "licences_used": 0,
            "licences_idle": 2,
            "licences_never_activated": 0,
        }
    ]
    recon = records(
        con,
        "select consumed_peak, idle_licences, idle_cost from rpt_licence_reconciliation "
        "where month = date '2026-09-01'",
    )
    assert recon == [{"consumed_peak": 1, "idle_licences": 2, "idle_cost": 40.0}]
