"""The run ledger under `<warehouse>/state/ledger/`.

Each record is a small Parquet file written atomically (temp file + rename), one folder per
ledger table: `runs/`, `files/`, and tables other stages add (`validations/`, `watermarks/`,
`retention/`). Parquet keeps types, DuckDB views read the folders directly without locking
anything, and a crash can never leave a half-written record.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from cdr_pipeline.state.files import atomic_write_table
from cdr_pipeline.state.layout import Layout

TS = pa.timestamp("ms", tz="UTC")

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("command", pa.string()),
        ("status", pa.string()),  # running | ok | failed | interrupted
        ("started_at", TS),
        ("finished_at", TS),
        ("exit_code", pa.int32()),
        ("files_seen", pa.int64()),
        ("files_loaded", pa.int64()),
        ("files_skipped", pa.int64()),
        ("files_failed", pa.int64()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("message", pa.string()),
    ]
)

FILES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("file_seq", pa.int32()),
        ("path", pa.string()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("table_name", pa.string()),
        ("source_kind", pa.string()),
        ("content_sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("status", pa.string()),  # loaded | empty | skipped | failed
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("rows_updated", pa.int64()),
        ("webex_go_rows", pa.int64()),
        ("partitions", pa.list_(pa.string())),
        ("unknown_columns", pa.list_(pa.string())),
        ("missing_columns", pa.list_(pa.string())),
        ("top_reject_reasons", pa.string()),
        ("seconds", pa.float64()),
        ("loaded_at", TS),
        ("message", pa.string()),
    ]
)


def _empty_frame(schema: pa.Schema) -> pl.DataFrame:
    """An empty frame of `schema`, through Arrow IPC: `pl.from_arrow` would import pandas
    (an eighth of a second of every command on a fresh warehouse)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema):
        pass
    return pl.read_ipc(io.BytesIO(sink.getvalue().to_pybytes()))


@functools.cache
def _polars_schema(schema: pa.Schema) -> pl.Schema:
    return _empty_frame(schema).schema


class Ledger:
    def __init__(self, layout: Layout) -> None:
        self.root = layout.ledger

    def folder(self, table: str) -> Path:
        return self.root / table

    def write(
        self, table: str, record_id: str, rows: Sequence[Mapping[str, Any]], schema: pa.Schema
    ) -> Path:
        """Write (or replace) one record file of a ledger table."""
        frame = pl.DataFrame([dict(r) for r in rows], schema=_polars_schema(schema))
        data = frame.to_arrow().cast(schema)  # not from_pylist: that imports pandas
        path = self.folder(table) / f"{record_id}.parquet"
        atomic_write_table(data, path)
        return path

    def read(self, table: str, schema: pa.Schema | None = None) -> pl.DataFrame:
        folder = self.folder(table)
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            if schema is None:
                return pl.DataFrame()
            return _empty_frame(schema)
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    def runs(self) -> pl.DataFrame:
        return self.read("runs", RUNS_SCHEMA).sort("started_at")

    def files(self) -> pl.DataFrame:
        return self.read("files", FILES_SCHEMA).sort(["loaded_at", "file_seq"])

    def loaded_hashes(self) -> dict[str, int]:
        """The content digest of every file some run loaded whole (every member of a ZIP
        loaded or empty), with its size. A file with a failed member is not among them, so
        a later run tries it again."""
        files = self.files()
        if files.is_empty():
            return {}
        done = (
            # a skipped re-delivery shares the digest but says nothing of the load
            files.filter(pl.col("content_sha256").is_not_null() & (pl.col("status") != "skipped"))
            .group_by("run_id", "content_sha256")
            .agg(
                pl.col("status").is_in(["loaded", "empty"]).all().alias("whole"),
                pl.col("size_bytes").first(),
            )
            .filter("whole")
        )
        digests, sizes = done["content_sha256"].to_list(), done["size_bytes"].to_list()
        return dict(zip(digests, sizes, strict=True))

    def mark_interrupted(self) -> list[str]:
        """Runs still 'running' when a new writer holds the lock died: say so."""
        runs = self.runs()
        stale = runs.filter(pl.col("status") == "running")
        for row in stale.iter_rows(named=True):
            row["status"] = "interrupted"
            row["message"] = "the process ended before the run finished (killed or crashed)"
            self.write("runs", row["run_id"], [row], RUNS_SCHEMA)
        return stale["run_id"].to_list()
