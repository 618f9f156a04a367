"""The records a hostile file holds are all accounted for, rejects keep their whole raw text,
and every input limit is a setting: crossing it fails the file with exit 3 and names the
setting; raising it lets a genuine file through."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.ingest.sources import zip_directory
from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, USER, csv_bytes, line, records, rows


def test_a_stray_quote_costs_one_record_not_the_rest_of_the_file(wh: Path, tmp_path: Path) -> None:
    # the issue's case: 1,970 rows, a caller named O"Brien written unquoted on row 101
    body = [line(r) for r in rows(1970, 41)]
    bad = rows(1970, 41)[100]
    bad[USER] = "Ann O'Brien"
    body[100] = line(bad).replace(b"O'Brien", b'O"Brien')
    src = tmp_path / "stray.csv"
    src.write_bytes(csv_bytes(body))
    result = load(wh, src)  # default 1 % gate: one reject in 1,970 passes
    f = result.files[0]
    assert result.exit_code == 0 and f.status == "loaded"
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (1970, 1969, 1)
    rj = rejects(wh)
    assert rj["reason"].to_list() == ["stray_quote"] and rj["source_row"].to_list() == [102]
    assert rj["raw_text"][0].encode() + b"\r\n" == body[100]


def test_two_unpaired_quotes_lines_apart_do_not_swallow_the_records_between(
    wh: Path, tmp_path: Path
) -> None:
    """`"Ann Lee` on one line and `Ann Lee"` ten lines later, both in the User field: the
    two quotes paired up into one value of eleven lines, a record with all its fields that
    loaded; the nine records between them were lost, exit 0, no word. A record of many lines
    whose second line is a record on its own is two broken lines, each quarantined."""
    body = rows(60, 48)
    for r in body:
        r[USER] = "Ann Lee"
    raw = [line(r) for r in body]
    raw[5] = raw[5].replace(b"Ann Lee", b'"Ann Lee')
    raw[15] = raw[15].replace(b"Ann Lee", b'Ann Lee"')
    src = tmp_path / "pair.csv"
    src.write_bytes(csv_bytes(raw))
    f = load(wh, src, max_reject_rate=1.0).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (60, 58, 2)
    rj = rejects(wh)
    assert rj["source_row"].to_list() == [7, 17]
    assert set(rj["reason"]) == {"stray_quote"}
    assert table(wh)["user_name"].to_list() == ["Ann Lee"] * 58


def test_a_long_reject_keeps_its_whole_raw_text(wh: Path, tmp_path: Path) -> None:
    body = [line(r) for r in rows(5, 42)]
    body[2] = body[2].rstrip(b"\r\n") + b"," + b"x" * 300_000 + b"\r\n"  # ragged and long
    src = tmp_path / "long_reject.csv"
    src.write_bytes(csv_bytes(body))
    result = load(wh, src, max_reject_rate=1.0)
    assert (result.files[0].rows_read, result.files[0].rows_rejected) == (5, 1)
    raw = rejects(wh)["raw_text"][0]
    assert len(raw) > 300_000 and raw.encode() + b"\r\n" == body[2]


def test_a_json_lines_file_broken_mid_way_keeps_every_other_line(wh: Path, tmp_path: Path) -> None:
    recs = [json.dumps(r) for r in records(8, 43)]
    recs[4] = recs[4][:50]  # cut mid-record
    src = tmp_path / "broken.jsonl"
    src.write_text("\n".join(recs) + "\n")
    f = load(wh, src, max_reject_rate=1.0).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (8, 7, 1)
    rj = rejects(wh)
    assert rj["reason"].to_list() == ["invalid_json"] and rj["source_row"].to_list() == [5]
    assert rj["raw_text"][0] == recs[4]


@pytest.mark.parametrize("broken", ['{"Start time": "2026-10-01T00:00:00Z",}', "cut"])
def test_a_json_lines_file_whose_first_line_is_broken_keeps_every_other_line(
    wh: Path, tmp_path: Path, broken: str
) -> None:
    """Only the first line says the layout: broken (a trailing comma, a record cut short),
    it failed the whole file ('the JSON breaks after record 0') where any other line is
    quarantined. The next line, an object on its own, says it is JSON lines."""
    recs = [json.dumps(r) for r in records(8, 45)]
    recs[0] = recs[0][:50] if broken == "cut" else broken
    src = tmp_path / "first_broken.jsonl"
    src.write_text("\n".join(recs) + "\n")
    f = load(wh, src, max_reject_rate=1.0).files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 8, 7, 1)
    rj = rejects(wh)
    assert rj["reason"].to_list() == ["invalid_json"] and rj["source_row"].to_list() == [1]
    assert rj["raw_text"][0] == recs[0]


def test_one_object_over_many_lines_is_still_read_whole(wh: Path, tmp_path: Path) -> None:
    """A record spread over lines (its first line `{`, no object alone) is no JSON lines."""
    src = tmp_path / "pretty.json"
    src.write_text("\n".join(json.dumps(r, indent=1) for r in records(3, 46)) + "\n")
    f = load(wh, src).files[0]
    assert (f.status, f.rows_read, f.rows_loaded) == ("loaded", 3, 3)


def test_runs_of_blank_lines_in_json_lines_keep_the_line_numbers(wh: Path, tmp_path: Path) -> None:
    """Blank and whitespace-only lines (LF and CRLF, runs longer than a read buffer) between
    records are skipped in bulk: the records load and a broken one is named by its line."""
    recs = [json.dumps(r).encode() for r in records(4, 44)]
    recs[2] = recs[2][:40]
    gaps = [b"\n" * 3, b" \t\r\n" * 5000 + b"   ", b"\r\n" * 20_000]
    body = recs[0] + b"\n" + gaps[0] + recs[1] + b"\n" + gaps[1] + recs[2] + b"\n"
    body += gaps[2] + recs[3] + b"\n" + b"\n" * 70_000
    src = tmp_path / "gaps.jsonl"
    src.write_bytes(body)
    f = load(wh, src, max_reject_rate=1.0).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 3, 1)
    broken_line = 1 + 3 + 1 + 5000 + 1  # the spaces after the run begin its line
    rj = rejects(wh)
    assert rj["source_row"].to_list() == [broken_line]
    assert rj["raw_text"][0] == recs[2].decode()
    rows = table(wh, lineage=True).sort("source_row")["source_row"].to_list()
    assert rows == [1, 5, broken_line + 1 + 20_000]


def test_unpacked_size_limit_is_a_setting(wh: Path, tmp_path: Path) -> None:
    src = tmp_path / "export.csv.gz"
    src.write_bytes(gzip.compress(csv_bytes([line(r) for r in rows(4000, 44)])))
    failed = load(wh, src, max_unpacked_bytes=1024 * 1024)
    assert failed.exit_code == 3
    assert "max_unpacked_bytes" in failed.files[0].message and table(wh).is_empty()
    assert load(wh, src).files[0].rows_loaded == 4000


def test_json_depth_limit_is_a_setting(wh: Path, tmp_path: Path) -> None:
    recs = records(3, 45)
    nested: object = "leaf"
    for _ in range(80):
        nested = [nested]
    recs[1]["Nested"] = nested
    src = tmp_path / "nested.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    failed = load(wh, src)  # the line is quarantined (too_deep): 1 of 3 fails the gate
    assert failed.exit_code == 3 and "max_json_depth (64)" in failed.files[0].message
    assert dict(failed.files[0].top_reasons) == {"too_deep": 1}
    assert "hint: records nest deeper than max_json_depth" in failed.files[0].message
    assert table(wh).is_empty()
    ok = load(wh, src, max_json_depth=100).files[0]
    assert (ok.status, ok.rows_read, ok.rows_loaded) == ("loaded", 3, 3)


def test_column_and_header_limits_are_settings(wh: Path, tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_bytes(csv_bytes([line(r) for r in rows(3, 46)]))
    narrow = load(wh, src, max_columns=10)
    assert narrow.exit_code == 3 and "max_columns (10)" in narrow.files[0].message
    short = load(wh, src, max_header_bytes=4096, max_columns=len(HEADER))
    assert short.files[0].rows_loaded == 3


def test_a_record_longer_than_a_lowered_max_record_bytes_fails_the_file(
    wh: Path, tmp_path: Path
) -> None:
    """Only a record crossing a 4 MiB read block was measured: with max_record_bytes = 4096
    a line of 10 KB inside the first block loaded, exit 0, while one of 5 MB failed."""
    body = rows(30, 47)
    body[20][USER] = "x" * 10_000
    src = tmp_path / "export.csv"
    src.write_bytes(csv_bytes([line(r) for r in body]))
    lowered = load(wh, src, max_record_bytes=4096)
    (f,) = lowered.files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 22: a line longer than max_record_bytes (4,096 bytes)" in f.message
    assert load(wh, src).files[0].rows_loaded == 30  # the default holds it


def test_a_zip_of_too_many_entries_fails_before_it_is_opened(wh: Path, tmp_path: Path) -> None:
    """Each member is loaded and recorded on its own (a quarter of a second apiece): 2,000
    tiny members took over ten minutes. Counted from the archive's end record, so zipfile
    never builds an object per entry either."""
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(1001):
            zf.writestr(f"part-{i:04d}.csv", b"")
    failed = load(wh, many)
    assert failed.exit_code == 3 and len(failed.files) == 1
    assert "lists 1,001 entries, more than max_zip_members (1,000)" in failed.files[0].message
    # the limit is a setting
    few = tmp_path / "few.zip"
    with zipfile.ZipFile(few, "w") as zf:
        for i in range(3):
            zf.writestr(f"part-{i}.csv", csv_bytes([line(r) for r in rows(1, 48 + i)]))
    assert "max_zip_members (2)" in load(wh, few, max_zip_members=2).files[0].message
    assert table(wh).is_empty()
    assert load(wh, few, max_zip_members=3).exit_code == 0 and table(wh).height == 3


def test_a_bomb_spread_over_the_members_of_a_zip_fails_once_its_floor_is_spent(
    wh: Path, tmp_path: Path
) -> None:
    """Each member's ratio limit applies once 64 MiB came out of it: members of 20 MiB of
    separator lines each (packed a thousandfold) were all read to the end, however many
    (a hundred of them took two minutes), and loaded as files with a header and nothing
    else. The archive's members count together: past 64 MiB of them, the rest fail."""
    header = ",".join(HEADER).encode() + b"\r\n"
    empty = b"," * (len(HEADER) - 1) + b"\r\n"
    filler = header + empty * (20 * 1024 * 1024 // len(empty))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("calls.csv", csv_bytes([line(r) for r in rows(5, 49)]))
        for i in range(5):
            zf.writestr(f"filler-{i}.csv", filler)
    result = load(wh, bomb)
    by_name = {f.source.rsplit("!", 1)[-1]: f for f in result.files}
    assert by_name["calls.csv"].rows_loaded == 5 and table(wh).height == 5
    failed = [n for n, f in by_name.items() if f.status == "failed"]
    assert failed == ["filler-3.csv", "filler-4.csv"], by_name
    message = by_name["filler-3.csv"].message
    assert "more than 200 times their compressed size" in message and result.exit_code == 3


def _zip(path: Path, entries: int, comment: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.comment = comment
        for i in range(entries):
            zf.writestr(f"e{i}", b"x")
    return path


def _entries(path: Path) -> int | None:
    directory = zip_directory(path)
    return None if directory is None else directory[0]


def test_zip_entries_reads_the_end_record_as_zipfile_does(tmp_path: Path) -> None:
    """ZIP64 (more than 65,535 entries), a comment holding the record's signature, bytes
    appended after the archive, and no end record at all."""
    assert _entries(_zip(tmp_path / "big.zip", 70_000)) == 70_000
    assert _entries(_zip(tmp_path / "comment.zip", 3, b"see PK\x05\x06 in here")) == 3
    appended = _zip(tmp_path / "appended.zip", 4)
    with appended.open("ab") as fh:
        fh.write(b"\0" * 100)
    assert _entries(appended) == 4 == len(zipfile.ZipFile(appended).infolist())
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 and nothing else")
    assert _entries(tmp_path / "not.zip") is None


def test_a_zip_whose_end_record_understates_its_entries_still_fails(
    wh: Path, tmp_path: Path
) -> None:
    """zipfile reads the central directory by its size, not by the count the end record
    states: a hostile archive stating 1 entry for 1,500 is counted once opened, and one
    whose directory is larger than the permitted entries can be fails before."""
    liar = _zip(tmp_path / "liar.zip", 1500)
    data = bytearray(liar.read_bytes())
    at = data.rindex(b"PK\x05\x06")
    data[at + 8 : at + 12] = (1).to_bytes(2, "little") * 2  # entries on this disk, in all
    liar.write_bytes(bytes(data))
    assert _entries(liar) == 1
    failed = load(wh, liar)
    assert failed.exit_code == 3 and len(failed.files) == 1
    assert "lists 1,500 entries, more than max_zip_members (1,000)" in failed.files[0].message
    # the directory's own size bounds what zipfile reads: 1,500 entries of 46 bytes and more
    # are past what 10 permitted members can take (10 x 4 KiB)
    directory = zip_directory(liar)
    assert directory is not None and directory[1] > 1500 * 46
    small = load(wh, liar, max_zip_members=10)
    assert "a " in small.files[0].message and "-byte directory" in small.files[0].message
    assert table(wh).is_empty()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CDR_MAX_JSON_DEPTH": "5000"}, "max_json_depth.*must be between 4 and 1,000"),
        ({"CDR_MAX_RECORD_BYTES": "10"}, "max_record_bytes.*between 4,096 and 1,073,741,824"),
        ({"CDR_MAX_UNPACKED_RATIO": "x"}, "bad value for 'max_unpacked_ratio'"),
        ({"CDR_FILE_MODE": "0666"}, "file_mode.*must give the owner"),
    ],
)
def test_limit_settings_are_range_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_limit_settings_come_from_the_environment() -> None:
    s = load_settings(env={"CDR_MAX_JSON_DEPTH": "200", "CDR_FILE_MODE": "0640"})
    assert (s.max_json_depth, s.file_mode) == (200, 0o640)


def _on_days(n: int, tag: int) -> list[bytes]:
    """`n` legs, the i-th moved i days later (each on a day of its own)."""
    out = []
    for i, row in enumerate(rows(n, tag)):
        for at, cell in enumerate(row):
            if len(cell) > 19 and cell[4] == "-" and cell[10] == "T":
                moved = datetime.fromisoformat(cell) + timedelta(days=i)
                row[at] = moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(line(row))
    return out


def test_a_file_spanning_too_many_days_fails_naming_the_first_day_too_many(
    wh: Path, tmp_path: Path
) -> None:
    """Each day is a partition staged with a writer of its own held open, then merged and
    refreshed on its own: 3,000 legs a day apart (a 1.5 MB file) took 1.5 GB and four
    minutes, and a hundred years of days would take fifteen times that (or run out of file
    handles, failing as 'cannot read file')."""
    src, other = tmp_path / "decades.csv", tmp_path / "other.csv"
    src.write_bytes(csv_bytes(_on_days(12, 51)))
    other.write_bytes(csv_bytes([line(r) for r in rows(3, 52)]))
    failed = load(wh, src, other, max_file_days=10)
    assert failed.exit_code == 3
    bad, good = failed.files
    assert bad.status == "failed" and good.status == "loaded", failed.files
    assert bad.message is not None and bad.message.startswith(
        f"{src} line 12: records on more than max_file_days (10) different days"
    ), bad.message
    assert "raise max_file_days" in bad.message
    assert table(wh).height == 3  # nothing of the failed file is published
    loaded = load(wh, src, max_file_days=12)
    assert loaded.exit_code == 0 and table(wh).height == 15
    assert table(wh)["call_date"].n_unique() == 12 + 1


@pytest.mark.parametrize("block", [4096, None], ids=["crossing_blocks", "within_a_block"])
def test_a_quoted_field_of_many_lines_past_max_record_bytes_fails_naming_its_line(
    wh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int | None
) -> None:
    """One record longer than max_record_bytes, a quoted field of many lines: crossing the
    read blocks it was read as an `unbalanced_quote` and each line after as a `ragged_row`
    (the file failed the reject gate with a spreadsheet's advice); within one block, it
    loaded. Either way the file fails, naming the record's line and the setting."""
    import cdr_pipeline.ingest.csv_split as splitter

    if block:
        monkeypatch.setattr(splitter, "READ_BYTES", block)
    body = rows(200, 51)  # past the header reader's first 64 KiB: then read block by block
    body[150][USER] = "note line\n" * 3000  # 30 KB over 3,001 lines
    src = tmp_path / "export.csv"
    src.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, src, max_record_bytes=16384).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 0)
    assert "line 152: a record longer than max_record_bytes (16,384 bytes) begins" in f.message
    assert "raise max_record_bytes" in f.message and "ragged" not in f.message
    assert rejects(wh).is_empty()
    # a genuine record that long loads once the limit is raised
    (ok,) = load(wh, src, max_record_bytes=65536).files
    assert (ok.status, ok.rows_loaded) == ("loaded", 200)
    assert table(wh).filter(user_name=body[150][USER]).height == 1
