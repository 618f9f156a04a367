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
from tests.ingest.helpers import rejects

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency"
HINT = (
    "was saved in scientific notation by a spreadsheet, the exact figure is lost: format the "
    "column as Number and export again"
)


def _entitlements(warehouse: Path) -> list[tuple[object, ...]]:
    table = pl.read_delta(str(warehouse / "tables" / "entitlements"))
    return table.sort("subscription_id").select("subscription_id", "units", "unit_price").rows()


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
