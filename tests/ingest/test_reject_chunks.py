"""Records that never split into fields (a stray or unclosed quote) wait for the next chunk of
good records; a file of nothing else held all of them until its end: 800 lines of 1 MiB took
`cdr ingest` to 1.1 GB, 400 of them to 0.7 GB, memory following the file. Their raw text now
ends a chunk at `CHUNK_BYTES`, as records do."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pytest

from cdr_pipeline.ingest import csv_split, limits
from cdr_pipeline.ingest.chunk import CHUNK_BYTES, RawReject
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from tests.ingest.helpers import load
from tests.ingest.hostile_corpus import csv_bytes, line, rows

LONG = 512 * 1024


def test_a_file_of_records_that_never_split_is_read_a_chunk_at_a_time() -> None:
    body = [b'x"y' + b"a" * LONG + b"\r\n" for _ in range(100)]  # 50 MiB of stray quotes
    good = [line(r) for r in rows(3, 74)]
    stream = io.BytesIO(csv_bytes(body + good))
    header = read_header(stream)
    chunks = list(read_csv_body(stream, header, chunk_rows=25_000))
    assert len(chunks) >= 2
    for chunk in chunks:
        assert sum(len(r.raw_text) for r in chunk.rejects) <= CHUNK_BYTES + LONG + 3
    rejects = [r for c in chunks for r in c.rejects]
    assert [r.source_row for r in rejects] == list(range(2, 102))
    assert {r.reason for r in rejects} == {"stray_quote"}
    assert sum(c.frame.height for c in chunks) == 3


def test_a_stray_quote_on_every_line_is_split_in_work_linear_in_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After each quarantined line the rest of the 4 MiB read block was split again: 80,000
    lines of `x"y` (320 KB) took 74 s, a 20 MB file over ten minutes. The bytes handed to
    the splitter now grow with the lines, not with their square; a good record between them
    still loads, each line keeps its number."""
    split_bytes = 0
    real = csv_split._split_records

    def counting(buf: bytes, first_line: int, sep: int = 44, fields: int = 0) -> Any:
        nonlocal split_bytes
        split_bytes += len(buf)
        return real(buf, first_line, sep, fields)

    monkeypatch.setattr(csv_split, "_split_records", counting)
    good = line(rows(1, 74)[0])
    data = csv_bytes([b'x"y\r\n'] * 20_000 + [good] + [b'x"y\r\n'] * 20_000)
    stream = io.BytesIO(data)
    chunks = list(read_csv_body(stream, read_header(stream), chunk_rows=25_000))
    rejects = [r for c in chunks for r in c.rejects]
    assert len(rejects) == 40_000 and {r.reason for r in rejects} == {"stray_quote"}
    assert [r.source_row for r in rejects[19_999:20_001]] == [20_001, 20_003]
    assert sum(c.frame.height for c in chunks) == 1
    # a window per quarantined line, and the file about twice (the block, then windows)
    assert split_bytes <= csv_split.SPLIT_WINDOW * len(rejects) + 2 * len(data)


def test_a_file_of_nothing_but_stray_quotes_stops_at_the_reject_gate(wh: Path) -> None:
    """Rejects alone ended no chunk before `CHUNK_BYTES` of them, so the gate that stops
    reading a file bound to fail looked only after millions of short lines."""
    path = wh.parent / "stray_quotes.csv"
    path.write_bytes(csv_bytes([b'x"y\r\n'] * 200_000))
    (f,) = load(wh, path, chunk_rows=1_000).files
    assert f.status == "failed" and "reading stopped there" in f.message
    assert f.rows_rejected < 20_000


def test_a_record_longer_than_the_read_block_after_a_broken_line_is_split_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window after a quarantined line stopped growing at 4 MiB: a quoted record longer
    than that (max_record_bytes allows 16 MiB) came back unfinished from the same window
    forever, and the ingest never ended. Counted splits stand in for a hang."""
    calls = 0
    real = csv_split._split_records

    def counting(buf: bytes, first_line: int, sep: int = 44, fields: int = 0) -> Any:
        nonlocal calls
        calls += 1
        assert calls < 100, "the window stopped growing"
        return real(buf, first_line, sep, fields)

    monkeypatch.setattr(csv_split, "_split_records", counting)
    record = b'a,"' + b"x" * 1000 + (b"\n" + b"x" * 1000) * 5000 + b'",c\n'  # 5 MB
    buf = b'x"y,1,2\n' + record + b"d,e,f\n" * 1000
    gen = csv_split._resync(buf, 2, True, False, ord(","), 16 * 1024 * 1024, 3)
    items = []
    with pytest.raises(StopIteration) as stop:
        while True:
            items.append(next(gen))
    assert stop.value.value == (b"", 2 + 1 + 5_001 + 1_000)  # nothing left; the next line
    assert [r.reason for r in items if isinstance(r, RawReject)] == ["stray_quote"]
    assert sum(len(s) for s in items if not isinstance(s, RawReject)) == 1_001


def test_a_file_read_to_its_end_does_not_say_reading_stopped(wh: Path) -> None:
    """A small file read whole in one chunk, most of it rejected, failed with "reading
    stopped there: the rest of the file could not bring the share under the limit": there
    was no rest, every record had been read and counted."""
    path = wh.parent / "mostly_stray.csv"
    path.write_bytes(csv_bytes([b'x"y\r\n'] * 50 + [line(r) for r in rows(10, 74)]))
    (f,) = load(wh, path).files
    assert f.status == "failed" and f.rows_read == 60, f.message
    assert "reading stopped" not in f.message


def _ragged_gzip(path: Path, n: int, width: int) -> Path:
    """A gzip of `n` ragged rows (a field too many) of about `width` bytes, packed far under
    `max_unpacked_ratio` but below its 64 MiB floor: the gate counted room for 32 million
    records of two bytes after them."""
    good = line(rows(1, 81)[0]).rstrip(b"\r\n")
    bad = good + b"," + b"x" * max(width - len(good), 1) + b"\r\n"
    path.write_bytes(gzip.compress(csv_bytes([bad] * n), compresslevel=1))
    return path


def test_a_compressed_file_of_long_ragged_rows_stops_early(
    wh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row bomb: 5 MB of gzip unpacking to 1 GB of ragged rows of 950 bytes, under the
    ratio limit, was read to its end to fail the gate (107 s, 1.1 million rows quarantined):
    each record to come was counted two bytes. A record that loads has all its fields, and
    a file of mostly bad rows has rows as long as those read."""
    monkeypatch.setattr(limits, "MOSTLY_BAD_RECORDS", 500)  # the file, 4,000 rows, stays small
    path = _ragged_gzip(wh.parent / "bomb.csv.gz", 4_000, 950)
    (f,) = load(wh, path, chunk_rows=500).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "reading stopped there" in f.message, f.message
    assert f.rows_read <= 1_000 and f.rows_rejected == f.rows_read  # every row accounted for


def test_the_early_stop_counts_a_loadable_record_by_its_separators() -> None:
    # 35,000 ragged rows of 950 bytes of a 63-column DCH export read, 1.3 GB allowed
    reasons, read, done, most = {"ragged_row": 35_000}, 35_000, 33_250_000, 1_340_000_000
    assert not limits.rate_out_of_reach(35_000, read, most - done, 0.01)  # 2 bytes a record
    assert limits.bound_to_fail(reasons, read, done, most, 0.01, columns=63)
    # a few bad rows among good ones read on, whatever their length
    assert not limits.bound_to_fail({"ragged_row": 300}, read, done, most, 0.01, columns=63)
    # mostly bad, long rows, but a 2-column header and too few read to judge their length
    assert not limits.bound_to_fail({"ragged_row": 5_000}, 5_000, 4_750_000, most, 0.01, 2)
    # a genuine file whose first 10,000 rows are mostly bad: 6,000 of them before a million
    # good rows of their length (0.6 %), a plain file of 950 MB, reads on
    assert not limits.bound_to_fail({"ragged_row": 6_000}, 10_000, 9_500_000, 959_500_000, 0.01)
