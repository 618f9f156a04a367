"""An export delivered again after `cdr forget` (an overlapping download, a backfill) holds the
erased person's records raw: as the later load it won the deduplication and brought them back.
The records an erasure reached stay erased; a later version of a record, and a new record,
are new data and load."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy import forget
from cdr_pipeline.state import tables

GRACE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
HEADER = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Call type,Duration\n"
)
T = "2026-09-02T09:{:02d}:00Z"


def _leg(rid: str, reported: int, start: int, user: str, number: str, name: str) -> str:
    return (
        f"{rid},{T.format(reported)},{T.format(start)},ORIGINATING,c{rid},{user},{number},"
        f"{name},{number},+14155550111,SIP_NATIONAL,60\n"
    )


GRACE_LEG = _leg("r1", 50, 0, GRACE, "+13125550120", "Grace Muller")
BOB_LEG = _leg("r2", 50, 10, BOB, "+13125550199", "Bob Otherperson")
SNAPSHOTS = (
    "snapshot_time,org_uuid,device_id,user_uuid,user_email,deployment,phone_number,location\n"
    f"2026-09-02T06:00:00Z,org-1,dev-1,{GRACE},grace.muller@example.com,BYOD,+13125550120,HQ\n"
)


def _rows(settings: Settings, table: str, partition_by: str | None, columns: str) -> list[tuple]:
    """`columns` of the table's latest version, by the first."""
    snap = tables.snapshot(settings.layout.table(table), table, partition_by)
    con = duckdb.connect()
    try:
        sql = f"select {columns} from read_parquet(?, union_by_name = true) order by 1"
        return con.execute(sql, [[str(f) for f in snap.all_files()]]).fetchall()
    finally:
        con.close()


def test_a_redelivered_export_does_not_bring_an_erased_person_back(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    first, snaps = tmp_path / "first.csv", tmp_path / "snaps.csv"
    first.write_text(HEADER + GRACE_LEG + BOB_LEG, encoding="utf-8")
    snaps.write_text(SNAPSHOTS, encoding="utf-8")
    assert ingest_paths(settings, [first, snaps]).exit_code == 0
    forget(settings, user=GRACE)
    erased = _rows(settings, "call_legs", "call_date", "report_id, user_uuid, user_name")
    assert erased[0][0] == "r1" and GRACE not in erased[0]

    # the same records in a download cut otherwise (another file, the same two legs and
    # snapshot), with a later version of Bob's leg and a new call of Grace's
    again, snaps_again = tmp_path / "again.csv", tmp_path / "snaps_again.csv"
    bob_later = _leg("r2", 55, 10, BOB, "+13125550199", "Bob Otherperson")
    grace_new = _leg("r3", 59, 40, GRACE, "+13125550120", "Grace Muller")
    again.write_text(HEADER + GRACE_LEG + bob_later + grace_new, encoding="utf-8")
    snaps_again.write_text(SNAPSHOTS + SNAPSHOTS.splitlines()[1] + "\n", encoding="utf-8")
    result = ingest_paths(settings, [again, snaps_again])
    assert result.exit_code == 0, [f.message for f in result.errors]
    calls = next(f for f in result.files if f.path.endswith("again.csv") and "snaps" not in f.path)
    # r1 is a re-delivery of an erased record: counted, not loaded
    assert (calls.rows_read, calls.rows_loaded, calls.rows_duplicate) == (3, 2, 1)
    # and the file is named as holding what the erasure took out (it stays in the inbox)
    stays = "row(s) of records an erasure (cdr forget) reached came again and stay erased"
    assert f"1 {stays}" in calls.message
    devices = next(f for f in result.files if f.path.endswith("snaps_again.csv"))
    assert devices.rows_loaded == 0 and devices.rows_duplicate == 2
    assert f"2 {stays}" in devices.message  # the snapshot's line, twice

    legs = _rows(settings, "call_legs", "call_date", "report_id, user_uuid, user_name")
    assert legs[0] == erased[0]  # still the tokens the erasure left
    assert legs[1] == ("r2", BOB, "Bob Otherperson")
    assert legs[2] == ("r3", GRACE, "Grace Muller")  # a call after the erasure is new data
    (snapshot,) = _rows(settings, "device_snapshots", "snapshot_month", "user_uuid, user_email")
    assert GRACE not in snapshot and "grace.muller@example.com" not in snapshot
