"""Records that never split into fields (a stray or unclosed quote) wait for the next chunk of
good records; a file of nothing else held all of them until its end: 800 lines of 1 MiB took
`cdr ingest` to 1.1 GB, 400 of them to 0.7 GB, memory following the file. Their raw text now
ends a chunk at `CHUNK_BYTES`, as records do."""

from __future__ import annotations

import io

from cdr_pipeline.ingest.chunk import CHUNK_BYTES
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
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
