"""A CSV export or JSON lines cut short (a download or copy interrupted) end inside a record:
they fail as a whole, as a cut gzip or ZIP does, rather than load as if they were the whole
export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, run_cdr, table
from tests.ingest.hostile_corpus import csv_bytes, line, records, rows


def _export(n: int) -> bytes:
    return csv_bytes([line(r) for r in rows(n, 81)])


@pytest.mark.parametrize(
    ("record", "marker", "line_no"),
    [(300, b",", 301), (302, b'"', 303)],
    ids=["in_a_field", "in_a_quoted_name"],
)
def test_a_csv_cut_mid_record_fails_naming_the_line(
    wh: Path, record: int, marker: bytes, line_no: int
) -> None:
    """Cut inside a record (in a field, or inside a quoted name): before, the records above
    it loaded, exit 0 and no word on stderr, the rest of the export missing."""
    whole = _export(400)
    start = [i for i, b in enumerate(whole) if b == 0x0A][record - 1] + 1  # line record + 1
    path = wh.parent / "Calling_Detailed_Call_History.csv"
    path.write_bytes(whole[: whole.index(marker, start) + 4])
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ends inside a record" in done.stderr and f"line {line_no}" in done.stderr
    assert "cut short" in done.stderr and "download or copy it again" in done.stderr
    assert not (wh / "tables" / "call_legs").exists() or table(wh).height == 0


@pytest.mark.parametrize("chunk_rows", [7, 50], ids=["mid_chunk", "chunk_already_full"])
def test_a_last_record_without_a_line_break_still_loads(wh: Path, chunk_rows: int) -> None:
    """Many tools write no line break after the last record: a whole record is no cut. But a
    cut inside the last value looks the same, so the file's note says so, naming the line
    (also when the last chunk was full before the end of the file was seen)."""
    path = wh.parent / "no_final_newline.csv"
    path.write_bytes(_export(50).removesuffix(b"\r\n"))
    (f,) = load(wh, path, chunk_rows=chunk_rows).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 50, 0)
    assert "last record (line 51) has no line break after it" in f.message
    assert "download it again" in f.message


def test_a_cut_inside_the_last_value_is_noted_on_the_command_line(wh: Path) -> None:
    """A copy cut inside the last column's value: every field is there, so it loads (as a
    whole last record must), and `cdr ingest` says on stderr the export may be cut."""
    whole = _export(120)
    path = wh.parent / "Calling_Detailed_Call_History.csv"
    end = whole.index(b"\r\n", len(whole) // 2)  # a record's end, its last value before it
    path.write_bytes(whole[: whole.rindex(b",", 0, end) + 3])  # 2 bytes of that value
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "has no line break after it" in done.stderr and "cut short" in done.stderr


def test_an_export_ending_with_its_line_break_has_no_note(wh: Path) -> None:
    path = wh.parent / "whole.csv"
    path.write_bytes(_export(50))
    (f,) = load(wh, path, chunk_rows=50).files
    assert (f.status, f.rows_loaded, f.message) == ("loaded", 50, "")


def test_exports_joined_by_windows_copy_load_without_its_end_of_file_mark(wh: Path) -> None:
    """`copy a.csv+b.csv all.csv` (Windows joins files as text) appends Ctrl-Z, the DOS
    end-of-file mark, after the last line break: read as the start of a record, the whole
    file failed as cut short inside a record (exit 3), none of either export loaded. Both
    load, the second header quarantined as with `cat`; a last record without its line break
    before the mark still loads with its note."""
    path = wh.parent / "all.csv"
    path.write_bytes(_export(40) + csv_bytes([line(r) for r in rows(30, 85)]) + b"\x1a")
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cut short" not in done.stderr
    assert table(wh).height == 70
    assert rejects(wh)["reason"].to_list() == ["repeated_header"]
    path = wh.parent / "unended.csv"
    path.write_bytes(csv_bytes([line(r) for r in rows(20, 86)]).removesuffix(b"\r\n") + b"\x1a")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 20, 0)
    assert "last record (line 21) has no line break after it" in f.message


def test_a_ragged_last_line_that_ends_with_a_line_break_is_quarantined(wh: Path) -> None:
    """A short last record followed by its line break was written so: one reject, as any."""
    path = wh.parent / "short_last.csv"
    path.write_bytes(_export(300) + b"2026-10-01T10:00:00.000Z,x\r\n")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 300, 1)
    assert rejects(wh)["reason"].to_list() == ["ragged_row"]


def _json_lines(n: int, tag: int = 82) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records(n, tag))


def test_json_lines_cut_mid_record_fail_naming_the_line(wh: Path) -> None:
    """JSON lines saved from the API, the download cut inside record 300 of 400: the broken
    last line was quarantined as `invalid_json`, under 1 % of the file, so it loaded 299
    records with exit 0, the other 101 missing without a word, where a CSV so cut fails."""
    whole = _json_lines(400)
    start = [i for i, b in enumerate(whole) if b == 0x0A][298] + 1  # line 300
    path = wh.parent / "cdr_feed.jsonl"
    path.write_bytes(whole[: start + 200])
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ends inside a record" in done.stderr and "line 300" in done.stderr
    assert "download or copy it again" in done.stderr
    assert not (wh / "tables" / "call_legs").exists() or table(wh).height == 0


def test_json_lines_joined_by_windows_copy_load_without_its_end_of_file_mark(wh: Path) -> None:
    """API pages saved as JSON lines and joined by `copy a.jsonl+b.jsonl all.jsonl`: the
    Ctrl-Z Windows appends was read as a last line cut short, and the file failed (exit 3)."""
    path = wh.parent / "all.jsonl"
    path.write_bytes(_json_lines(40) + _json_lines(30, 87) + b"\x1a")
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cut short" not in done.stderr
    assert table(wh).height == 70


def test_json_lines_whose_last_record_has_no_line_break_load(wh: Path) -> None:
    """A whole last record without a line break is no cut; nor is a last line broken in
    another way (a stray comma after its object): that one is quarantined, as before."""
    path = wh.parent / "no_final_newline.jsonl"
    path.write_bytes(_json_lines(300).removesuffix(b"\n"))
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 300, 0)
    path = wh.parent / "stray_comma.jsonl"
    broken = json.dumps(records(1, 83)[0]).encode() + b","
    path.write_bytes(_json_lines(300, 84) + broken)
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 300, 1)
    assert rejects(wh)["reason"].to_list() == ["invalid_json"]
