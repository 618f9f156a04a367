"""Exports joined into one file (`cat a.csv b.csv > all.csv`): the second export's header,
BOM and all, lies in the body. It is no record: quarantined as `repeated_header`, the rows on
both sides load. The same header with its columns in another order fails the file, since the
rows after it would be read into the wrong columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows

BOM = b"\xef\xbb\xbf"


def test_a_second_header_with_its_bom_is_quarantined_and_both_exports_load(
    tmp_path: Path,
) -> None:
    first = BOM + csv_bytes([line(r) for r in rows(150, 71)])
    second = BOM + csv_bytes([line(r) for r in rows(150, 72)])
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 301, 300, 1)
    assert table(tmp_path / "wh").height == 300
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (152, "repeated_header")
    assert bad["raw_text"].lstrip("\ufeff").startswith(HEADER[0])


def test_a_second_header_in_another_column_order_fails_the_file(tmp_path: Path) -> None:
    order = list(reversed(range(len(HEADER))))

    def reordered(row: list[str]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow([row[i] for i in order])
        return buf.getvalue().encode()

    first = csv_bytes([line(r) for r in rows(150, 73)])
    second = b"".join([reordered(HEADER), *(reordered(r) for r in rows(150, 74))])
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 152" in f.message and "another order" in f.message
    assert table(tmp_path / "wh").height == 0
