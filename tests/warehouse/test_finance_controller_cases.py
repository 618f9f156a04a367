"""Cases a finance controller checks by hand, loaded with `cdr ingest` and `cdr build` from
small files and read from the built `cdr.duckdb` (round 5 of the finance probe).

Reporting time zone America/Chicago (CDT, UTC-5, all of September and October 2026):
September is [09-01T05:00Z, 10-01T05:00Z), October [10-01T05:00Z, 11-01T05:00Z). Device
data up to the snapshot of 2026-11-01T12:00Z, which lists every device not deleted. One
call export, `calls_2026-09-01_2026-10-02.csv`: UTC days 09-01 to 10-01, so every Chicago
day of September is covered (09-30 ends at 10-01T05:00Z) and no day of October is (10-01
ends at 10-02T05:00Z, after the export): September `full`, October `none`.

Each subscription is one case (BYOD, 10.00 USD a unit unless said otherwise):
- Sub-T, 5 units: T-late provisioned and activated 2026-10-01T04:30Z, 23:30 on September
  30 in Chicago, calls at 23:45 (10-01T04:45Z); T-early, held since August, deleted
  2026-10-01T05:30Z, 00:30 on October 1.
- Sub-S, 1 unit: S1 deleted 2026-09-15T17:00Z, the instant S2 is provisioned; S2 calls.
- Sub-L, 1 unit: L1 Lost/Stolen 09-10, a new code issued, activated again 09-12; calls 09-20.
- Sub-A, 2 units from 09-25 (after its phone's last call): E1 held all month, calls 09-05
  (the month's first call), and never again.
- Sub-B, 2 units to 09-04 (before the month's first call): E2 held all month, no call.
- Sub-C, 2 units from 09-25, and Sub-D, 2 units to 09-04: no phone at all.
- Sub-P, 3 units at 10.00 to 09-14, then 3 at 12.00 from 09-15: P1 and P2 held, no call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.reports.finance import finance_summary
from tests.warehouse.finance_world import BYOD, World, user

TZ = "America/Chicago"
SEPT, OCT = "2026-09-01", "2026-10-01"
HELD = ("E1", "E2", "L1", "P1", "P2", "S2", "T-late")
"""Devices the horizon's snapshot lists (T-early and S1 are deleted)."""


def _world() -> World:
    w = World()
    uid = {d: user(i + 1) for i, d in enumerate((*HELD, "T-early", "S1"))}
    number = {d: f"+1312555{i:04d}" for i, d in enumerate(uid)}
    sub = {"T": "Sub-T", "S": "Sub-S", "L": "Sub-L", "P": "Sub-P"}

    def ev(at: str, device: str, kind: str) -> None:
        subscription = {"E1": "Sub-A", "E2": "Sub-B"}.get(device) or sub[device[0]]
        w.event(at, device, kind, uid[device], number[device], subscription=subscription)

    for device in ("T-early", "S1", "L1", "E1", "E2", "P1", "P2"):
        ev("2026-08-15T12:00:00Z", device, "PROVISIONED")
        ev("2026-08-16T12:00:00Z", device, "ACTIVATED")
    ev("2026-10-01T04:30:00Z", "T-late", "PROVISIONED")
    ev("2026-10-01T04:31:00Z", "T-late", "ACTIVATED")
    ev("2026-10-01T05:30:00Z", "T-early", "DELETED")
    ev("2026-09-15T17:00:00Z", "S1", "DELETED")
    ev("2026-09-15T17:00:00Z", "S2", "PROVISIONED")
    ev("2026-09-15T17:05:00Z", "S2", "ACTIVATED")
    ev("2026-09-10T15:00:00Z", "L1", "LOST_STOLEN")
    ev("2026-09-10T15:00:01Z", "L1", "ACTIVATION_CODE_ISSUED")
    ev("2026-09-12T15:00:00Z", "L1", "ACTIVATED")
    for device in HELD:
        subscription = {"E1": "Sub-A", "E2": "Sub-B"}.get(device) or sub[device[0]]
        w.snapshot(
            "2026-11-01T12:00:00Z", device, uid[device], number[device], subscription=subscription
        )
    w.entitlements += [
        f"Sub-T,{BYOD},5,2026-01-01,,10.00,USD",
        f"Sub-S,{BYOD},1,2026-01-01,,10.00,USD",
        f"Sub-L,{BYOD},1,2026-01-01,,10.00,USD",
        f"Sub-A,{BYOD},2,2026-09-25,,10.00,USD",
        f"Sub-B,{BYOD},2,2026-01-01,2026-09-04,10.00,USD",
        f"Sub-C,{BYOD},2,2026-09-25,,10.00,USD",
        f"Sub-D,{BYOD},2,2026-01-01,2026-09-04,10.00,USD",
        f"Sub-P,{BYOD},3,2026-01-01,2026-09-14,10.00,USD",
        f"Sub-P,{BYOD},3,2026-09-15,,12.00,USD",
    ]
    calls = "calls_2026-09-01_2026-10-02.csv"
    w.leg(calls, "C-E1", "2026-09-05T15:00:00Z", uid["E1"], number["E1"], 60)
    # 23:45 on September 30 in Chicago, October 1 in UTC (and in the export's last UTC day)
    w.leg(calls, "C-T", "2026-10-01T04:45:00Z", uid["T-late"], number["T-late"], 60)
    w.leg(calls, "C-S2", "2026-09-20T15:00:00Z", uid["S2"], number["S2"], 60)
    w.leg(calls, "C-L1", "2026-09-20T16:00:00Z", uid["L1"], number["L1"], 60)
    return w


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world written as files, `cdr ingest`ed and `cdr build`t in Chicago time."""
    root = tmp_path_factory.mktemp("controller")
    inputs = _world().write(root / "inputs")
    config = root / "cdr.toml"
    config.write_text(f'reporting_timezone = "{TZ}"\n', encoding="utf-8")
    base = ["--config", str(config), "--warehouse", str(root / "wh")]
    for args in (["ingest", str(inputs)], ["build"]):
        res = CliRunner().invoke(cli, [*base, *args])
        assert res.exit_code == 0, res.output
    return root / "wh" / "cdr.duckdb"


def _rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


RECON = (
    "entitled_units, entitled_month_end, consumed_peak, consumed_month_end, licence_days, "
    "variance_units, licences_used, idle_licences, unit_price, idle_cost, status, "
    "unassigned_units, unassigned_cost"
)


def _recon(warehouse: Path, month: str, subscription: str) -> dict[str, Any]:
    rows = _rows(
        warehouse,
        f"select {RECON} from rpt_licence_reconciliation "
        f"where month = date '{month}' and subscription_id = '{subscription}'",
    )
    assert len(rows) == 1, rows
    return rows[0]


def _figures(*values: Any) -> dict[str, Any]:
    return dict(zip([c.strip() for c in RECON.split(",")], values, strict=True))


def test_a_holding_begun_or_ended_near_midnight_is_in_the_reporting_zones_month(
    warehouse: Path,
) -> None:
    """T-late, from 23:30 on September 30 in Chicago (10-01T04:30Z, October in UTC), is held
    in September; T-early, deleted at 00:30 on October 1 (10-01T05:30Z), is held at
    September's end and for half an hour of October. T-late's call at 23:45 local is use
    in September."""
    # September: T-early every day (30) + T-late on 09-30 (1) = 31 licence-days; both held
    # from 04:30Z to the month's end at 05:00Z: peak 2, month end 2. T-late used (04:45Z),
    # T-early activated in August and never called: 1 idle x 10.00 = 10.00; 5 bought,
    # 5 - 2 = 3 unassigned x 10.00 = 30.00; peak 2 < 5: under.
    assert _recon(warehouse, SEPT, "Sub-T") == _figures(
        5, 5, 2, 2, 31, 3, 1, 1, 10.0, 10.0, "under", 3, 30.0
    )
    # October: T-early on 10-01 (1) + T-late every day (31) = 32; both held 05:00Z-05:30Z:
    # peak 2, month end 1 (T-late). No call data for October: idle unknown, and the status
    # no_call_data (2 held never exceeds 5 bought, so not over); 5 - 1 = 4 unassigned = 40.00.
    assert _recon(warehouse, OCT, "Sub-T") == _figures(
        5, 5, 2, 1, 32, 3, 0, None, 10.0, None, "no_call_data", 4, 40.0
    )
    days = _rows(
        warehouse,
        "select device_id, min(licence_day) as first_day, max(licence_day) as last_day "
        "from fct_licence_days where device_id in ('T-late', 'T-early') group by all "
        "order by device_id",
    )
    assert [(d["device_id"], f"{d['first_day']}", f"{d['last_day']}") for d in days] == [
        ("T-early", "2026-08-15", "2026-10-01"),
        ("T-late", "2026-09-30", "2026-11-01"),
    ]


def test_a_phone_deleted_at_the_instant_its_replacement_is_provisioned_is_one_unit_at_peak(
    warehouse: Path,
) -> None:
    """S1 deleted at 09-15T17:00Z, S2 provisioned then: holdings are [from, to), never both
    held, so the peak is 1, against 1 bought: matched, not over."""
    # S1 holds 09-01..09-15 (15 licence-days), S2 09-15..09-30 (16): 31, the 15th counted
    # for each. Two units (two BYOD phones): S2 called (used), S1 idle: 1 x 10.00.
    assert _recon(warehouse, SEPT, "Sub-S") == _figures(
        1, 1, 1, 1, 31, 0, 1, 1, 10.0, 10.0, "matched", 0, 0.0
    )
    # the usage report has the two phones in two groups (S1, deleted before any snapshot,
    # has no location or department): 15 + 16 licence-days, one device each
    usage = _rows(
        warehouse,
        "select sum(devices_held) as devices, sum(licence_days) as days "
        f"from rpt_licence_usage_monthly where month = date '{SEPT}' and subscription_id = 'Sub-S'",
    )
    assert usage == [{"devices": 2, "days": 31}]
    # the org: 8 phones held at once from 23:30 on 09-30 (T-early, T-late, S2, L1, E1, E2,
    # P1, P2); S1 never beside S2, or it would be 9
    peak = _rows(
        warehouse,
        f"select licences_held_peak from rpt_licence_peak_monthly where month = date '{SEPT}'",
    )
    assert peak == [{"licences_held_peak": 8}]
    # the summary's headline, bought first: at September's end T 5 + S 1 + L 1 + A 2 + B 0
    # (ended 09-04) + C 2 + D 0 + P 3 = 14 bought, against those 8 held at the peak
    settings = Settings(warehouse=warehouse.parent, reporting_timezone=TZ)
    page = " ".join(finance_summary(settings, "2026-09")[0].split())
    assert "<b>14 / 8</b><span>licences bought / held (peak)</span>" in page


def test_a_lost_phone_activated_again_with_a_new_code_keeps_one_licence(warehouse: Path) -> None:
    """L1 Lost/Stolen on 09-10, a new code, activated again on 09-12: one device, one unit,
    held all month, used on 09-20; no reclaim candidate as lost and not re-activated (idle,
    it is: 09-20 to the horizon, 11-01, is over the 30 days of `idle_days`)."""
    # 30 licence-days, peak and month end 1 against 1 bought: matched, used, none idle.
    assert _recon(warehouse, SEPT, "Sub-L") == _figures(
        1, 1, 1, 1, 30, 0, 1, 0, 10.0, 0.0, "matched", 0, 0.0
    )
    reclaim = _rows(warehouse, "select reason from rpt_reclaim_candidates where device_id = 'L1'")
    assert reclaim == [{"reason": "idle"}]


def test_entitlements_starting_after_the_calls_or_ending_before_them(
    warehouse: Path,
) -> None:
    """Sub-A bought from 09-25 (after its phone's last call, 09-05), Sub-B to 09-04 (before
    September's first call, 09-05), each holding one phone all month: the status is the
    first that applies, and calls do not enter it."""
    # Sub-A, September: 1 held 09-01..09-24 with nothing in force those days: over (the
    # first that applies), though 2 are bought at month end (variance 2 - 1 = +1). E1's
    # call on 09-05 (10:00 in Chicago) is use while held: 0 idle. 2 - 1 = 1 unassigned.
    assert _recon(warehouse, SEPT, "Sub-A") == _figures(
        2, 2, 1, 1, 30, 1, 1, 0, 10.0, 0.0, "over", 1, 10.0
    )
    # Sub-A, October: 1 held against 2 every day, no call data: no_call_data (not under).
    assert _recon(warehouse, OCT, "Sub-A") == _figures(
        2, 2, 1, 1, 31, 1, 0, None, 10.0, None, "no_call_data", 1, 10.0
    )
    # Sub-B, September: read on 09-04, its last day in force (2 bought, 0 at month end);
    # 1 held from 09-05 with nothing in force: over. E2 idle: 1 x 10.00; 0 unassigned.
    assert _recon(warehouse, SEPT, "Sub-B") == _figures(
        2, 0, 1, 1, 30, 1, 0, 1, 10.0, 10.0, "over", 0, 0.0
    )
    # Sub-B, October: nothing in force on any day, so not over; no call data, which comes
    # before no_entitlement: no_call_data. Nothing bought, no price, no cost.
    assert _recon(warehouse, OCT, "Sub-B") == _figures(
        0, 0, 1, 1, 31, -1, 0, None, None, None, "no_call_data", 0, None
    )
    # the summary's note on it: its entitlement was loaded, and ended in September
    settings = Settings(warehouse=warehouse.parent, reporting_timezone=TZ)
    page = " ".join(finance_summary(settings, "2026-10")[0].split())
    assert (
        "1 subscription row(s) hold licences with no entitlement in force on any day of the "
        "month (1 held at peak, idle unknown)"
    ) in page
    assert "no entitlement loaded" not in page


def test_entitlements_before_or_after_the_calls_without_a_phone(warehouse: Path) -> None:
    """Sub-C bought from 09-25 and Sub-D to 09-04, neither holding a phone: nothing is ever
    held beyond what is bought, so `under`, and no_call_data in October."""
    # Sub-C, September: 2 bought at month end, 0 held: under; 2 unassigned x 10.00 = 20.00.
    assert _recon(warehouse, SEPT, "Sub-C") == _figures(
        2, 2, 0, 0, 0, 2, 0, 0, 10.0, 0.0, "under", 2, 20.0
    )
    assert _recon(warehouse, OCT, "Sub-C") == _figures(
        2, 2, 0, 0, 0, 2, 0, None, 10.0, None, "no_call_data", 2, 20.0
    )
    # Sub-D, September: read on 09-04 (2), 0 at month end: under, and nothing unassigned at
    # month end (bought and not held "at month end": 0 - 0); no row in October at all.
    assert _recon(warehouse, SEPT, "Sub-D") == _figures(
        2, 0, 0, 0, 0, 2, 0, 0, 10.0, 0.0, "under", 0, 0.0
    )
    october = _rows(
        warehouse,
        f"select 1 from rpt_licence_reconciliation where month = date '{OCT}' "
        "and subscription_id = 'Sub-D'",
    )
    assert october == []


def test_a_price_change_on_the_15th_prices_the_month_at_the_new_price(warehouse: Path) -> None:
    """Sub-P: 3 units at 10.00 to 09-14, 3 at 12.00 from 09-15 (one subscription, two rows
    that do not overlap): the month is priced at the row in force on its last day."""
    # 3 bought, P1 and P2 held all month (60 licence-days), neither called: 2 idle x 12.00
    # = 24.00, 3 - 2 = 1 unassigned x 12.00 = 12.00; peak 2 < 3: under (never 6 bought).
    assert _recon(warehouse, SEPT, "Sub-P") == _figures(
        3, 3, 2, 2, 60, 1, 0, 2, 12.0, 24.0, "under", 1, 12.0
    )
