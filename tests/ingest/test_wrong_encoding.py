"""An export whose text was decoded in the wrong encoding and saved again as UTF-8: a UTF-8
CSV without its byte order mark (as wxcadm and scripts save a download) opened in Excel,
which reads it as Windows-1252, then saved as "CSV UTF-8". Every accented or CJK name comes
out as valid UTF-8 of other characters (`Müller` as `MÃ¼ller`, `山田` as `å±±ç”°`): loaded,
the names were silently wrong. Such a record is quarantined (`spreadsheet_encoding`), and
the export fails as other spreadsheet damage does (docs/webex-dch.md#zip-and-bom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, LINE_ID, USER, csv_bytes, line, rows

LOCATION = HEADER.index("Location")


def _misread(text: str) -> str:
    """`text`'s UTF-8 bytes read as Windows-1252, as Excel reads a CSV without a BOM (a byte
    1252 leaves undefined becomes the control character of that number)."""
    return "".join(
        bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8")
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (USER, "Müller, Jürgen"),
        (LINE_ID, "山田 太郎"),
        (LOCATION, "Zürich “HQ” – Floor 2"),
        (USER, "Åsa Söderström"),
    ],
)
def test_a_name_saved_again_in_the_wrong_encoding_fails_the_export(
    wh: Path, column: int, value: str
) -> None:
    body = rows(200, 91)
    body[7][column] = _misread(value)
    path = wh.parent / "resaved.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 200 rows rejected: spreadsheet_encoding" in f.message
    bad = rejects(wh)
    assert bad["reason"].to_list() == ["spreadsheet_encoding"]
    assert bad["source_row"].to_list() == [9]
    assert HEADER[column] in bad["detail"][0]
    assert "wrong encoding" in bad["detail"][0]


def test_names_that_only_look_misread_still_load(wh: Path) -> None:
    """Genuine accented text: a letter before a symbol (`ß“`, `É…`) is no UTF-8 sequence
    once its neighbours are counted, and Portuguese `Ã` stands before letters."""
    names = [
        "Müller, Jürgen",
        "São João",
        "JOÃO CONCEIÇÃO",
        "山田 太郎",
        "Büro „Hauptstraße“",
        "CAFÉ… Zoë",
        "Åsa Söderström",
        "Łódź – Ośrodek",
    ]
    body = rows(len(names), 92)
    for row, name in zip(body, names, strict=True):
        row[USER] = name
    path = wh.parent / "fine.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", len(names), 0)
    assert sorted(table(wh)["user_name"].to_list()) == sorted(names)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no_bom", "bom_again"])
def test_a_byte_order_mark_saved_again_as_text_fails_the_file(wh: Path, bom: bytes) -> None:
    """The export's BOM read as Windows-1252 is the text `ï»¿`, saved before its first
    header: `ï»¿Report ID` matched no column, so every record loaded with a synthetic Report
    ID (its own kept in `extra`), exit 0, and a later version of it could never replace it."""
    header = ["Report ID", *(h for h in HEADER if h != "Report ID")]
    body = rows(3, 93)
    moved = [[r[HEADER.index(h)] for h in header] for r in body]
    path = wh.parent / "resaved.csv"
    misread = "\ufeff".encode().decode("cp1252").encode()
    path.write_bytes(bom + misread + csv_bytes([line(r) for r in moved], line(header)))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "read in the wrong encoding and saved again" in f.message
    assert "ï»¿" in f.message
    assert "as downloaded" in f.message


def test_an_export_saved_as_windows_1252_says_so_though_its_other_rows_load(wh: Path) -> None:
    """A file saved as Windows-1252 with one accented name among 1,000 rows: that row is
    not UTF-8 and is quarantined, well under the reject rate, and the rest load (exit 0) as
    any few bad rows do. But the file's encoding is wrong, not a row: its note says so and
    how to convert it, so the person quarantined is not silently missing from reports."""
    body = rows(1000, 94)
    for row in body:
        row[USER] = "Smith, Ann"
    body[400][USER] = "Müller, Jürgen"
    path = wh.parent / "cp1252.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]).decode().encode("cp1252"))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("loaded", 0, 999, 1)
    assert "1 row(s) are not UTF-8" in f.message
    assert "iconv -f WINDOWS-1252 -t UTF-8" in f.message
