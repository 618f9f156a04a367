"""A purchase sheet saved by a spreadsheet whose units column was too narrow for its figures
holds them in scientific notation, rounded to the digits shown: 1,234,567 licences saved as
`1.2346E+06` loaded as 1,234,600, the true figure lost without a word (the notation was
checked in text columns only). Such a figure is quarantined (`spreadsheet_number`) with its
line and what to do; the rest of the file loads."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.devices.helpers import ingest, write_csv
from tests.ingest.helpers import rejects, table

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency"
HINT = (
    "was saved in scientific notation by a spreadsheet, the exact figure is lost: format the "
    "column as Number and export again"
)


def _entitlements(warehouse: Path) -> list[tuple[object, ...]]:
    loaded = table(warehouse, "entitlements").sort("subscription_id")
    return loaded.select("subscription_id", "units", "unit_price").rows()


def test_units_and_prices_in_scientific_notation_are_quarantined(tmp_path: Path) -> None:
    """`1.2346E+06` units (1,234,567 rounded) and a price `1.25E+01` are refused, each naming
    its line; so is `1E+03`, though it may be exactly 1000: the notation says the cell was
    shown rounded (`1E+03` is any count from 500 to 1,499), and nothing tells an exact one
    apart, so all are refused. `5.0` (a float re-save, exact) still loads."""
    src = write_csv(
        tmp_path / "in" / "entitlements.csv",
        HEADER,
        [
            "Sub-1,BYOD,1.2346E+06,2026-01-01,,12.50,USD",
            "Sub-2,BYOD,1E+03,2026-01-01,,12.50,USD",
            "Sub-3,BYOD,5,2026-01-01,,1.25E+01,USD",
            "Sub-4,BYOD,5.0,2026-01-01,,12.50,USD",
            "Sub-5,BYOD,7,2026-01-01,,12.5e0,USD",
        ],
    )
    wh = tmp_path / "wh"
    (f,) = ingest(wh, src, max_reject_rate=1.0).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (5, 1, 4), f.message
    assert _entitlements(wh) == [("Sub-4", 5, 12.5)]
    bad = rejects(wh)
    assert bad["source_row"].to_list() == [2, 3, 4, 6]  # file lines (the header is line 1)
    assert set(bad["reason"]) == {"spreadsheet_number"}
    assert bad["detail"].to_list() == [
        f"units: '1.2346E+06' {HINT}",
        f"units: '1E+03' {HINT}",
        f"unit_price: '1.25E+01' {HINT}",
        f"unit_price: '12.5e0' {HINT}",
    ]


def test_a_decimal_comma_sheet_and_a_json_file_too(tmp_path: Path) -> None:
    """A spreadsheet in a locale of decimal commas saves `1,2346E+06` (a file separated by
    semicolons): quarantined as the same damage, not as an unreadable integer. A JSON number
    whose exponent runs past its digits (`1.2346E+06`: its zeros made up) is refused as in a
    CSV; one whose exponent stays within them (`1.25e1`, 12.5 written by a JSON tool) is that
    number (the JSON reader writes it plain)."""
    semi = write_csv(
        tmp_path / "in" / "entitlements.csv",
        HEADER.replace(",", ";"),
        ["Sub-1;BYOD;1,2346E+06;2026-01-01;;12,50;EUR", "Sub-2;BYOD;4;2026-01-01;;12,50;EUR"],
    )
    items = [
        {"subscription_id": "Sub-3", "licence_type": "BYOD", "units": "@units@"},
        {"subscription_id": "Sub-4", "licence_type": "BYOD", "units": 3, "unit_price": "@p@"},
    ]
    text = json.dumps([{**i, "valid_from": "2026-01-01", "currency": "USD"} for i in items])
    doc = tmp_path / "in" / "entitlements.json"
    doc.write_text(text.replace('"@units@"', "1.2346E+06").replace('"@p@"', "1.25e1"))
    wh = tmp_path / "wh"
    files = ingest(wh, semi, doc, max_reject_rate=1.0).files
    assert [(f.rows_loaded, f.rows_rejected) for f in files] == [(1, 1), (1, 1)]
    assert _entitlements(wh) == [("Sub-2", 4, 12.5), ("Sub-4", 3, 12.5)]
    bad = rejects(wh).sort("source_file")
    assert set(bad["reason"]) == {"spreadsheet_number"}
    assert sorted(bad["detail"].to_list()) == [
        f"units: '1,2346E+06' {HINT}",
        f"units: '1.2346E+6' {HINT}",
    ]


def test_ids_of_finance_inputs_in_scientific_notation_are_quarantined(tmp_path: Path) -> None:
    """A numeric subscription id saved by a spreadsheet as `3.9015E+10` loaded as that text:
    the device's licence was reconciled under a subscription nobody bought, and the purchase
    under one no device held; a department id or cost centre so rounded billed the licence to
    no department. The ids a finance figure is keyed on are quarantined in scientific
    notation (`spreadsheet_number`), in the device list, the events, the purchase sheet and
    the org directory; the lines beside them load."""
    org = "00000000-0000-4000-8000-0000000000aa"
    snapshots = write_csv(
        tmp_path / "in" / "device_snapshots.csv",
        "snapshot_time,org_uuid,device_id,deployment,department_id,subscription_id,status",
        [
            f"2026-10-01T06:00:00Z,{org},D1,BYOD,Dept-A,3.9015E+10,ONLINE",
            f"2026-10-01T06:00:00Z,{org},D2,BYOD,4.1E+05,39015123456,ONLINE",
            f"2026-10-01T06:00:00Z,{org},D3,BYOD,Dept-A,39015123456,ONLINE",
        ],
    )
    events = write_csv(
        tmp_path / "in" / "activation_events.csv",
        "event_time,org_uuid,device_id,event_type,subscription_id",
        [
            f"2026-09-01T00:00:00Z,{org},D1,PROVISIONED,3.9015E+10",
            f"2026-09-01T00:00:00Z,{org},D3,PROVISIONED,39015123456",
        ],
    )
    purchases = write_csv(
        tmp_path / "in" / "entitlements.csv",
        HEADER,
        ["3.9015E+10,BYOD,5,2026-01-01,,12.50,USD", "39015123456,BYOD,5,2026-01-01,,12.50,USD"],
    )
    directory = write_csv(
        tmp_path / "in" / "org_directory.csv",
        "entry_type,entry_id,name,cost_centre,site,country",
        ["department,Dept-A,Sales,4.1001E+09,,", "department,Dept-B,Support,4100123456,,"],
    )
    wh = tmp_path / "wh"
    files = ingest(wh, snapshots, events, purchases, directory, max_reject_rate=1.0).files
    assert sorted((f.kind, f.rows_loaded, f.rows_rejected) for f in files) == [
        ("activation_events", 1, 1),
        ("device_snapshots", 1, 2),
        ("entitlements", 1, 1),
        ("org_directory", 1, 1),
    ]
    bad = rejects(wh).sort("source_file", "source_row")
    assert set(bad["reason"]) == {"spreadsheet_number"}
    said = "is a spreadsheet's scientific notation, its rounded-away digits are lost"
    named = bad.select(pl.col("source_file").str.extract(r"([^/\\]+)$"), "source_row", "detail")
    assert named.rows() == [
        ("activation_events.csv", 2, f"subscription_id: '3.9015E+10' {said}"),
        ("device_snapshots.csv", 2, f"subscription_id: '3.9015E+10' {said}"),
        ("device_snapshots.csv", 3, f"department_id: '4.1E+05' {said}"),
        ("entitlements.csv", 2, f"subscription_id: '3.9015E+10' {said}"),
        ("org_directory.csv", 2, f"cost_centre: '4.1001E+09' {said}"),
    ]
