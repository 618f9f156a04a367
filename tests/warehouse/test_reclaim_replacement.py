"""A Webex Go phone reported Lost/Stolen and then replaced: the replacement, activated on
the new phone, is the line in use again, and the reclaim list counts idle days from it, not
from the last call the lost phone made (hand-worked figures in each test)."""

from __future__ import annotations

from pathlib import Path

from tests.warehouse.finance_world import World, records, user

U1, U2 = user(1), user(2)


def test_idle_days_count_from_the_replacement_phone_activated_after_a_lost_stolen(
    tmp_path: Path,
) -> None:
    """D1 and D2: activated 06-01, a Webex Go call each on 07-01 12:00, Lost/Stolen on
    09-20 12:00. D1's replacement is activated on 10-18 12:00 (an ACTIVATED event), D2's
    seen Online from the snapshot of 10-20 12:00 (the user activates it on the phone; no
    event). Horizon 11-01 06:00, idle_days 10. From the old phones' last calls both were
    idle 122 days (11-01 06:00 - 07-01 12:00 = 122 d 18 h), offered back though their new
    phones were set up two weeks before. From the replacement: D1 11-01 06:00 - 10-18 12:00
    = 13 d 18 h, 13 days; D2 11-01 06:00 - 10-20 12:00 = 11 d 18 h, 11 days."""
    w = World()
    for device, uid, number in (("D1", U1, "+15550001"), ("D2", U2, "+15550002")):
        w.event("2026-06-01T06:00:00Z", device, "PROVISIONED", uid, number)
        w.event("2026-06-01T07:00:00Z", device, "ACTIVATED", uid, number)
        w.leg(
            "calls_2026-07-01_2026-07-02.csv", f"q{device}", "2026-07-01T12:00:00Z", uid, number, 60
        )
        w.event("2026-09-20T12:00:00Z", device, "LOST_STOLEN", uid, number)
    w.event("2026-10-18T12:00:00Z", "D1", "ACTIVATED", U1, "+15550001")
    for time in ("2026-10-20T12:00:00Z", "2026-11-01T06:00:00Z"):
        w.snapshot(time, "D1", U1, "+15550001")
        w.snapshot(time, "D2", U2, "+15550002")
    con = w.build(tmp_path, idle_days=10)
    rows = records(
        con,
        "select device_id, reason, since, days_since from rpt_reclaim_candidates order by 1",
    )
    assert [
        (r["device_id"], r["reason"], f"{r['since']:%m-%d %H:%M}", r["days_since"]) for r in rows
    ] == [
        ("D1", "idle", "10-18 12:00", 13),
        ("D2", "idle", "10-20 12:00", 11),
    ]
