"""A date column takes the calendar day the file writes, whatever time and offset follow it.
A finance system that serialises dates as local midnight with its offset
(`2026-01-01T00:00:00+10:00`, as .NET and Java write a date-time offset) meant 1 January; the
day of that instant in UTC is 31 December, and an entitlement read so began a day early and
ended a day early, leaving its last day uncovered in the reconciliation."""

from __future__ import annotations

import json
from pathlib import Path

from tests.devices.helpers import ingest, rows, views


def test_an_entitlement_date_with_a_time_and_offset_keeps_its_written_day(tmp_path: Path) -> None:
    bought = [
        ("Sub-1", "2026-01-01T00:00:00+10:00", "2026-12-31T00:00:00+10:00"),
        ("Sub-2", "2026-01-01T23:30:00-05:00", "2026-06-30 23:59:59.999-05:00"),
        ("Sub-3", "2026-01-01T00:00:00Z", "2026-01-31"),
        ("Sub-4", " 2026-1-5T00:00:00+10:00", "2026-2-28"),  # unpadded, as a date the same
    ]
    items = [
        {"subscription_id": s, "licence_type": "BYOD", "units": 5, "valid_from": f, "valid_to": t}
        for s, f, t in bought
    ]
    path = tmp_path / "entitlements.json"
    path.write_text(json.dumps({"items": items}), encoding="utf-8")
    ingest(tmp_path / "wh", path)
    got = rows(
        views(tmp_path / "wh"),
        "select subscription_id, valid_from::varchar, valid_to::varchar "
        "from stg_entitlements order by 1",
    )
    assert got == [
        ("Sub-1", "2026-01-01", "2026-12-31"),
        ("Sub-2", "2026-01-01", "2026-06-30"),
        ("Sub-3", "2026-01-01", "2026-01-31"),
        ("Sub-4", "2026-01-05", "2026-02-28"),
    ]


def test_a_date_whose_time_does_not_parse_is_still_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "entitlements.csv"
    path.write_text(
        "subscription_id,licence_type,units,valid_from\nSub-1,BYOD,5,2026-01-01T25:00:00+10:00\n",
        encoding="utf-8",
    )
    result = ingest(tmp_path / "wh", path, max_reject_rate=1.0)
    assert [(f.rows_loaded, f.rows_rejected) for f in result.files] == [(0, 1)]


def test_a_spreadsheet_saved_in_a_day_first_locale_keeps_its_dates(tmp_path: Path) -> None:
    """A finance sheet saved by a German (or Russian, Polish...) spreadsheet writes a date
    cell as 31.12.2026, next to the decimal commas its semicolon file is read with: day
    first, always, when dots separate the parts and the year comes last."""
    path = tmp_path / "entitlements.csv"
    path.write_text(
        "\ufeffSubscription ID;Licence type;Units;Valid from;Valid to;Unit price;Currency\r\n"
        "Sub-1;Webex Go (Bring Your Own Device);1.000;01.02.2026;31.12.2026;12,50;EUR\r\n"
        "Sub-2;Webex Go (Bring Your Own Device);5;1.2.2026;;12,50;EUR\r\n",
        encoding="utf-8",
    )
    ingest(tmp_path / "wh", path)
    got = rows(
        views(tmp_path / "wh"),
        "select subscription_id, units, valid_from::varchar, valid_to::varchar "
        "from stg_entitlements order by 1",
    )
    assert got == [("Sub-1", 1000, "2026-02-01", "2026-12-31"), ("Sub-2", 5, "2026-02-01", None)]


def test_a_spreadsheet_saved_in_a_year_first_locale_keeps_its_dates(
    tmp_path: Path,
) -> None:
    """A finance sheet saved by a spreadsheet in a Japanese (or Chinese) locale writes a
    date cell as 2026/12/31, in a Hungarian one as 2026. 12. 31.: year, month, day, as in
    ISO, with other separators. Every such line was
    quarantined (`bad_date`), and the sheet failed on its reject rate."""
    path = tmp_path / "entitlements.csv"
    path.write_text(
        "subscription_id,licence_type,units,valid_from,valid_to\r\n"
        "Sub-1,BYOD,5,2026/02/01,2026/12/31\r\n"
        "Sub-2,BYOD,5,2026/2/1 0:00,\r\n"
        "Sub-3,BYOD,5,2026. 02. 01.,2026.12.31\r\n",  # Hungarian: dots
        encoding="utf-8",
    )
    ingest(tmp_path / "wh", path)
    got = rows(
        views(tmp_path / "wh"),
        "select subscription_id, valid_from::varchar, valid_to::varchar "
        "from stg_entitlements order by 1",
    )
    assert got == [
        ("Sub-1", "2026-02-01", "2026-12-31"),
        ("Sub-2", "2026-02-01", None),
        ("Sub-3", "2026-02-01", "2026-12-31"),
    ]


def test_a_date_that_is_no_calendar_day_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "entitlements.csv"
    path.write_text(
        "subscription_id;licence_type;units;valid_from\n"
        "Sub-1;BYOD;5;31.02.2026\nSub-2;BYOD;5;12.31.2026\nSub-3;BYOD;5;01.02.26\n"
        "Sub-4;BYOD;5;2026/31/12\nSub-5;BYOD;5;26/12/31\n",
        encoding="utf-8",
    )
    result = ingest(tmp_path / "wh", path, max_reject_rate=1.0)
    assert [(f.rows_loaded, f.rows_rejected) for f in result.files] == [(0, 5)]


def test_a_code_expiry_written_as_a_date_is_the_end_of_that_day(tmp_path: Path) -> None:
    """An activation history kept in a spreadsheet shows `Code expires at` as a date: each
    such event was quarantined (`bad_timestamp`). A date alone is the end of that day in
    UTC (the code is valid through it); a full time is that time, and a date alone in
    another timestamp column (`event_time`) is still no time."""
    path = tmp_path / "activation_events.csv"
    head = "event_time,org_uuid,device_id,event_type,actor,code_expires_at\n"
    lines = [
        "2026-07-03T15:45:33Z,org-1,dev-1,ACTIVATION_CODE_ISSUED,admin,2026-10-01",
        "2026-07-03T15:45:34Z,org-1,dev-2,ACTIVATION_CODE_ISSUED,admin, 2026/10/02 ",
        "2026-07-03T15:45:35Z,org-1,dev-3,ACTIVATION_CODE_ISSUED,admin,2026-10-03T15:45:35Z",
        "2026-07-03T15:45:36Z,org-1,dev-4,ACTIVATION_CODE_ISSUED,admin,2026-13-01",
        "2026-07-03,org-1,dev-5,ACTIVATION_CODE_ISSUED,admin,2026-10-05",
        "2026-07-03T15:45:37Z,org-1,dev-6,ACTIVATION_CODE_ISSUED,admin,06.10.2026",
    ]
    path.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(tmp_path / "wh", path, max_reject_rate=1.0)
    assert [(f.rows_loaded, f.rows_rejected) for f in result.files] == [(4, 2)]
    got = rows(
        views(tmp_path / "wh"),
        "select device_id, strftime(code_expires_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S') "
        "from stg_device_events order by 1",
    )
    assert got == [
        ("dev-1", "2026-10-02T00:00:00"),
        ("dev-2", "2026-10-03T00:00:00"),
        ("dev-3", "2026-10-03T15:45:35"),
        ("dev-6", "2026-10-07T00:00:00"),
    ]


def test_an_event_from_the_apis_activation_code_answer_keeps_its_expiry(tmp_path: Path) -> None:
    """The Webex API answers a new activation code with `{"code": ..., "expiryTime": ...}`:
    an event log that merges that answer had its code dropped (never stored) but its
    expiry kept in `extra` as an unknown column, the views taking issue + 90 days instead."""
    event = {
        "event_time": "2026-07-03T15:45:33Z",
        "org_uuid": "org-1",
        "device_id": "dev-1",
        "event_type": "ACTIVATION_CODE_ISSUED",
        "code": "5414011256173816",
        "expiryTime": "2026-07-10T15:45:33.215Z",
    }
    path = tmp_path / "activation_events.jsonl"
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    (f,) = ingest(tmp_path / "wh", path).files
    assert f.unknown_columns == [], f.message
    got = rows(
        views(tmp_path / "wh"),
        "select strftime(code_expires_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%g'), extra "
        "from stg_device_events",
    )
    assert got == [("2026-07-10T15:45:33.215", None)]
