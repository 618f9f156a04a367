"""A DCH export opened and saved again by a spreadsheet in a locale whose dates are year
first (Sweden, Lithuania, Canada, Japan, Hungary) has its times written to the minute:
`2026-10-01T10:00:00.100Z` became `2026-10-01 10:00`. ISO 8601 allows that form, so the
export loaded, exit 0, every start, answer and release time moved to its minute (ring times
and talk times wrong, `Report time` ties deciding versions by load order), while the same
export saved in a US, UK or German locale failed as `spreadsheet_date`. Control Hub and the
APIs always write seconds and milliseconds: such a time is a spreadsheet's mark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, run_cdr, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows

START = HEADER.index("Start time")
RELEASE = HEADER.index("Release time")
TIMES = [i for i, h in enumerate(HEADER) if h.endswith(" time")]
EXPORT_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d):\d\d\.\d{3}Z$")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (START, "2026-10-01 10:00"),  # sv-SE, lt-LT
        (RELEASE, "2026-10-01 10:01"),
        (START, "2026-10-01 10:00 AM"),  # en-CA
        (RELEASE, "2026/10/01 10:01"),  # ja-JP, zh-CN
        (RELEASE, "2026. 10. 01. 10:01"),  # hu-HU
    ],
)
def test_one_time_a_spreadsheet_saved_to_the_minute_fails_the_whole_export(
    wh: Path, column: int, value: str
) -> None:
    body = rows(1000, 91)
    body[0][column] = value
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 1000 rows rejected: spreadsheet_date" in f.message
    (bad,) = rejects(wh).iter_rows(named=True)
    assert (bad["reason"], bad["source_row"]) == ("spreadsheet_date", 2)
    assert bad["detail"] == (
        f"{HEADER[column]}: '{value}' is a time a spreadsheet saved without its seconds (the "
        "export writes them: 2026-10-01T14:05:02.118Z)"
    )


def test_an_export_saved_in_an_iso_date_locale_fails_saying_so(wh: Path) -> None:
    body = rows(50, 92)
    for row in body:
        for i in TIMES:
            row[i] = EXPORT_TIME.sub(r"\1 \2", row[i])
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stderr
    assert "spreadsheet_date (50)" in done.stderr
    assert "seconds dropped (2026-12-01 14:03)" in done.stderr
    assert not (wh / "tables" / "call_legs").exists() or table(wh).height == 0


@pytest.mark.parametrize(
    "value",
    ["2026-10-01 10:00:00", "2026-10-01 10:00:00.100", "2026-10-01T10:00:00Z", "2026-10-01T10:00Z"],
)
def test_times_with_their_seconds_or_a_zone_still_load(wh: Path, value: str) -> None:
    """Only the zone-less space form a spreadsheet writes is its mark: a time with seconds
    (the API example's `Release time`), or an ISO time to the minute with its `Z`, loads."""
    body = rows(20, 93)
    body[0][START] = value
    path = wh.parent / "export.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 20, 0)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "45964.58681",
            "is a spreadsheet's serial day number (days since 1899-12-30): the column "
            "was formatted as a number",
        ),
        (
            "45964,58681",
            "is a spreadsheet's serial day number (days since 1899-12-30): the column "
            "was formatted as a number",
        ),
        ("3-Nov-2025 14:05", "is a date in a spreadsheet's own format"),
        ("Nov 3, 2025 2:05 PM", "is a date in a spreadsheet's own format"),
        ("3. Nov. 2025 14:05", "is a date in a spreadsheet's own format"),
    ],
)
def test_a_serial_day_or_a_month_named_fails_the_export_as_a_spreadsheets(
    wh: Path, value: str, says: str
) -> None:
    """A time column a spreadsheet formatted as General or Number (`45964.58681`, 2025-11-03
    14:05) or as a date with its month's name (`3-Nov-2025 14:05`) was `bad_timestamp`,
    "cannot parse": one such leg among a thousand was quarantined and the rest loaded, exit
    0, though a spreadsheet had saved all of them. It is the spreadsheet's mark now."""
    body = rows(1000, 94)
    body[5][START] = value
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_rejected) == ("failed", 3, 1)
    (bad,) = rejects(wh).iter_rows(named=True)
    assert (bad["reason"], bad["source_row"]) == ("spreadsheet_date", 7)
    assert bad["detail"] == f"Start time: '{value}' {says}"
