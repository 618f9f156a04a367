"""Finance rules of the licence reports, each on a hand-written world whose expected figures
were worked out by hand (reporting time zone UTC unless a test says otherwise)."""

from __future__ import annotations

from pathlib import Path

from tests.warehouse.finance_world import World, records, user

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
