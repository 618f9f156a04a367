"""Lines made only of separators (`,,,,,,`, with or without a CR: the empty rows a spreadsheet
keeps below the data) are not records, like blank lines: not counted, not loaded, not
quarantined. Three of them in a 200-row export used to fail the file on the reject rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.helpers import fixture, load, rejects, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows


def _export(sep: str = ",") -> tuple[list[bytes], bytes]:
    """200 records and the line of separators only a spreadsheet writes for an empty row."""
    body = [line(r) for r in rows(200, 61)]
    if sep != ",":
        body = [b.replace(b",", sep.encode()) for b in body]  # the rows hold no commas
    return body, (sep * (len(HEADER) - 1)).encode()


@pytest.mark.parametrize("sep", [",", ";"])
def test_separator_only_lines_are_not_records(tmp_path: Path, sep: str) -> None:
    body, empty = _export(sep)
    # after the data (CRLF, LF, no final newline), and between records
    lines = [*body[:50], empty + b"\r\n", *body[50:], empty + b"\r\n", empty + b"\n", empty]
    header = line(HEADER).replace(b",", sep.encode())
    path = tmp_path / "excel.csv"
    path.write_bytes(csv_bytes(lines, header))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 200, 200, 0)
    # records keep their physical line numbers: the header is line 1, the empty row line 52
    got = sorted(table(tmp_path / "wh", lineage=True)["source_row"].to_list())
    assert got == [*range(2, 52), *range(53, 203)]


def test_a_line_with_anything_besides_separators_is_still_a_record(tmp_path: Path) -> None:
    body, _ = _export()
    near = [
        b",,, ,,\r\n",  # a space
        b'"",,,,\r\n',  # an empty quoted field
        b"x" * 256 + b",,,\r\n",  # as many bytes besides separators as the count wraps at
        b"," * 300 + b"\r\n",  # 300 separators (the count wraps at 256): an empty row, skipped
    ]
    path = tmp_path / "near.csv"
    path.write_bytes(csv_bytes([*body, *near]))
    (f,) = load(tmp_path / "wh", path, max_reject_rate=1.0).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (203, 200, 3)
    assert sorted(rejects(tmp_path / "wh")["source_row"].to_list()) == [202, 203, 204]


def test_blank_and_separator_lines_cost_no_records_of_a_fixture(tmp_path: Path) -> None:
    data = fixture("bom_crlf.csv").read_bytes()
    path = tmp_path / "padded.csv"
    path.write_bytes(data + (b"," * (len(HEADER) - 1) + b"\r\n\r\n") * 3)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_rejected) == ("loaded", 6, 0)


def test_separator_lines_before_the_header_are_skipped_like_blank_ones(tmp_path: Path) -> None:
    """A sheet whose first rows were emptied: the header is the first line with content, and
    the records keep their physical line numbers."""
    body, empty = _export()
    path = tmp_path / "top.csv"
    path.write_bytes(empty + b"\r\n\r\n" + b";;\n" + csv_bytes(body))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 200, 200, 0)
    got = sorted(table(tmp_path / "wh", lineage=True)["source_row"].to_list())
    assert got == list(range(5, 205))
    # separators only, no header: an empty file, not an unknown export
    only = tmp_path / "only.csv"
    only.write_bytes((empty + b"\r\n") * 3)
    (g,) = load(tmp_path / "wh", only).files
    assert (g.status, g.rows_read) == ("empty", 0)
    # past max_header_bytes of them the file fails, saying what they are: the message
    # said 'no line break found ... bare CR line endings?' of a megabyte of line breaks
    far = tmp_path / "far.csv"
    far.write_bytes(b"\n" * 600_000 + (empty + b"\r\n") * 30_000 + csv_bytes(body))
    (h,) = load(tmp_path / "wh", far).files
    assert (h.status, h.exit_code, h.rows_loaded) == ("failed", 3, 0)
    assert "far.csv line 1: no header line within the first 1,048,576 bytes" in h.message
    assert "they hold 615,468 lines, blank or of separators only" in h.message, h.message
    assert "delete the blank lines before its header" in h.message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["ascii", "utf8"])
def test_a_powershell_export_csv_file_fails_saying_how_to_export_it_again(
    tmp_path: Path, bom: bytes
) -> None:
    """Windows PowerShell's `$page.items | Export-Csv` writes `#TYPE ...` before the header
    (unless -NoTypeInformation) and, by default, ASCII: every accented letter a `?`. The file
    failed as 'not a recognised export: the header (#TYPE System.Managem…)', with the hint
    to force a kind, which would not have helped."""
    path = tmp_path / "cdr.csv"
    typed = bom + b"#TYPE System.Management.Automation.PSCustomObject\r\n"
    path.write_bytes(typed + csv_bytes([line(r) for r in rows(3, 65)]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 1: a PowerShell Export-Csv file" in f.message
    assert "-NoTypeInformation -Encoding UTF8" in f.message


def test_separator_lines_are_told_without_a_python_step_per_line() -> None:
    """Each candidate line was counted on its own (`bytes.count` from a Python loop): a
    file of nothing but separator lines was read at 17 MB/s, and a gzip of them let 200
    times its size through (`max_unpacked_ratio`) before it was stopped, 33 s for 2.7 MB.
    The lines are told in one pass now, and a line that only looks alike (as many bytes as
    separators modulo 256: 256 letters before them) is still a record."""
    import sys

    import numpy as np

    from cdr_pipeline.ingest.csv_split import _split_records

    n = len(HEADER)
    lines = [b"," * (n - 1), b"," * (n - 1) + b"\r", b"x" * 256 + b"," * (n - 1), b"," * 300]
    buf = b"".join(lines[i % 4] + b"\n" for i in range(20_000))
    calls = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "c_call"

    sys.setprofile(profile)
    try:
        seg, tail, _, _ = _split_records(buf, 1)
    finally:
        sys.setprofile(None)
    assert tail == b""
    assert seg.lines.tolist() == [i + 1 for i in range(20_000) if i % 4 == 2]
    assert calls < 100  # numpy calls, not one per line
    assert np.array_equal(seg.ends - seg.starts, np.full(5_000, 256 + n - 1))
