"""Start reading one source stream: its header and its chunks of records (CSV or JSON)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import BinaryIO

from cdr_pipeline.ingest.chunk import CSV, Chunk, RawReject
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from cdr_pipeline.ingest.json_reader import read_json_chunks
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.ingest.sources import Source

__all__ = ["source_chunks"]


def source_chunks(
    source: Source, stream: BinaryIO, chunk_rows: int, limits: Limits
) -> tuple[list[str], Iterator[Chunk], int, list[RawReject]]:
    """The header of `source` (a JSON file: its first records' keys), its chunks of records
    (the first one included), the header's line (2 after a `sep=` line), and the records of
    a JSON file's first chunk that were quarantined."""
    if source.fmt == CSV:
        header = read_header(stream, limits)
        body = read_csv_body(stream, header, chunk_rows, limits)
        return header.names, body, header.next_line - 1, []
    it = read_json_chunks(stream, chunk_rows, limits)
    first = next(it, None)
    if first is None:
        return [], iter(()), 1, []
    return first.headers, itertools.chain([first], it), 1, first.rejects
