"""Numbers with thousands grouped by commas, as a spreadsheet in a locale of decimal dots
saves a cell formatted with Excel's "1000 separator" (`1,200`, `1,234.50`), in a file
separated by commas (the field quoted). A purchase sheet of 1,200 licences failed to load as
a whole (`bad_integer`), its reconciliation rows left without an entitlement."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER as DCH_HEADER
from tests.ingest.hostile_corpus import csv_bytes, line, rows

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"


def test_a_comma_file_reads_units_grouped_by_commas(wh: Path, tmp_path: Path) -> None:
    """A count `1,200` is 1200 whichever mark the locale decimals take (as a decimal comma
    it would be 1.2, no whole number); `1,200.00` (a float re-save) too. `1,200.5` is no
    whole number and `1.000` (a thousand or one) stays no number: both quarantined."""
    body = "".join(
        f'Sub-{i},Webex Go (Bring Your Own Device),"{units}",2026-01-01,,12.50,USD\n'
        for i, units in enumerate(["1,200", "12,500,000", "1,200.00", "250", "1,200.5", "1.000"])
    )
    path = tmp_path / "entitlements.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 3)
    units = table(wh, "entitlements").sort("subscription_id")["units"].to_list()
    assert units == [1200, 1200, 250]  # Sub-0, Sub-2, Sub-3
    # 12,500,000 reads as 12 500 000: past the ten-million guard, as typed plain
    assert sorted(rejects(wh)["reason"].to_list()) == ["bad_integer"] * 3


def test_a_comma_file_reads_a_price_with_both_marks(wh: Path, tmp_path: Path) -> None:
    """`1,234.50` writes both marks: its comma groups thousands beyond doubt. A price
    `1,200` may be 1.2 (a decimal comma) or 1200: a thousandfold error either way, so it
    stays quarantined, as `1.000` is in a file of semicolons."""
    body = "".join(
        f'Sub-{i},Webex Go (Bring Your Own Device),5,2026-01-01,,"{price}",USD\n'
        for i, price in enumerate(["1,234.50", "12.50", "1,200", "1,000,000.125"])
    )
    path = tmp_path / "entitlements.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 1)
    prices = table(wh, "entitlements").sort("subscription_id")["unit_price"].to_list()
    assert prices == [1234.5, 12.5, 1000000.125]
    assert rejects(wh)["detail"].to_list() == ["unit_price: cannot parse '1,200' as a number"]


def test_a_number_with_the_unicode_minus_sign_is_that_negative_number(wh: Path) -> None:
    """A tool formatting numbers in a Swedish, Norwegian or Finnish locale on ICU (.NET 5
    and later, so PowerShell 7) writes a negative number with the minus sign `−` (U+2212):
    every leg of a site west of UTC (`Site timezone` `−300`) was a `bad_integer`, and the
    file failed the reject rate. It is the negative number; a negative `Duration` so
    written is still the impossible value it is."""
    body = rows(3, 98)
    body[0][DCH_HEADER.index("Site timezone")] = "\u2212300"
    body[1][DCH_HEADER.index("Site timezone")] = "\u2212480"
    body[2][DCH_HEADER.index("Duration")] = "\u22125"
    path = wh.parent / "minus.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1), f.message
    offsets = table(wh)["site_timezone_offset_minutes"].to_list()
    assert sorted(offsets) == [-480, -300]
    assert rejects(wh)["reason"].to_list() == ["negative_duration"]


def test_a_semicolon_file_reads_numbers_grouped_by_blanks(wh: Path, tmp_path: Path) -> None:
    """A spreadsheet in a French, Swedish or Polish locale groups thousands by a blank (a
    no-break space; a narrow one in French on Windows 10 and later): `1 200` units and a
    price `1 234,50` were a `bad_integer` and a `bad_number`. No locale writes a blank for
    its decimal mark, so such a value leaves no doubt; `1 20` groups nothing and stays a
    reject."""
    header = HEADER.replace(",", ";")
    body = "".join(
        f"Sub-{i};Webex Go (Bring Your Own Device);{units};2026-01-01;;{price};EUR\n"
        for i, (units, price) in enumerate(
            [("1\u00a0200", "12,50"), ("5", "1\u202f234,50"), ("2 500", "3"), ("1 20", "3")]
        )
    )
    path = tmp_path / "entitlements.csv"
    path.write_text(header + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 1), f.message
    loaded = table(wh, "entitlements").sort("subscription_id")
    assert loaded["units"].to_list() == [1200, 5, 2500]
    assert loaded["unit_price"].to_list() == [12.5, 1234.5, 3.0]
    assert rejects(wh)["detail"].to_list() == ["units: cannot parse '1 20' as an integer"]


def test_a_duration_written_as_a_clock_is_its_seconds(wh: Path) -> None:
    """A report tool, or a spreadsheet formatting the column as a duration, writes seconds
    as hours, minutes and seconds: `00:01:23`, `0:00:21`. Each such leg was a `bad_integer`
    and the file failed the reject rate. It is those seconds (83, 21, 3600). Minutes and
    seconds alone (`1:23`, or hours and minutes?), a clock past 59 minutes and a clock in a
    column of no duration (`Site timezone`) stay unreadable, quarantined. An ISO-8601
    duration of whole units (`PT1M5S`) is its seconds too; a fraction or no unit is not."""
    body = rows(11, 99)
    body[0][DCH_HEADER.index("Duration")] = "00:01:23"
    body[1][DCH_HEADER.index("Ring duration")] = "0:00:21"
    body[2][DCH_HEADER.index("Duration")] = "1:00:00"
    body[3][DCH_HEADER.index("Duration")] = "1:23"
    body[4][DCH_HEADER.index("Duration")] = "00:61:00"
    body[5][DCH_HEADER.index("Site timezone")] = "05:00:00"
    # ISO-8601 durations (a tool typing the column as a time span): whole units are read
    body[6][DCH_HEADER.index("Duration")] = "PT1M5S"
    body[7][DCH_HEADER.index("Ring duration")] = "pt36s"
    body[8][DCH_HEADER.index("Duration")] = "PT36.5S"
    body[9][DCH_HEADER.index("Duration")] = "PT"
    path = wh.parent / "clock.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (6, 5), f.message
    loaded = table(wh, lineage=True).sort("source_row")
    duration = int(body[1][DCH_HEADER.index("Duration")])
    assert loaded["duration_seconds"].to_list()[:4] == [83, duration, 3600, 65]
    assert loaded["ring_duration_seconds"].to_list()[1] == 21
    assert loaded["ring_duration_seconds"].to_list()[4] == 36
    assert rejects(wh)["detail"].to_list() == [
        "Duration: cannot parse '1:23' as an integer",
        "Duration: cannot parse '00:61:00' as an integer",
        "Site timezone: cannot parse '05:00:00' as an integer between -32768 and 32767",
        "Duration: cannot parse 'PT36.5S' as an integer",
        "Duration: cannot parse 'PT' as an integer",
    ]
