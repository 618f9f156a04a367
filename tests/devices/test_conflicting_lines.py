"""Lines of one device file that name one record and say other things of it: one device at
one snapshot time with two statuses, one event id with two times or statuses. The table
keeps one row of a key, so the later line won, counted as a duplicate, and the other's
status went nowhere with nothing said. Both lines are now quarantined (`conflicting_lines`)
naming each other and what differs, whatever the chunk size; the same line twice is still
one row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.devices.helpers import EVENT_HEADER, ORG, SNAPSHOT_HEADER, ingest, write_csv

U1 = "aaaaaaaa-0000-4000-8000-000000000001"


def _rejects(warehouse: Path) -> pl.DataFrame:
    files = sorted((warehouse / "rejects").rglob("*.parquet"))
    return pl.read_parquet(files).sort("source_row")


def _snap(device: str, status: str, t: str = "2026-09-01T06:00:00Z") -> str:
    return f"{t},{ORG},{device},{U1},,,BYOD,+13125550115,,,,Sub-1,{status},,ESIM"


@pytest.mark.parametrize("chunk_rows", [25_000, 1])
def test_one_device_twice_in_a_snapshot_with_other_statuses_is_quarantined(
    tmp_path: Path, chunk_rows: int
) -> None:
    src = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            _snap("D1", "ONLINE"),
            _snap("D2", "Online"),
            _snap("D1", "Offline"),
            _snap("D2", "ONLINE"),  # the same line, as spelled otherwise: a duplicate
            _snap("D1", "ONLINE", "2026-09-02T06:00:00Z"),  # another snapshot: no conflict
        ],
    )
    wh = tmp_path / "wh"
    (loaded,) = ingest(wh, src, max_reject_rate=1.0, chunk_rows=chunk_rows).files
    got = pl.read_delta(str(wh / "tables" / "device_snapshots")).sort("device_id", "snapshot_time")
    assert got.select("device_id", "status").rows() == [("D1", "ONLINE"), ("D2", "ONLINE")]
    assert (loaded.rows_loaded, loaded.rows_duplicate, loaded.rows_rejected) == (2, 1, 2)
    bad = _rejects(wh)
    assert bad["source_row"].to_list() == [2, 4]
    assert set(bad["reason"]) == {"conflicting_lines"}
    assert bad["detail"][0].startswith(
        "lines 2, 4 name one device_id, snapshot_time with other status:"
    )


@pytest.mark.parametrize("chunk_rows", [25_000, 1])
def test_one_event_id_twice_with_other_values_is_quarantined(
    tmp_path: Path, chunk_rows: int
) -> None:
    def ev(event_id: str, t: str, kind: str, status: str = "") -> str:
        return f"{event_id},2026-08-0{t}Z,{ORG},D1,{kind},{U1},{status},admin,,BYOD,Sub-1,,"

    src = write_csv(
        tmp_path / "in" / "events.csv",
        "event_id," + EVENT_HEADER,
        [
            ev("e1", "1T10:00:00", "PROVISIONED"),
            ev("e2", "2T10:00:00", "STATUS_CHANGED", "ONLINE"),
            ev("e1", "1T10:00:00", "PROVISIONED"),  # the same line twice: one row
            ev("e2", "2T10:00:00", "STATUS_CHANGED", "OFFLINE"),
        ],
    )
    wh = tmp_path / "wh"
    (loaded,) = ingest(wh, src, max_reject_rate=1.0, chunk_rows=chunk_rows).files
    got = pl.read_delta(str(wh / "tables" / "device_events"))
    assert got["event_id"].to_list() == ["e1"]
    assert (loaded.rows_loaded, loaded.rows_duplicate, loaded.rows_rejected) == (1, 1, 2)
    bad = _rejects(wh)
    assert bad["source_row"].to_list() == [3, 5]
    assert bad["detail"][0].startswith("lines 3, 5 name one event_id with other status_after:")
    # without ids, two events of one device, type and instant are two events of one instant
    # (the later line wins, docs/inputs-devices.md#lifecycle-views): nothing is quarantined
    bare = write_csv(
        tmp_path / "in2" / "events.csv",
        EVENT_HEADER,
        [ev("", "2T10:00:00", "STATUS_CHANGED", s)[1:] for s in ("ONLINE", "OFFLINE")],
    )
    (second,) = ingest(tmp_path / "wh2", bare, chunk_rows=chunk_rows).files
    assert (second.rows_loaded, second.rows_rejected) == (1, 0)
    kept = pl.read_delta(str(tmp_path / "wh2" / "tables" / "device_events"))
    assert kept["status_after"].to_list() == ["OFFLINE"]


def test_a_snapshot_file_replacing_another_files_device_values_says_so(tmp_path: Path) -> None:
    """`cdr ingest devices/` with a device list and the same list read again under its time
    (`snap.csv` ONLINE, `snap (1).csv` OFFLINE): in name order the later read loaded first and
    the earlier one replaced it, both files `loaded` with nothing said. The file that replaces
    another file's values now says which, and a later run's amendment too (no personal value
    is named: notes are kept in the run ledger); the same values twice say nothing."""
    folder = tmp_path / "devices"
    write_csv(folder / "snap.csv", SNAPSHOT_HEADER, [_snap("D1", "ONLINE"), _snap("D2", "ONLINE")])
    write_csv(
        folder / "snap (1).csv", SNAPSHOT_HEADER, [_snap("D1", "OFFLINE"), _snap("D2", "ONLINE")]
    )
    wh = tmp_path / "wh"
    first, second = ingest(wh, folder).files
    assert not first.message
    assert "replaced 1 device snapshot row(s) an earlier file of this run" in second.message
    assert f"D1 2026-09-01 06:00:00+00:00: status 'OFFLINE' in {folder / 'snap (1).csv'}, " in (
        second.message
    )
    moved = _snap("D2", "ONLINE").replace("+13125550115", "+13125550199")
    later = write_csv(tmp_path / "later" / "snap.csv", SNAPSHOT_HEADER, [moved])
    (again,) = ingest(wh, later).files
    assert "amended 1 device snapshot row(s) an earlier run loaded" in again.message
    assert "D2 2026-09-01 06:00:00+00:00: other personal values" in again.message
    assert "+1312555" not in again.message
