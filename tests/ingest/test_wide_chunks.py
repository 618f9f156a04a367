"""A CSV header of up to `max_columns` (2,000) columns with values of a byte or two: a 32 MiB
chunk held 7,000 records, 14 million fields, and the parse and the `extra` JSON of the
unknown columns took the process to 2.1 GB, past the 1 GiB docs/limits.md promises. A chunk ends at
`CHUNK_FIELDS` fields too, and so does a chunk of JSON records (records x their keys)."""

from __future__ import annotations

import io
import json

import polars as pl

from cdr_pipeline.ingest.chunk import CHUNK_FIELDS
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from cdr_pipeline.ingest.json_reader import read_json_chunks
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, records, rows

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


def test_chunks_of_json_records_with_keys_of_their_own_end_by_fields() -> None:
    """JSON records with 1,900 keys of their own between them, within `max_columns`, made a
    chunk of 25,000 records x 1,963 columns: a 94 MB file took 4 GB. They end by fields
    as CSV chunks do: the record that crosses `CHUNK_FIELDS` ends it (a row of its keys, and
    its one new key here a column of the rows before it)."""
    recs = records(3_000, 74)
    for i, r in enumerate(recs):
        r[f"custom_{i % 1_900}"] = "1"
    data = b"".join(json.dumps(r).encode() + b"\n" for r in recs)
    chunks = list(read_json_chunks(io.BytesIO(data), chunk_rows=25_000))
    assert len(chunks) > 1 and not any(c.rejects for c in chunks)
    for chunk in chunks:
        height, width = chunk.frame.shape
        assert height * width <= CHUNK_FIELDS + height + width
    assert [n for c in chunks for n in c.source_rows.tolist()] == list(range(1, 3_001))
