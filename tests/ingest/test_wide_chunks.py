"""A CSV header of up to `max_columns` (2,000) columns with values of a byte or two: a 32 MiB
chunk held 7,000 records, 14 million fields, and the parse and the `extra` JSON of the
unknown columns took the process to 2.1 GB, past the 1 GiB docs/limits.md promises. A chunk ends at
`CHUNK_FIELDS` fields too."""

from __future__ import annotations

import io

import polars as pl

from cdr_pipeline.ingest.chunk import CHUNK_FIELDS
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows

EXTRA = [f"x{i}" for i in range(1990 - len(HEADER))]


def test_chunks_of_a_wide_header_end_by_fields() -> None:
    body = [line(r + ["1"] * len(EXTRA)) for r in rows(2_500, 72)]
    stream = io.BytesIO(csv_bytes(body, header=line(HEADER + EXTRA)))
    header = read_header(stream)
    chunks = list(read_csv_body(stream, header, chunk_rows=25_000))
    assert sum(c.frame.height for c in chunks) == 2_500 and not any(c.rejects for c in chunks)
    for chunk in chunks:
        assert chunk.frame.height * chunk.frame.width <= CHUNK_FIELDS
    frame = pl.concat([c.frame for c in chunks])
    assert frame["c0"].to_list() == [r[0] for r in rows(2_500, 72)]
    assert frame[f"c{len(HEADER)}"].unique().to_list() == ["1"]


def test_a_narrow_header_keeps_its_chunk_rows() -> None:
    body = [line(r) for r in rows(3_000, 73)]
    stream = io.BytesIO(csv_bytes(body))
    header = read_header(stream)
    chunks = list(read_csv_body(stream, header, chunk_rows=1_000))
    assert [c.frame.height for c in chunks] == [1_000, 1_000, 1_000]
