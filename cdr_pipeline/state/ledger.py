"""The run ledger under `<warehouse>/state/ledger/`.

Each record is a small Parquet file written atomically (temp file + rename), one folder per
ledger table: `runs/`, `files/`, and tables other stages add (`validations/`, `watermarks/`,
`retention/`). Parquet keeps types, DuckDB views read the folders directly without locking
anything, and a crash can never leave a half-written record.

Each write is a new file (`<record>@<time>.parquet`), never one replaced in place: DuckDB
opens a Parquet file more than once per query, and a query of the ledger views that
overlapped a replacement read two files as one ("TProtocolException: Invalid data"). So
that reading the ledger stays fast with thousands of runs, a folder holding more than
`COMPACT_AT` live files is compacted: its records go into one `_compacted-*.parquet` file
(written atomically), which names the files it superseded; they stay, unread, until `cdr
vacuum` (`state/ledger_files.py`). Every row carries its record id
(`__record_id`) and when it was written (`__written_at`); a reader keeps the latest row of
each record, so a crash between the two steps, or a record rewritten later, reads right.
"When it was written" never goes back within a folder (`_next_stamp`): after the clock is
set back (an NTP step, a machine that booted with its clock ahead) a later write still wins.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from cdr_pipeline.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    CdrError,
    denied_reading,
)
from cdr_pipeline.render import os_text
from cdr_pipeline.state.files import atomic_write_table
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger_files import (
    COMPACTED_PREFIX,
    damaged_record,
    live_files,
    plain_strings,
    split_names,
    stamp,
    with_supersedes,
)
from cdr_pipeline.state.waits import missing_waits

log = logging.getLogger(__name__)

TS = pa.timestamp("ms", tz="UTC")

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("command", pa.string()),
        ("status", pa.string()),  # running | ok | failed | interrupted | locked | waiting
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
        ("table_versions", pa.string()),  # "call_legs=12,device_events=3": what it committed
        ("run_date", pa.date32()),  # a nightly's: the date it ran for (--run-date, or today)
    ]
)

RUN_COUNTS = tuple(n for n in RUNS_SCHEMA.names if n.startswith(("files_", "rows_")))
"""The count columns of a `runs` row."""


def run_record(run_id: str, command: str, **fields: Any) -> dict[str, Any]:
    """A `runs` row of every column: the counts 0 and the rest None unless `fields` say."""
    return {
        **dict.fromkeys(RUNS_SCHEMA.names),
        **dict.fromkeys(RUN_COUNTS, 0),
        "run_id": run_id,
        "command": command,
        **fields,
    }


def run_ending(code: int, ending: str, failure: CdrError | None = None) -> tuple[str, int]:
    """(status, exit code) of a run that ended `ending`: `ok` (it ran to its end; `code`
    is the worst of its parts), `interrupted` (Ctrl-C, SIGTERM: 130) or `failed` (it raised:
    `failure`'s code, 1 for an unexpected error)."""
    if ending == "ok":
        return ("ok" if code == EXIT_OK else "failed"), code
    if ending == "interrupted":
        return "interrupted", EXIT_INTERRUPTED
    return "failed", failure.exit_code if failure is not None else EXIT_UNEXPECTED


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
        ("status", pa.string()),  # loaded | empty | skipped | failed | interrupted
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


RETENTION_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("table_name", pa.string()),
        ("partition", pa.string()),
        ("rows", pa.int64()),
        ("retain_days", pa.int32()),
        ("cutoff", pa.date32()),
        ("dropped_at", TS),
    ]
)
"""`retention/`: one row per call-leg partition retention dropped (`ingest/retention.py`)."""


def file_record_id(run_id: str, file_seq: int, source: str) -> str:
    """The record id of one source's `files` record (rewritten in place when it changes).
    Of the source as the record stores it (`os_text`), so recovery, reading the record back,
    finds the same id for a file name that is not UTF-8."""
    member = hashlib.sha1(os_text(source).encode()).hexdigest()[:8]
    return f"{run_id}-{file_seq:05d}-{member}"


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


COMPACT_AT = 64
"""A ledger folder with more live files than this is compacted into one file."""
RECORD_ID = "__record_id"
WRITTEN_AT = "__written_at"


def _with_record_columns(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """A record file's rows with their record id and write time (files written before the
    ledger carried them: from the file's name and modification time)."""
    if RECORD_ID not in df.columns:
        df = df.with_columns(pl.lit(path.stem).alias(RECORD_ID))
    if WRITTEN_AT not in df.columns:
        df = df.with_columns(pl.lit(path.stat().st_mtime_ns, pl.Int64).alias(WRITTEN_AT))
    return df


_SOURCE = "__source_file"


def _latest(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The rows of every record's latest write, from one file (a record file written while
    a compaction ran may hold the same write as the compacted file)."""
    df = pl.concat(
        [f.with_columns(pl.lit(i, pl.Int32).alias(_SOURCE)) for i, f in enumerate(frames)],
        how="diagonal_relaxed",
    )
    latest = df.group_by(RECORD_ID).agg(pl.col(WRITTEN_AT).max())
    df = df.join(latest, on=[RECORD_ID, WRITTEN_AT], how="semi", maintain_order="left")
    first = df.group_by(RECORD_ID).agg(pl.col(_SOURCE).min())
    return df.join(first, on=[RECORD_ID, _SOURCE], how="semi", maintain_order="left").drop(_SOURCE)


def _next_stamp(files: Sequence[Path | str]) -> int:
    """Now, or just after the latest write of the folder when the clock has been set back
    since: the wall clock alone made the earlier write win (a night's `running` row outlived
    its `ok`, and the next run called it killed)."""
    return max(time.time_ns(), max(map(stamp, files), default=0) + 1)


class Ledger:
    def __init__(self, layout: Layout) -> None:
        self.root, self.layout = layout.ledger, layout

    def folder(self, table: str) -> Path:
        return self.root / table

    def write(
        self, table: str, record_id: str, rows: Sequence[Mapping[str, Any]], schema: pa.Schema
    ) -> Path:
        """Write (or replace) one record file of a ledger table."""
        # polars, not `pa.array`/`from_pylist`: those import pandas (a quarter of a second
        # at the end of every ingest)
        # a path or a message naming one holds the OS's bytes (lone surrogates): as text
        clean = [{k: os_text(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
        frame = pl.DataFrame(clean, schema=_polars_schema(schema))
        folder = self.folder(table)
        live, superseded = split_names(folder)
        written = _next_stamp(live + superseded)
        frame = frame.with_columns(
            pl.lit(record_id, pl.String).alias(RECORD_ID),
            pl.lit(written, pl.Int64).alias(WRITTEN_AT),
        )
        full = pa.schema(
            [*schema, pa.field(RECORD_ID, pa.string()), pa.field(WRITTEN_AT, pa.int64())]
        )
        data = frame.to_arrow().cast(full)
        # a new file for each write, never one replaced in place (see the module's text)
        path = folder / f"{record_id}@{written}.parquet"
        atomic_write_table(data, path)
        if len(live) + 1 > COMPACT_AT:  # one listing per write: with the file just written
            try:  # housekeeping: a disk full here failed the command, its run `running`
                self.compact(table)
            except OSError as exc:
                log.warning("ledger %s not compacted (%s); the next write tries again", table, exc)
        return path

    def _files(self, table: str) -> list[Path]:
        return live_files(self.folder(table))

    def read(
        self, table: str, schema: pa.Schema | None = None, written_order: bool = False
    ) -> pl.DataFrame:
        """Every record of a ledger table (its latest write), without the bookkeeping
        columns; with `written_order`, in the order they were written, which the clock
        set back does not change (`_next_stamp`), unlike a time a record holds."""
        df = self._read_latest(self._files(table))
        if df is None:
            if schema is None:
                return pl.DataFrame()
            return _empty_frame(schema)
        if written_order:
            df = df.sort(WRITTEN_AT, maintain_order=True)
        if schema is not None:  # a column added since its records were written: NULL
            wanted = _polars_schema(schema)
            df = df.with_columns(
                pl.lit(None, wanted[n]).alias(n) for n in schema.names if n not in df.columns
            )
        return df.drop(RECORD_ID, WRITTEN_AT)

    def check_readable(self) -> None:
        """Raise the damage of the first record file of any ledger table that does not read
        (as `read` does); return when all read. For a failure of a reader that names no
        file (DuckDB's "No magic bytes found" in a build's ledger views)."""
        folders = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        for folder in folders:
            self._read_latest(live_files(folder))

    def _read_latest(self, files: list[Path]) -> pl.DataFrame | None:
        frames = []
        for f in files:
            try:
                frames.append(_with_record_columns(pl.read_parquet(f), f))
            except FileNotFoundError:  # superseded and vacuumed since it was listed
                continue
            except PermissionError as exc:  # not damage: the user may not read it
                raise denied_reading(f) from exc
            except (pl.exceptions.PolarsError, OSError) as exc:  # cut or overwritten
                raise damaged_record(f, exc) from exc
        return _latest(frames) if frames else None

    def compact(self, table: str) -> Path | None:
        """Fold a ledger table's live files into one compacted file that supersedes every
        file listed (files are never rewritten, so each holds what was read of it); none
        is deleted here: `cdr vacuum` does, after the grace period (`ledger_files`)."""
        folder = self.folder(table)
        live, superseded = split_names(folder)
        df = self._read_latest([folder / n for n in live])
        if df is None:
            return None
        # named after its latest row at least: the next write must come after all it holds
        written = max(time.time_ns(), max(map(stamp, live + superseded), default=0))
        target = folder / f"{COMPACTED_PREFIX}{written}.parquet"
        data = with_supersedes(plain_strings(df.to_arrow()), live + superseded)
        atomic_write_table(data, target)
        return target

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

    def note_after(
        self, run_ids: Sequence[str], exit_code: int, message: str, status: str | None = None
    ) -> None:
        """What went wrong after runs were recorded (the refresh of the views at the end of
        their command, a fetch failing after it loaded): their rows take the command's worse
        exit code and the message, and `status` when given."""
        runs = self.runs().filter(pl.col("run_id").is_in(list(run_ids)))
        for row in runs.iter_rows(named=True):
            row["exit_code"] = max(row["exit_code"] or 0, exit_code)
            row["status"] = status or row["status"]
            row["message"] = "; ".join(m for m in (row["message"], message) if m)
            self.write("runs", row["run_id"], [row], RUNS_SCHEMA)

    def mark_interrupted(self, live: Sequence[str] = (), gone: Collection[str] = ()) -> list[str]:
        """Runs still 'running' when a new writer holds the lock died, but the `live` ones (a
        nightly between stages: `lock.live_run`), and nights `waiting` that are not (`waited`)."""
        going = (pl.col("status") == "running") & ~pl.col("run_id").is_in(live)
        runs = self.runs()
        stale = runs.filter(going | self.waited(runs, gone))
        for row in stale.iter_rows(named=True):
            self.write("runs", row["run_id"], [interrupted_row(row)], RUNS_SCHEMA)
        return stale["run_id"].to_list()

    def waited(self, runs: pl.DataFrame, gone: Collection[str]) -> pl.Expr:
        """The nights of `runs` `waiting` whose process is gone: their file found free
        before `runs` was read (`gone`), or not there now (`waits.missing_waits`)."""
        waiting = pl.col("status") == "waiting"
        ids = runs.filter(waiting & ~pl.col("run_id").is_in(list(gone)))["run_id"]
        return waiting & pl.col("run_id").is_in([*gone, *missing_waits(self.layout, ids)])


def interrupted_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `running` row of a run that died, as `interrupted` (a run whose disk stayed full or
    read-only to its end could not write its closing record either: see its log)."""
    ended = (
        "the process ended while it waited (killed: kill -9, the OOM killer), or its file "
        "in state/waits was removed"
        if row["status"] == "waiting"  # its message says for what
        else "the process ended before the run finished (killed or crashed), or could "
        "not record its end (a disk full or read-only to the last: see its log)"
    )
    # not the 0 a nightly's row holds after its ingest: the run never ended well
    message = "; ".join(m for m in (row["message"], ended) if m)
    return {**row, "status": "interrupted", "exit_code": EXIT_INTERRUPTED, "message": message}
