"""A quarantined record that is not UTF-8 keeps its bytes: `raw_text` shows each such byte
as U+FFFD (as before), and `raw_bytes` holds the line exactly as in the file, so the
quarantine loses nothing. Before, the bytes were gone (`Müller` in Windows-1252 and in
ISO-8859-15 both came out `M\ufffdller`), and only the original file could tell them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.privacy.reject_texts import expire_reject_texts
from tests.ingest.helpers import load, rejects, settings
from tests.ingest.hostile_corpus import USER, csv_bytes, line, records, rows


def _latin1_line(row: list[str], name: str = "Müller, Jürgen") -> bytes:
    row = list(row)
    row[USER] = name
    return line(row).decode("utf-8").encode("latin-1")


def test_csv_rejects_keep_the_bytes_that_are_not_utf8(wh: Path) -> None:
    body = [line(r) for r in rows(300, 41)]
    body[9] = _latin1_line(rows(300, 41)[9])  # invalid_utf8
    body[20] = body[20][:-2] + b',"O\xd6"Brien\r\n'  # stray_quote, a Latin-1 byte in it
    body[30] = body[30][:-2] + b",\xe9\xe8\r\n"  # ragged_row (one field too many)
    path = wh.parent / "latin1.csv"
    path.write_bytes(csv_bytes(body))
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 297, 3), f.message
    bad = rejects(wh)
    assert bad["reason"].to_list() == ["invalid_utf8", "stray_quote", "ragged_row"]
    for reject, raw in zip(bad.to_dicts(), (body[9], body[20], body[30]), strict=True):
        assert reject["raw_bytes"] == raw.removesuffix(b"\r\n")
        assert reject["raw_text"] == reject["raw_bytes"].decode("utf-8", "replace")
    assert "M\ufffdller, J\ufffdrgen" in bad["raw_text"][0]  # readable, as before


def test_rejects_of_utf8_lines_hold_no_bytes(wh: Path) -> None:
    body = [line(r) for r in rows(300, 42)]
    body[3] = body[3][:-2] + ',"Jürgen"x\r\n'.encode()  # stray quote, valid UTF-8
    path = wh.parent / "utf8.csv"
    path.write_bytes(csv_bytes(body))
    load(wh, path)
    (reject,) = rejects(wh).to_dicts()
    assert reject["reason"] == "stray_quote" and "Jürgen" in reject["raw_text"]
    assert reject["raw_bytes"] is None


def test_a_json_line_that_is_not_utf8_keeps_its_bytes(wh: Path) -> None:
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records(300, 43)]
    lines[4] = lines[4].replace(b'"User": "', b'"User": "M\xfcller ')
    path = wh.parent / "latin1.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (299, 1), f.message
    (reject,) = rejects(wh).to_dicts()
    assert (reject["source_row"], reject["reason"]) == (5, "invalid_json")
    assert reject["raw_bytes"] == lines[4]
    assert "M\ufffdller" in reject["raw_text"]


def test_retention_empties_the_bytes_too_and_reads_older_rejects_files(wh: Path) -> None:
    body = [line(r) for r in rows(300, 44)]
    body[9] = _latin1_line(rows(300, 44)[9])
    path = wh.parent / "latin1.csv"
    path.write_bytes(csv_bytes(body))
    load(wh, path)
    (held,) = (wh / "rejects").rglob("*.parquet")
    # a rejects file written before `raw_bytes` was added: the pass empties what it has
    older = held.with_name("older.parquet")
    pq.write_table(pq.read_table(held).drop_columns(["raw_bytes"]), older)
    done = expire_reject_texts(settings(wh).layout, datetime.now(UTC) + timedelta(days=1))
    assert sorted(e.file for e in done) == sorted(f"call_legs/{p.name}" for p in (held, older))
    after = pq.read_table(held)
    assert after["raw_bytes"].to_pylist() == [None] and after["raw_text"].to_pylist() == [None]
    assert after.schema.field("raw_bytes").type == pa.binary()
    assert pq.read_table(older)["raw_text"].to_pylist() == [None]
    assert b"J\xfcrgen" not in held.read_bytes() and "Jürgen".encode() not in held.read_bytes()


def test_the_bytes_of_a_line_with_a_secret_are_kept_without_it(wh: Path) -> None:
    """An activation code is never stored: the bytes are those of the line as redacted."""
    header = b"event_time,org_uuid,device_id,event_type,actor,activation_code\n"
    body = [
        f"2026-10-01T00:00:{i:02d}Z,0f000000-0000-4000-8000-000000000001,D{i},"
        f"ACTIVATION_CODE_ISSUED,admin@example.com,ZXQ7SECRETK3Y9W{i:02d}\n".encode()
        for i in range(50)
    ]
    body[5] = body[5].replace(b"admin@", b"J\xfcrgen@")
    path = wh.parent / "events.csv"
    path.write_bytes(header + b"".join(body))
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.rows_loaded, f.rows_rejected) == (49, 1), f.message
    (reject,) = rejects(wh).to_dicts()
    assert reject["reason"] == "invalid_utf8"
    assert reject["raw_bytes"] == body[5].rstrip(b"\n").replace(b"ZXQ7SECRETK3Y9W05", b"[redacted]")
    assert "SECRET" not in reject["raw_text"] and "J\ufffdrgen@" in reject["raw_text"]


def test_the_bytes_count_towards_the_writer_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line that is not UTF-8 is held twice (text and bytes): a file of such lines of
    megabytes each held twice the bytes the writer's bound meant."""
    from cdr_pipeline.ingest import rejects as module
    from cdr_pipeline.ingest.chunk import raw_str

    monkeypatch.setattr(module, "FLUSH_BYTES", 100)
    writer = module.RejectWriter(tmp_path / "r.parquet", "run", "call_legs", "f.csv")
    writer.add(2, "invalid_utf8", "byte 0", raw_str(b"\xfc" + b"x" * 59))
    assert writer.buffer == []  # flushed: 60 characters of text and 60 bytes
    writer.close()
    (row,) = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert row["raw_bytes"] == b"\xfc" + b"x" * 59
