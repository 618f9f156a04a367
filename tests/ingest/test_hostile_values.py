"""Hostile values and archives a probe found: timestamps no calendar arithmetic survives, JSON
text that is half a character, JSON keys named twice, ZIP members sharing a name or their
bytes, blank Report IDs, and records of megabytes each (memory follows the chunk, not the
file)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.ingest.chunk import CHUNK_BYTES
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from cdr_pipeline.ingest.json_reader import read_json_chunks
from cdr_pipeline.ingest.sources import sources_of
from tests.ingest.helpers import Blocks, load, rejects, run_cdr, table
from tests.ingest.hostile_corpus import HEADER, REPORT_ID, USER, csv_bytes, line, records, rows

START = HEADER.index("Start time")


def test_a_timestamp_outside_any_calendar_day_is_quarantined(tmp_path: Path) -> None:
    body = rows(300, 61)
    body[5][START] = "0001-01-01T00:00:00.000Z"
    body[9][START] = "9999-12-31T23:00:00.000Z"
    path = tmp_path / "years.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    wh = tmp_path / "wh"
    # the command ends with the refresh, which a year 0001 call day had broken for good
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 0, done.stderr
    assert table(wh).height == 298
    bad = rejects(wh)
    assert bad["source_row"].to_list() == [7, 11]
    assert set(bad["reason"]) == {"bad_timestamp"}
    assert all("a timestamp of the years 2000-2099" in d for d in bad["detail"])
    again = run_cdr("--warehouse", str(wh), "build")
    assert again.returncode == 0, again.stderr


def test_a_reject_detail_shows_the_invisible_characters_of_its_value(tmp_path: Path) -> None:
    """A BOM inside a record (an export joined after one with its own BOM) or a zero-width
    space (pasted from a web page) left the value quoted in the reject's detail looking
    valid: "cannot parse '2026-…Z' as a timestamp" with nothing to see. The detail now
    shows them escaped; the raw text stays exactly as read."""
    body = rows(300, 61)
    good = body[5][START]
    body[5][START] = "\ufeff" + good
    body[9][START] = good.replace("T", "\u200bT", 1)
    path = tmp_path / "hidden.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    wh = tmp_path / "wh"
    load(wh, path, max_reject_rate=1.0)
    bad = rejects(wh).sort("source_row")
    assert bad["source_row"].to_list() == [7, 11]
    first, second = bad["detail"].to_list()
    assert "\\ufeff" + good in first and "\ufeff" not in first
    assert "\\u200bT" in second and "\u200b" not in second
    assert "\ufeff" + good in bad["raw_text"][0]


def test_a_json_line_with_half_a_character_is_quarantined_and_the_rest_load(
    tmp_path: Path,
) -> None:
    lines = [json.dumps(r) for r in records(200, 62)]
    lines[4] = lines[4].replace("Ann O'Brien", "Ann \\ud800 X")  # a lone surrogate escape
    assert "\\ud800" in lines[4]
    jsonl = tmp_path / "surrogate.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before, after = tmp_path / "b.csv", tmp_path / "a.csv"
    before.write_bytes(csv_bytes([line(r) for r in rows(20, 63)]))
    after.write_bytes(csv_bytes([line(r) for r in rows(20, 64)]))
    result = load(tmp_path / "wh", before, jsonl, after)
    assert [f.status for f in result.files] == ["loaded"] * 3, [f.message for f in result.files]
    (middle,) = [f for f in result.files if f.path.endswith("surrogate.jsonl")]
    assert (middle.rows_read, middle.rows_loaded, middle.rows_rejected) == (200, 199, 1)
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (5, "invalid_utf8")
    assert table(tmp_path / "wh").height == 239


def test_half_a_character_in_a_record_of_a_kind_with_secrets_is_quarantined(
    tmp_path: Path,
) -> None:
    """Activation events (and device lists) may carry an activation code, so a quarantined
    record's raw text is written again without it: that rewrite turned a lone `\\ud800`
    escape into half a character, which the rejects file cannot hold, and the whole run
    exited 1. The escape stays an escape; the other records load."""
    events = [
        {
            "event_time": f"2026-10-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "org_uuid": "0f000000-0000-4000-8000-000000000001",
            "device_id": f"D{i}",
            "event_type": "PROVISIONED",
            "actor": "it-admin@example.com",
            "activation_code": "ZXQ7SECRETK3Y9W2",
        }
        for i in range(200)
    ]
    lines = [json.dumps(e) for e in events]
    lines[4] = lines[4].replace("it-admin", "it-\\ud800-admin")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load(tmp_path / "wh", path)
    (f,) = result.files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 199, 1), f.message
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (5, "invalid_utf8")
    assert "it-\\ud800-admin" in bad["raw_text"] and "ZXQ7SECRETK3Y9W2" not in bad["raw_text"]


@pytest.mark.parametrize("block", [1, 5, 7, 11, 64, 8192])
def test_the_guard_finds_a_lone_surrogate_escape_however_the_blocks_fall(block: int) -> None:
    """The JSON guard sees the stream in blocks of any size: an escape, or a pair, cut
    between two blocks is still judged whole. A pair (an emoji as `json.dumps` writes it) and
    an escaped backslash before `ud800` (text) are no lone surrogate."""
    from cdr_pipeline.ingest.json_guard import JsonGuard
    from cdr_pipeline.ingest.limits import Limits

    def first_lone(text: str) -> tuple[int, str] | None:
        guard = JsonGuard(Blocks(text.encode(), block), Limits())  # type: ignore[arg-type]
        while guard.read(1 << 16):
            pass
        return guard.lone_surrogate

    fine = '{"a": "x \\ud83d\\ude00 y", "b": "\\\\ud800", "c": "\\uD83D\\uDE00"}'
    assert json.loads(fine)["a"] == "x \U0001f600 y" and first_lone(fine) is None
    high = '{"a": "x \\ud800 y"}'
    assert first_lone(high) == (high.index("\\"), "\\ud800")
    joined = '{"a": "\\ud800\\u0041"}'  # the C parser made one other character of these
    assert first_lone(joined) == (joined.index("\\"), "\\ud800")
    low = '{"a": "x\\udc00"}'  # a low one alone
    assert first_lone(low) == (low.index("\\"), "\\udc00")
    last = '{"a": "\\ud83d"}'  # a high one at the very end
    assert first_lone(last) == (last.index("\\"), "\\ud83d")
    assert first_lone(fine + high) == (len(fine) + high.index("\\"), "\\ud800")


def test_a_page_with_half_a_character_fails_whole_and_the_other_files_load(
    tmp_path: Path,
) -> None:
    """In a page (or array) the C parser read a lone `\\ud800` as `?` and
    `\\ud800\\u0041` as one other character: the file loaded other text than it holds, though
    docs/limits.md says such a file fails. It fails, naming the escape and its byte; a file
    whose text holds a pair (an emoji written by `json.dumps`) loads it whole."""
    page = {"items": records(50, 66)}
    page["items"][7]["User"] = "Ann \ud800 X"
    bad = tmp_path / "page_bad.json"
    bad.write_text(json.dumps(page), encoding="utf-8")  # ensure_ascii: the escape as written
    assert "\\ud800" in bad.read_text()
    good = tmp_path / "page_good.json"
    page = {"items": records(50, 67)}
    page["items"][0]["User"] = "Ann \U0001f600"
    good.write_text(json.dumps(page), encoding="utf-8")
    assert "\\ud83d\\ude00" in good.read_text()
    result = load(tmp_path / "wh", bad, good)
    failed, loaded = result.files
    assert failed.status == "failed" and loaded.status == "loaded", result.files
    assert "half a character (a lone \\ud800 escape) in record 8 (byte" in (failed.message or "")
    assert loaded.rows_loaded == 50
    users = table(tmp_path / "wh")["user_name"].to_list()
    assert "Ann \U0001f600" in users and not any("?" in str(u) for u in users)


@pytest.mark.parametrize("layout", ["lines", "page"])
def test_a_json_key_given_two_values_quarantines_its_record(tmp_path: Path, layout: str) -> None:
    """JSON leaves a key named twice undefined (parsers take the last value, or the first):
    the record loaded under its first `Report ID`, the second kept in `extra` as `Report
    ID_2` and named a new column. Two different values are ambiguous: the record is
    quarantined, naming the key; the same value twice, or a null beside a value, is that
    value (JSON lines and a page alike)."""
    recs = records(3, 65)
    texts = [json.dumps(r) for r in recs]
    texts[0] = '{"Report ID": "first-id", ' + texts[0][1:]  # then its own Report ID
    texts[1] = '{"Report ID": null, "Answered": "true", ' + texts[1][1:]
    rid = recs[2]["Report ID"]
    texts[2] = texts[2][:-1] + f', "Report ID": "{rid}"}}'
    path = tmp_path / "twice.json"
    body = "\n".join(texts) + "\n" if layout == "lines" else '{"items": [' + ",".join(texts) + "]}"
    path.write_text(body, encoding="utf-8")
    (f,) = load(tmp_path / "wh", path, max_reject_rate=1.0).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 2, 1), f.message
    assert "Report ID_2" not in (f.message or "") and f.unknown_columns == []
    got = table(tmp_path / "wh")
    assert sorted(got["report_id"].to_list()) == sorted([recs[1]["Report ID"], rid])
    (reject,) = rejects(tmp_path / "wh").iter_rows(named=True)
    assert reject["reason"] == "duplicate_key"
    assert "names 'Report ID' more than once with different values" in reject["detail"]


def test_zip_members_of_one_name_are_each_read(tmp_path: Path) -> None:
    path = tmp_path / "twice.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.csv", csv_bytes([line(r) for r in rows(2, 66)]))
        zf.writestr("x.csv", csv_bytes([line(r) for r in rows(3, 67)]))
    result = load(tmp_path / "wh", path)
    assert [(f.rows_read, f.rows_loaded) for f in result.files] == [(2, 2), (3, 3)]
    assert table(tmp_path / "wh").height == 5


def _overlapping_zip(path: Path) -> None:
    """Two entries of the directory pointing at one member's bytes (the trick of a ZIP bomb
    that keeps each entry under the limits)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", csv_bytes([line(r) for r in rows(3, 68)]))
        zf.writestr("b.csv", csv_bytes([line(r) for r in rows(3, 69)]))
    data = bytearray(path.read_bytes())
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    struct.pack_into("<I", data, second + 42, 0)  # b.csv's entry -> a.csv's local header
    path.write_bytes(bytes(data))


def test_a_zip_whose_members_overlap_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "overlap.zip"
    _overlapping_zip(path)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "overlap" in f.message
    # an ordinary archive of the same members is not
    with zipfile.ZipFile(tmp_path / "fine.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", csv_bytes([line(r) for r in rows(3, 68)]))
        zf.writestr("empty.csv", b"")
        zf.writestr("b.csv", csv_bytes([line(r) for r in rows(3, 69)]))
    assert len(sources_of(tmp_path / "fine.zip")) == 3


def _holey_zip(path: Path, hole: int) -> None:
    """Two members, then `hole` zero bytes (sparse: no disk) before the directory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", csv_bytes([line(r) for r in rows(3, 72)]))
        zf.writestr("b.csv", csv_bytes([line(r) for r in rows(3, 73)]))
    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    start = struct.unpack_from("<I", data, end + 16)[0]
    tail = bytearray(data[start:])
    struct.pack_into("<I", tail, end - start + 16, start + hole)  # the directory moved on
    with open(path, "wb") as fh:
        fh.write(data[:start])
        fh.seek(start + hole)
        fh.write(tail)


def test_a_zip_with_a_hole_that_belongs_to_no_member_is_refused(tmp_path: Path) -> None:
    """Bytes no member holds are read by nothing but the digest, which hashes the whole
    file: a sparse hole of 3 GB before the directory made two small members take 26 s to
    load (100 GB: a quarter of an hour). Past ZIP_SLACK of them the archive fails at once."""
    from cdr_pipeline.ingest.sources import ZIP_SLACK

    holey = tmp_path / "holey.zip"
    _holey_zip(holey, 2 << 30)
    (f,) = load(tmp_path / "wh", holey).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "bytes in a row that belong to no member" in f.message, f.message
    padded = tmp_path / "padded.zip"  # within the slack: its members load as before
    _holey_zip(padded, ZIP_SLACK // 2)
    assert len(sources_of(padded)) == 2


def test_a_blank_report_id_is_none(tmp_path: Path) -> None:
    body = rows(300, 70)
    body[0][REPORT_ID], body[1][REPORT_ID] = " ", "  "
    body[2][REPORT_ID] = f" {body[2][REPORT_ID]} "
    path = tmp_path / "blank.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.rows_loaded, f.rows_duplicate) == (300, 0), f.message
    ids = table(tmp_path / "wh")["report_id"]
    assert ids.str.starts_with("synth-").sum() == 2
    assert body[2][REPORT_ID].strip() in ids.to_list()


def test_chunks_of_long_records_end_by_bytes(tmp_path: Path) -> None:
    long = rows(12, 71)
    for r in long:
        r[USER] = "x" * (6 * 1024 * 1024)  # 6 MiB each: 72 MiB in all, within max_record_bytes
    stream = io.BytesIO(csv_bytes([line(r) for r in long]))
    header = read_header(stream)
    chunks = list(read_csv_body(stream, header, chunk_rows=25_000))
    assert sum(c.frame.height for c in chunks) == 12 and not any(c.rejects for c in chunks)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.frame.height == 1 or chunk.frame.estimated_size() <= CHUNK_BYTES
    assert pl.concat([c.frame for c in chunks])["c0"].to_list() == [r[0] for r in long]


def test_megabytes_of_empty_lines_keep_every_line_number() -> None:
    # blocks of nothing but empty lines are counted, not split: a CRLF may straddle two
    # blocks (the shift moves the block boundary between its CR and LF)
    first, second = rows(2, 72)
    for filler in (b"\n", b"\r\n"):
        for shift in (0, 1):
            blank = b"\n" * shift + filler * (5 * 1024 * 1024 // len(filler))
            data = csv_bytes([line(first)]) + blank + line(second) + filler * 3
            stream = io.BytesIO(data)
            header = read_header(stream)
            (chunk,) = list(read_csv_body(stream, header, chunk_rows=25_000))
            assert not chunk.rejects
            assert chunk.source_rows.tolist() == [2, 3 + blank.count(b"\n")]


def test_a_number_that_is_not_finite_is_quarantined(tmp_path: Path) -> None:
    """'nan' and 'inf' cast to a float, but no score or price is one: a NaN loaded turns
    every sum and average over it into NaN."""
    scores = ["4.5", "nan", "NaN", "inf", "-Infinity", "0.0"]
    body = [line([*r, s]) for r, s in zip(rows(len(scores), 65), scores, strict=True)]
    path = tmp_path / "scores.csv"
    path.write_bytes(csv_bytes(body, line([*HEADER, "Caller Reputation Score"])))
    load(tmp_path / "wh", path, max_reject_rate=1.0)
    assert table(tmp_path / "wh")["caller_reputation_score"].to_list() == [4.5, 0.0]
    bad = rejects(tmp_path / "wh")
    assert bad["source_row"].to_list() == [3, 4, 5, 6]
    assert set(bad["reason"]) == {"bad_number"}


def test_a_long_field_loads_whatever_its_neighbours_are(tmp_path: Path) -> None:
    """A field of 200 KB (a record well within max_record_bytes) loads in a clean chunk;
    beside a record that is not UTF-8, the chunk is screened record by record, and Python's
    csv refused the field (its own 128 KiB limit): the good record was quarantined as
    malformed_csv. Only the record that is not UTF-8 is."""
    body = [line(r) for r in rows(10, 71)]
    long_row = rows(10, 71)[2]
    long_row[USER] = "Z" * 200_000
    body[2] = line(long_row)
    body[6] = body[6][:40] + b"\xff" + body[6][40:]
    path = tmp_path / "long_field.csv"
    path.write_bytes(csv_bytes(body))
    wh = tmp_path / "wh"
    # within max_value_bytes, raised here: this is about the screening, not that limit
    (f,) = load(wh, path, max_reject_rate=1.0, max_value_bytes=1024 * 1024).files
    assert (f.rows_loaded, f.rows_rejected) == (9, 1)
    assert rejects(wh)["reason"].to_list() == ["invalid_utf8"]
    assert table(wh)["user_name"].str.len_chars().max() == 200_000


def test_records_joined_by_a_bare_cr_say_so_in_the_reject(tmp_path: Path) -> None:
    """Two records joined by a CR alone (old Mac line ending mid-file) are one line of too
    many fields: quarantined whole, and the detail says why; it said `found -1`."""
    body = [line(r) for r in rows(200, 72)]
    body[3] = body[3].rstrip(b"\r\n") + b"\r" + body[4]
    del body[4]
    path = tmp_path / "bare_cr.csv"
    path.write_bytes(csv_bytes(body))
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (199, 198, 1)
    (detail,) = rejects(wh)["detail"].to_list()
    assert "-1" not in detail
    assert "carriage return (CR) alone" in detail and "LF or CRLF" in detail


@pytest.mark.parametrize("neighbour", [False, True], ids=["alone", "beside_bad_utf8"])
def test_a_cr_inside_a_value_loads_whatever_its_neighbours_are(
    tmp_path: Path, neighbour: bool
) -> None:
    """A CR alone inside a value of a record with all its fields loads as polars reads it;
    beside a record that is not UTF-8 in its chunk, the chunk was screened by Python's csv,
    which refused it (`malformed_csv`, "do you need to open the file in universal-newline
    mode?"): the chunk size decided the record's fate."""
    body = rows(10, 74)
    body[2][USER] = "Front Desk"
    raw = [line(r) for r in body]
    raw[2] = raw[2].replace(b"Front Desk", b"Front\rDesk")  # unquoted, as a tool wrote it
    if neighbour:
        raw[5] = raw[5].replace(b"Reception", b"Rec\xffeption")
    path = tmp_path / "cr_value.csv"
    path.write_bytes(csv_bytes(raw))
    wh = tmp_path / "wh"
    (f,) = load(wh, path, max_reject_rate=1.0).files
    bad = int(neighbour)
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (10, 10 - bad, bad)
    assert "Front\rDesk" in table(wh)["user_name"].to_list()
    assert rejects(wh).is_empty() or rejects(wh)["reason"].to_list() == ["invalid_utf8"]


@pytest.mark.parametrize("layout", ["lines", "array", "page"])
def test_json_chunks_of_long_records_end_by_bytes(layout: str) -> None:
    """As CSV chunks: 40 JSON records of 15 MiB each held 2.3 GB at once in one chunk."""
    recs = records(12, 72)
    for r in recs:
        r["User"] = "x" * (6 * 1024 * 1024)  # 6 MiB each: 72 MiB in all, within max_record_bytes
    texts = [json.dumps(r).encode() for r in recs]
    data = {
        "lines": b"".join(t + b"\n" for t in texts),
        "array": b"[" + b",".join(texts) + b"]",
        "page": b'{"items": [' + b",".join(texts) + b"]}",
    }[layout]
    chunks = list(read_json_chunks(io.BytesIO(data), chunk_rows=25_000))
    assert sum(c.frame.height for c in chunks) == 12 and not any(c.rejects for c in chunks)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.frame.height == 1 or chunk.frame.estimated_size() <= CHUNK_BYTES
    assert [n for c in chunks for n in c.source_rows.tolist()] == list(range(1, 13))


def test_a_file_of_tiny_bad_records_fails_early_and_its_rejects_are_kept(tmp_path: Path) -> None:
    # 200,000 one-character lines (ragged rows): each was quarantined in turn, about 30 µs
    # apiece, so a few hundred MB of them took minutes; past 1 % of what the file can still
    # hold, the file cannot pass max_reject_rate whatever follows, and reading stops
    n = 200_000
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(csv_bytes([line(r) for r in rows(5, 70)] + [b"x\r\n"] * n))
    json_lines = tmp_path / "garbage.jsonl"  # a record first, so the kind is known
    json_lines.write_text(json.dumps(records(1, 74)[0]) + "\n" + "1\n" * n)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([line(r) for r in rows(50, 71)]))
    result = load(tmp_path / "wh", garbage, json_lines, good, chunk_rows=1000)
    by_name = {Path(f.path).name: f for f in result.files}
    for name in ("garbage.csv", "garbage.jsonl"):
        failed = by_name[name]
        assert failed.status == "failed" and failed.exit_code == 3, failed.message
        assert "reading stopped there" in (failed.message or "")
        # stopped within the first few percent, every record read still accounted for
        assert failed.rows_read < n // 10
        assert failed.rows_loaded == failed.rows_duplicate == 0
    assert by_name["good.csv"].status == "loaded" and by_name["good.csv"].rows_loaded == 50
    kept = rejects(tmp_path / "wh")
    assert kept.height == sum(by_name[n].rows_rejected for n in by_name)
    assert kept.height > 0 and table(tmp_path / "wh").height == 50


def test_bad_records_first_do_not_stop_a_file_whose_good_rows_can_still_make_up(
    tmp_path: Path,
) -> None:
    # 30 bad lines, then 5,000 good rows: 0.6 % rejected, under the 1 % limit. After the
    # first chunk 30 of 100 records are bad, but the rest of the file could (and does) bring
    # the share down: it must be read to its end and loaded (chunks of 10 took 27 s)
    body = [b"x\r\n"] * 30 + [line(r) for r in rows(5_000, 72)]
    path = tmp_path / "bad_first.csv"
    path.write_bytes(csv_bytes(body))
    result = load(tmp_path / "wh", path, chunk_rows=100)
    (file,) = result.files
    assert file.status == "loaded", file.message
    assert (file.rows_read, file.rows_loaded, file.rows_rejected) == (5_030, 5_000, 30)


def test_a_field_of_megabytes_is_quarantined_and_the_rest_of_the_file_loads(
    tmp_path: Path,
) -> None:
    # rows of megabytes each, within max_record_bytes, took the partition merge past its
    # memory: exit 6 for the whole run, good files included, every night the file stayed
    body = rows(300, 73)
    body[10][USER] = "A" * 200_000  # a known column
    header = [*HEADER, "Some new column"]  # an unknown one, kept in `extra`
    lines = [line([*r, "x" * 70_000 if i == 20 else "ok"]) for i, r in enumerate(body)]
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes(lines, header=line(header)))
    result = load(tmp_path / "wh", path)
    (file,) = result.files
    assert file.status == "loaded", file.message
    assert (file.rows_loaded, file.rows_rejected) == (298, 2)
    bad = rejects(tmp_path / "wh")
    assert bad["source_row"].to_list() == [12, 22]
    assert set(bad["reason"]) == {"value_too_long"}
    assert "over max_value_bytes (65,536)" in bad["detail"][0]
    # which field: the column as the file spells it, or the unknown ones together
    assert bad["detail"][0].startswith("User: 200000 bytes"), bad["detail"][0]
    assert bad["detail"][1].startswith("the unknown columns (kept in 'extra'): "), bad["detail"][1]
    assert len(bad["raw_text"][0]) > 200_000  # kept whole
    # raised for values this long that are genuine, they load
    again = load(tmp_path / "wh2", path, max_value_bytes=1024 * 1024)
    assert again.files[0].rows_loaded == 300


def test_a_zip_member_name_marked_utf8_that_is_not_fails_that_file_alone(tmp_path: Path) -> None:
    """An entry whose name is flagged UTF-8 (bit 11) but holds a byte that is not: zipfile
    refuses the whole archive with UnicodeDecodeError, which ended the run as a bug (exit 1)
    before any file loaded. The archive fails alone (exit 3), named; the others load."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Xexport.csv", csv_bytes([line(r) for r in rows(5, 93)]))
    data = bytearray(buf.getvalue())
    for magic, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central entry
        at = data.index(magic)
        data[at + flags + 1] |= 0x08  # bit 11 of the flags: the name is UTF-8
    data[data.index(b"Xexport")] = 0xFF  # in the local entry
    data[data.rindex(b"Xexport")] = 0xFF  # and in the central directory
    bad = tmp_path / "names.zip"
    bad.write_bytes(bytes(data))
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([line(r) for r in rows(5, 94)]))
    wh = tmp_path / "wh"
    done = run_cdr("--warehouse", str(wh), "ingest", str(bad), str(good))
    assert done.returncode == 3, done.stderr
    assert f"{bad}: looks like a ZIP archive but cannot be opened" in done.stderr
    assert "not UTF-8" in done.stderr
    assert table(wh).height == 5
