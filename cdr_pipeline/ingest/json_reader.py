"""Chunked reading of the API's JSON: `{"items": [...]}` pages (one or several, e.g. saved
pages concatenated or one page per line), a top-level array of records, or JSON lines of
records. Parsed incrementally with ijson, so a large file is never held in memory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, BinaryIO

import ijson
import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import Chunk, RawReject, clip

_PAGE = re.compile(rb'^\s*\{\s*"items"\s*:')


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # JSON 36 and 36.0 both mean 36 seconds
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _iter_records(stream: BinaryIO) -> Iterator[Any]:
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    if _PAGE.match(head):
        yield from ijson.items(stream, "items.item", multiple_values=True)
    elif head.lstrip()[:1] == b"[":
        yield from ijson.items(stream, "item")
    else:
        yield from ijson.items(stream, "", multiple_values=True)


def read_json_chunks(stream: BinaryIO, chunk_rows: int) -> Iterator[Chunk]:
    batch: list[tuple[int, dict[str, Any]]] = []
    rejects: list[RawReject] = []
    n = 0
    records = _iter_records(stream)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except ijson.JSONError as exc:
            # the rest of the stream cannot be parsed: quarantine it as one record
            rejects.append(RawReject(n + 1, "invalid_json", f"JSON cannot be parsed: {exc}", ""))
            n += 1
            break
        n += 1
        if not isinstance(record, dict):
            rejects.append(
                RawReject(
                    n,
                    "invalid_json",
                    "item is not a JSON object",
                    clip(json.dumps(record, default=str)),
                )
            )
        else:
            batch.append((n, record))
        if len(batch) + len(rejects) >= chunk_rows:
            yield _chunk(batch, rejects)
            batch, rejects = [], []
    if batch or rejects:
        yield _chunk(batch, rejects)


def _chunk(batch: list[tuple[int, dict[str, Any]]], rejects: list[RawReject]) -> Chunk:
    headers: dict[str, None] = {}
    for _, rec in batch:
        for key in rec:
            headers.setdefault(key, None)
    names = list(headers)
    cols = {
        f"c{i}": pl.Series([_text(rec.get(h)) for _, rec in batch], dtype=pl.String)
        for i, h in enumerate(names)
    }
    if not cols:
        names = ["__empty__"]
        cols = {"c0": pl.Series([None] * len(batch), dtype=pl.String)}
    frame = pl.DataFrame(cols)
    rows = np.array([i for i, _ in batch], dtype=np.int64)
    recs = [rec for _, rec in batch]

    def raw_text(i: int) -> str:
        return clip(json.dumps(recs[i], default=str, ensure_ascii=False))

    return Chunk(names, frame, rows, raw_text, list(rejects))
