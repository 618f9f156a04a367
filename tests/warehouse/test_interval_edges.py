"""Hand-computed expectations at interval edges, on a tiny hand-built input set that goes
through the real pipeline (ingest -> Parquet -> build -> views).

The world (reporting time zone UTC):
  D1 (BYOD, user U1, +15550001, Sub-1): provisioned 2026-09-10 10:00, activated 09-12 12:00,
     Lost/Stolen 09-15 09:00 (new code), replacement activated 09-18 15:00, deleted
     10-05 12:00. Snapshots 09-20 ONLINE and 09-25 OFFLINE, nothing in between (a gap).
  D2 (BYOD, user U3, Sub-2): provisioned 06-01, code expiring 06-08, never activated.
  U2 has no Webex Go device.
Every expected value below was worked out by hand from these facts.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse, connect
from tests.devices.helpers import EVENT_HEADER, SNAPSHOT_HEADER
from tests.warehouse.finance_world import World, records, user

ORG = "00000000-0000-4000-8000-000000000000"
U1, U2, U3 = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
D1, D2 = "DEVICE-1", "DEVICE-2"

D1_ATTRS = f"{U1},,u1@example.com,BYOD,+15550001,1001,HQ,Dept-A,Sub-1"
D2_ATTRS = f"{U3},,u3@example.com,BYOD,+15550003,1003,Branch,Dept-B,Sub-2"
SNAPSHOTS = "\n".join(
    [
        SNAPSHOT_HEADER,
        f"2026-09-20T06:00:00Z,{ORG},{D1},{D1_ATTRS},ONLINE,ACTIVATED,ESIM",
        f"2026-09-25T06:00:00Z,{ORG},{D1},{D1_ATTRS},OFFLINE,DEACTIVATED,ESIM",
        f"2026-09-20T06:00:00Z,{ORG},{D2},{D2_ATTRS},PENDING_ACTIVATION,ACTIVATING,ESIM",
        # each snapshot lists every device of the org (a device it leaves out is unlisted)
        f"2026-09-25T06:00:00Z,{ORG},{D2},{D2_ATTRS},PENDING_ACTIVATION,ACTIVATING,ESIM",
    ]
)


def _event(t: str, device: str, kind: str, user: str, expires: str = "") -> str:
    sub, number = ("Sub-1", "+15550001") if device == D1 else ("Sub-2", "+15550003")
    return f"{t},{ORG},{device},{kind},{user},,admin,{expires},BYOD,{sub},{number},"


EVENTS = "\n".join(
    [
        EVENT_HEADER,
        _event("2026-09-10T10:00:00.000Z", D1, "PROVISIONED", U1),
        _event(
            "2026-09-10T10:00:01.000Z", D1, "ACTIVATION_CODE_ISSUED", U1, "2026-12-09T10:00:01Z"
        ),
        _event("2026-09-12T12:00:00.000Z", D1, "ACTIVATED", U1),
        _event("2026-09-15T09:00:00.000Z", D1, "LOST_STOLEN", U1),
        _event(
            "2026-09-15T09:00:01.000Z", D1, "ACTIVATION_CODE_ISSUED", U1, "2026-12-14T09:00:01Z"
        ),
        _event("2026-09-18T15:00:00.000Z", D1, "ACTIVATED", U1),
        _event("2026-10-05T12:00:00.000Z", D1, "DELETED", U1),
        _event("2026-06-01T08:00:00.000Z", D2, "PROVISIONED", U3),
        _event(
            "2026-06-01T08:00:01.000Z", D2, "ACTIVATION_CODE_ISSUED", U3, "2026-06-08T08:00:01Z"
        ),
    ]
)
ENTITLEMENTS = """subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency
Sub-1,Webex Go (Bring Your Own Device),3,2026-01-01,,10.00,USD
Sub-2,Webex Go (Bring Your Own Device),1,2026-01-01,,10.00,USD
"""
CALL_HEADER = (
    "Report ID,Report time,Start time,Answer time,Release time,Duration,Answered,Direction,"
    "Call type,Client type,Sub client type,User UUID,User number,Org UUID,Location,"
    "Site timezone,Correlation ID,Local call ID,Remote call ID,Called number"
)


def _leg(rid: str, start: str, user: str, number: str, seconds: int, go: bool = True) -> str:
    sub = "MOBILE_NETWORK" if go else ""
    client = "SIP" if go else "WXC_CLIENT"
    return (
        f"{rid},{start},{start},{start},{start},{seconds},true,ORIGINATING,SIP_NATIONAL,"
        f"{client},{sub},{user},{number},{ORG},HQ,-300,corr-{rid},{rid}:0,{rid}:1,+15559999"
    )


CALLS = "\n".join(
    [
        CALL_HEADER,
        _leg("L0", "2026-09-12T11:59:59.000Z", U1, "+15550001", 60),  # 1 s before activation
        _leg("L1", "2026-09-12T12:00:00.000Z", U1, "+15550001", 120),  # exactly at it
        _leg("L2", "2026-09-16T10:00:00.000Z", U1, "+15550001", 60),  # after Lost/Stolen
        _leg("L3", "2026-09-23T10:00:00.000Z", U1, "+15550001", 300),  # snapshot gap
        _leg("L4", "2026-10-06T10:00:00.000Z", U1, "+15550001", 60),  # after deletion
        _leg("L5", "2026-09-20T10:00:00.000Z", U2, "+15550002", 60),  # no device
        _leg("L6", "2026-09-21T10:00:00.000Z", U1, "+15550001", 60, go=False),  # desk client
    ]
)


@pytest.fixture(scope="module")
def edge_wh(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("edges")
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "device_snapshots.csv").write_text(SNAPSHOTS + "\n")
    (inputs / "activation_events.csv").write_text(EVENTS + "\n")
    (inputs / "entitlements.csv").write_text(ENTITLEMENTS)
    (inputs / "calls.csv").write_text(CALLS + "\n")
    settings = Settings(warehouse=root / "wh")
    result = ingest_paths(settings, [inputs])
    assert result.exit_code == 0, [f.message for f in result.files]
    build_warehouse(settings)
    return settings


def _go_calls(settings: Settings) -> dict[str, dict[str, object]]:
    con = connect(settings)
    try:
        cur = con.execute(
            "select report_id, device_id, device_status, code_state, anomaly_type "
            "from fct_webex_go_calls"
        )
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


def test_call_exactly_at_a_status_change(edge_wh: Settings) -> None:
    calls = _go_calls(edge_wh)
    # One second before activation: still pending, its code outstanding -> anomaly.
    assert calls["L0"]["device_status"] == "PENDING_ACTIVATION"
    assert calls["L0"]["code_state"] == "outstanding"
    assert calls["L0"]["anomaly_type"] == "device_pending"
    # At the instant of activation the new status already holds (intervals are [from, to)).
    assert calls["L1"]["device_id"] == D1
    assert calls["L1"]["device_status"] == "ONLINE"
    assert calls["L1"]["code_state"] == "consumed"
    assert calls["L1"]["anomaly_type"] is None


def test_call_after_lost_stolen_and_after_deletion(edge_wh: Settings) -> None:
    calls = _go_calls(edge_wh)
    assert calls["L2"]["anomaly_type"] == "old_device_after_lost_stolen"
    assert calls["L2"]["device_status"] == "PENDING_ACTIVATION"
    assert calls["L4"]["device_id"] == D1
    assert calls["L4"]["anomaly_type"] == "device_deleted"
    assert calls["L5"]["device_id"] is None
    assert calls["L5"]["anomaly_type"] == "no_device"
    assert "L6" not in calls  # not a Webex Go leg


def test_call_in_a_gap_between_snapshots(edge_wh: Settings) -> None:
    # Snapshots 09-20 ONLINE and 09-25 OFFLINE: on 09-23 the last known status (ONLINE) holds.
    calls = _go_calls(edge_wh)
    assert calls["L3"]["device_status"] == "ONLINE"
    assert calls["L3"]["anomaly_type"] is None


def test_licence_days_across_month_boundary_with_lost_stolen(edge_wh: Settings) -> None:
    con = connect(edge_wh)
    try:
        cur = con.execute(
            "select month, licences_held_peak, licences_held_month_end, licence_days, "
            "devices_held, devices_activated, devices_used, devices_idle, "
            "devices_never_activated, webex_go_calls, webex_go_minutes "
            "from rpt_licence_usage_monthly where subscription_id = 'Sub-1' order by month"
        )
        rows = cur.fetchall()
        days = con.execute(
            "select min(licence_day), max(licence_day), count(*) from fct_licence_days "
            "where device_id = $d",
            {"d": D1},
        ).fetchone()
        rec = con.execute(
            "select month, entitled_units, consumed_peak, variance_units, idle_licences, "
            "idle_cost from rpt_licence_reconciliation where subscription_id = 'Sub-1' "
            "order by month"
        ).fetchall()
    finally:
        con.close()
    # Held from 09-10 (provisioning day counts) to 10-05 (deletion day counts): 21 + 5 days.
    # Lost/Stolen on 09-15 keeps the same licence: the peak stays 1, no day is doubled.
    assert days == (date(2026, 9, 10), date(2026, 10, 5), 26)
    # The call file declares no date range: it covers its first..last start day, 09-12..10-06,
    # so neither month has call data for every day: the idle and never-activated counts are
    # unknown (NULL).
    september = (date(2026, 9, 1), 1, 1, 21, 1, 1, 1, None, None, 4, 9.0)  # L0+L1+L2+L3 = 540 s
    october = (date(2026, 10, 1), 1, 0, 5, 1, 1, 0, None, None, 0, 0.0)  # deleted 10-05; L4 after
    assert rows == [september, october]
    # June-August: Sub-1 had its entitlement in force but nothing held (D2 brings those months).
    assert rec == [
        (date(2026, 6, 1), 3, 0, 3, None, None),
        (date(2026, 7, 1), 3, 0, 3, None, None),
        (date(2026, 8, 1), 3, 0, 3, None, None),
        (date(2026, 9, 1), 3, 1, 2, None, None),
        (date(2026, 10, 1), 3, 1, 2, None, None),
    ]


def test_reclaim_never_activated_with_expired_code(edge_wh: Settings) -> None:
    con = connect(edge_wh)
    try:
        rows = con.execute("select device_id, reason from rpt_reclaim_candidates").fetchall()
    finally:
        con.close()
    # D1 is deleted (holds nothing); D2's code expired on 06-08 and it was never activated.
    assert rows == [(D2, "never_activated_code_expired")]


def test_a_licence_day_ends_at_the_first_of_two_midnights(tmp_path: Path) -> None:
    """Atlantic/Azores shows 00:00 of 2026-10-25 twice (00:00Z, then 01:00Z after the clocks
    go back): a device deleted at 00:30Z, 00:30 of the 25th, was held at the end of the 24th
    (DuckDB ended the day at the second midnight; Spark at the first)."""
    w = World()
    w.event("2026-10-20T12:00:00Z", "Z1", "PROVISIONED", user(1), "+15550001")
    w.event("2026-10-25T00:30:00Z", "Z1", "DELETED", user(1), "+15550001")
    con = w.build(tmp_path, reporting_timezone="Atlantic/Azores")
    days = records(
        con,
        "select licence_day, is_held_at_day_end from fct_licence_days "
        "where licence_day >= '2026-10-24' order by 1",
    )
    assert [(str(d["licence_day"]), d["is_held_at_day_end"]) for d in days] == [
        ("2026-10-24", True),
        ("2026-10-25", False),
    ]
