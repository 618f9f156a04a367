"""NUL bytes inside a CSV record: a block of zeros where a crash, a failing disk or a copy
tool wrote none of the data (a zero-filled tail is a record cut short, which fails the file).
No export holds a NUL, and a block of them can join the start of one record to the end of a
later one with as many fields as a record has: such a record loaded, its values from two
calls and the zeros kept in a field. It is quarantined (`nul_bytes`); the others load."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, REPORT_ID, USER, csv_bytes, line, rows

LOCATION = HEADER.index("Location")


def test_records_holding_nul_bytes_are_quarantined_and_the_others_load(tmp_path: Path) -> None:
    body = rows(300, 81)
    # zeros from the middle of record 11's Location to the middle of record 13's: the line
    # that is left has exactly the header's fields, so no field count finds it
    zeros = body[10][LOCATION][:3] + "\x00" * 700 + body[12][LOCATION][4:]
    joined = [*body[10][:LOCATION], zeros, *body[12][LOCATION + 1 :]]
    assert len(joined) == len(HEADER)
    lines = [line(r) for r in body]
    lines[10:13] = [line(joined)]
    body[152][USER] = "Ann\x00"  # one NUL in a name, line 152
    lines[150] = line(body[152])
    path = tmp_path / "zeros.csv"
    path.write_bytes(csv_bytes(lines))
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 298, 296, 2)
    bad = rejects(wh).sort("source_row")
    assert bad["source_row"].to_list() == [12, 152]
    assert bad["reason"].to_list() == ["nul_bytes", "nul_bytes"]
    assert "\x00" * 700 in bad["raw_text"][0]  # the whole line, zeros included
    assert not table(wh)["location_name"].str.contains("\x00", literal=True).any()
    assert body[12][REPORT_ID] not in table(wh)["report_id"].to_list()


def test_a_file_failed_by_its_nul_records_says_to_copy_it_again(tmp_path: Path) -> None:
    body = rows(20, 82)
    body[4][USER] = "\x00" * 16
    path = tmp_path / "zeros.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_rejected) == ("failed", 1)
    assert "Top reasons: nul_bytes (1)" in f.message
    assert "blocks of zeros where its data was lost" in f.message
