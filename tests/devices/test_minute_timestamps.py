"""ISO-8601 lets a time stop at the minute (`2026-09-01T06:00Z`), and a spreadsheet in an
ISO-date locale saves a snapshot time as `2026-09-01 06:00`: both are the instant they write,
not a bad timestamp that fails the file on its reject rate."""

from __future__ import annotations

from pathlib import Path

from tests.devices.helpers import ORG, SNAPSHOT_HEADER, ingest, rows, views, write_csv


def test_a_time_without_seconds_is_read_to_the_minute(tmp_path: Path) -> None:
    written = [
        ("D1", "2026-09-01T06:00Z"),
        ("D2", "2026-09-01 06:00"),
        ("D3", "2026-09-01T02:00-04:00"),
        ("D4", "2026-09-01 11:30 +05:30"),
        # a spreadsheet in a Japanese or Hungarian locale writes the date year first
        ("D5", "2026/09/01 06:00"),
        ("D6", "2026/9/1 6:00"),
        ("D7", "2026. 09. 01. 6:00"),  # Hungarian
    ]
    src = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [f"{t},{ORG},{d},,,,BYOD,,,,,,ONLINE,," for d, t in written],
    )
    ingest(tmp_path / "wh", src)
    got = rows(
        views(tmp_path / "wh"),
        "select device_id, iso_utc(snapshot_time) from stg_device_snapshots order by 1",
    )
    assert got == [(d, "2026-09-01T06:00:00Z") for d, _ in written]
    # an entitlement day written with a time to the minute keeps its day
    ent = tmp_path / "in2" / "ent.csv"
    ent.parent.mkdir()
    ent.write_text(
        "subscription_id,licence_type,units,valid_from\nS,BYOD,5,2026-01-01 00:00\n",
        encoding="utf-8",
    )
    ingest(tmp_path / "wh", ent)
    assert rows(views(tmp_path / "wh"), "select valid_from::varchar from stg_entitlements") == [
        ("2026-01-01",)
    ]


def test_a_time_cut_elsewhere_is_still_quarantined(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"{t},{ORG},D{i},,,,BYOD,,,,,,ONLINE,,"
            for i, t in enumerate(["2026-09-01 06", "2026-09-01 06:60", "2026-09-01 24:00"])
        ],
    )
    result = ingest(tmp_path / "wh", src, max_reject_rate=1.0)
    assert [(f.rows_loaded, f.rows_rejected) for f in result.files] == [(0, 3)]
