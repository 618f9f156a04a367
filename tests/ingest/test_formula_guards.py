"""Values a tool guarded against formula injection (OWASP "CSV injection") with a leading
`'`: `'-300`, `'+15550100000`, as `cdr report --format csv` writes them too. Every leg of a
site west of UTC was a `bad_integer` (the file failed the reject rate), and a guarded
number kept its `'`, the number of no person or other leg."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows


def _at(name: str) -> int:
    return HEADER.index(name)


def test_a_guarded_number_is_read_without_its_guard(wh: Path) -> None:
    """The `'` is dropped where the rest is a valid value of the column (a number of a
    number column, a phone number), with a note naming the columns; a guarded formula stays
    no number (quarantined) and a guarded text that is no number stays as delivered."""
    body = rows(6, 97)
    for r in body[:4]:
        r[_at("Site timezone")] = "'-300"
        r[_at("Calling number")] = "'" + r[_at("Calling number")]
    body[3][_at("Site timezone")] = "'\u2212300"  # a guard and a locale's minus sign at once
    body[0][_at("Duration")] = "'30"
    body[1][_at("Called number")] = "'2001"
    body[2][_at("Called number")] = "'*73"
    body[4][_at("Called number")] = '\'=HYPERLINK("x")'
    body[5][_at("Duration")] = "'=1+2"
    path = wh.parent / "guarded.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (5, 1), f.message
    assert "formula guard" in f.message
    assert "4 of Site timezone" in f.message and "4 of Calling number" in f.message
    assert "1 of Duration" in f.message and "2 of Called number" in f.message
    legs = table(wh)  # by Report ID: the rows in file order
    assert legs["site_timezone_offset_minutes"].to_list()[:4] == [-300] * 4
    assert not any(n.startswith("'") for n in legs["calling_number"].to_list())
    called = set(legs["called_number"].to_list())
    assert {"2001", "*73", '\'=HYPERLINK("x")'} <= called
    assert 30 in legs["duration_seconds"].to_list()
    (detail,) = rejects(wh)["detail"].to_list()
    assert detail == "Duration: cannot parse ''=1+2' as an integer"


def test_a_file_without_guards_has_no_note(wh: Path) -> None:
    """The common export: nothing is noted."""
    path = wh.parent / "plain.csv"
    path.write_bytes(csv_bytes([line(r) for r in rows(3, 96)]))
    (f,) = load(wh, path).files
    assert f.rows_loaded == 3
    assert "formula guard" not in f.message
