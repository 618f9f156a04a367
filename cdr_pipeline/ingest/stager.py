"""Stage one file's normalized rows: one Parquet file per partition value, written in final
form (zstd), so that a new partition is later renamed into place as it is."""

from __future__ import annotations

import contextlib
import itertools
import queue
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.rowgroups import large_strings, open_writer
from cdr_pipeline.schema.base import TableSchema

ORDERED_CHUNK_PARTITIONS = 4
"""A chunk spanning at most this many partitions comes from time-ordered input: its pieces
are written at once."""
PENDING_CHUNKS = 8
"""Chunks of interleaved input held before they are cut into per-partition row groups
(200,000 rows at the default chunk size: ~6,000-row groups for a month of days)."""

PENDING_BYTES = 256 * 1024 * 1024
"""...or once the held chunks hold this many bytes (eight real chunks hold about 160 MiB; a
file of long records reaches it first)."""

Piece = tuple[str, object]
"""A partition value and a value of the cluster column (None when the table has none)."""
Cut = list[tuple[str, pa.Table | pl.DataFrame]]
"""Row groups to write, each with its partition value; a partition's pieces are in order
(with a `cluster_by` column: one piece per value of it, false before true). A polars piece
is made Arrow by the thread that writes it."""


@dataclass
class Stager:
    """Collects one file's normalized rows, one staging Parquet per partition value, each
    written in final form (zstd) so that a new partition is later renamed into place.

    When a chunk spans few partitions (the input is ordered by time, as exports usually are),
    its pieces are handed as they are to a background thread that makes them Arrow (large
    strings: one copy, no cast) and writes them while the next chunks are parsed (pyarrow
    releases the GIL). When the partitions of the input are
    interleaved, each chunk is sorted by partition into a compact Arrow copy (polars string
    columns are views that would pin the whole chunk and scatter the writer's reads) and held
    until `max_pending_rows` wait; then each partition's slices become one row group, written
    on both cores before the next chunk is taken. Row groups stay large enough to read well,
    nothing else is held meanwhile, and memory follows the chunk size, not the file size
    (but for the writers' footers: about 1 KB per column per row group until close)."""

    root: Path
    schema: TableSchema
    max_pending_rows: int = PENDING_CHUNKS * 25_000
    max_pending_bytes: int = PENDING_BYTES
    max_values: int | None = None
    """Partition values (days of calls) the file may span (`max_file_days`): each keeps a
    writer open until close (file handles, and its encoders: about 0.3 MB) and is a partition
    merged and refreshed on its own. 3,000 one-leg days, a 1.5 MB file, took 1.5 GB and
    four minutes; a hundred years of days would have taken fifteen times that."""
    writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)
    pending: list[tuple[Future[pa.Table], list[tuple[Piece, int, int]]]] = field(
        default_factory=list
    )
    pending_rows: int = 0
    pending_bytes: int = 0
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[Cut | None] = queue.Queue()
        self._idle = threading.Semaphore(1)  # released when the writer has finished a cut
        self._error: BaseException | None = None
        # polars hands large strings (`CompatLevel.oldest`), written as they are: the files
        # carry Parquet types only, which read back as the table's one Arrow schema
        # (`rowgroups.open_writer`)
        self._arrow_schema = large_strings(self.schema.stored_arrow_schema())
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="stager-cut")
        self._thread = threading.Thread(target=self._write_loop, name="stager", daemon=True)
        self._thread.start()

    def add(self, df: pl.DataFrame) -> None:
        if df.is_empty():
            return
        part = self.schema.partition_by
        if part is None:
            self._put([("all", df)])
            return
        # pieces by partition and, within one, by the cluster column's value
        keys = [part, *([self.schema.cluster_by] if self.schema.cluster_by else [])]
        runs = df.group_by(keys).len().sort(keys, nulls_last=True)
        self._count_values(df, {str(v) for v in runs[part].to_list()})
        if not self.pending and runs[part].n_unique() <= ORDERED_CHUNK_PARTITIONS:
            groups = df.partition_by(keys, as_dict=True, include_key=True)
            self._put([(str(k[0]), groups[k].drop(part)) for k in sorted(groups, key=_order)])
            return
        lengths = runs["len"].to_list()
        offsets = itertools.accumulate(lengths[:-1], initial=0)
        values = [(str(r[0]), r[1] if len(r) > 2 else None) for r in runs.iter_rows()]
        # sorted and compacted on the pool, while the caller normalizes the next chunk
        table = self._pool.submit(_sorted_compact, df, keys)
        self.pending.append((table, list(zip(values, offsets, lengths, strict=True))))
        self.pending_rows += df.height
        self.pending_bytes += int(df.estimated_size())
        if (
            self.pending_rows >= self.max_pending_rows
            or self.pending_bytes >= self.max_pending_bytes
        ):
            self._write_cut(self._cut())

    def _count_values(self, df: pl.DataFrame, values: set[str]) -> None:
        """Add a chunk's partition values to those seen; past `max_values`, fail the file
        naming the line of the first record of a day too many."""
        self.seen |= values
        limit = self.max_values
        if limit is None or len(self.seen) <= limit:
            return
        part = self.schema.partition_by or ""
        unit = "months" if part.endswith("month") else "days"
        before = self.seen - values
        line = None
        for value, row in zip(df[part].to_list(), df["source_row"].to_list(), strict=True):
            before.add(str(value))
            if len(before) > limit:
                line = int(row)
                break
        raise BadInput(
            f"records on more than max_file_days ({limit:,}) different {unit}; one export "
            f"covers a few months at most (each {unit[:-1]} is a partition of its own)",
            line=line,
            hint="check the dates of this file (Start time); split a longer history into files "
            "of fewer days, or raise max_file_days in cdr.toml (or CDR_MAX_FILE_DAYS)",
        )

    def _cut(self) -> Cut:
        """The pending chunks as one piece per partition value (and value of the cluster
        column)."""
        pending, self.pending, self.pending_rows, self.pending_bytes = self.pending, [], 0, 0
        slices: dict[Piece, list[pa.Table]] = {}
        for compacted, runs in pending:
            table = compacted.result()
            for piece, offset, length in runs:
                slices.setdefault(piece, []).append(table.slice(offset, length))
        return [(piece[0], pa.concat_tables(slices[piece])) for piece in sorted(slices, key=_order)]

    def _acquire_idle(self) -> None:
        """Wait until the background writer has nothing in hand; raise its error, if any."""
        while not self._idle.acquire(timeout=0.5):
            if self._error is not None:
                raise self._error
        if self._error is not None:
            self._idle.release()
            raise self._error

    def _put(self, item: Cut | None) -> None:
        self._acquire_idle()
        self._queue.put(item)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self._error is None:
                    self._write(item)
            except BaseException as exc:  # surfaced to the caller by _put/close
                self._error = exc
            finally:
                del item  # drop the cut before waiting for the next one
                self._idle.release()

    def _write(self, cut: Cut) -> None:
        for value, table in cut:
            self._write_piece(value, table)

    def _write_piece(self, value: str, table: pa.Table | pl.DataFrame) -> None:
        if isinstance(table, pl.DataFrame):  # large strings, not views: one copy, no cast
            table = table.to_arrow(compat_level=pl.CompatLevel.oldest())
        if table.schema != self._arrow_schema:
            table = table.cast(self._arrow_schema)
        writer = self.writers.get(value)
        if writer is None:
            writer = open_writer(self.root / f"{value}.parquet", self.schema, large=True)
            self.writers[value] = writer
        writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def _write_cut(self, cut: Cut) -> None:
        """Write a cut on both cores, in the caller's thread, once the background writer is
        idle (its pieces and the cut may go to the same file). Blocking here costs little:
        the encoding keeps both cores busy, and nothing else need be held meanwhile."""
        by_value: dict[str, list[pa.Table | pl.DataFrame]] = {}
        for value, table in cut:  # one partition's pieces go to one file, in order
            by_value.setdefault(value, []).append(table)
        self._acquire_idle()
        try:
            list(self._pool.map(self._write_pieces, by_value.items()))
        finally:
            self._idle.release()

    def _write_pieces(self, item: tuple[str, list[pa.Table | pl.DataFrame]]) -> None:
        for table in item[1]:
            self._write_piece(item[0], table)

    def close(self) -> dict[str, Path]:
        self._write_cut(self._cut())
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        list(self._pool.map(lambda w: w.close(), list(self.writers.values())))
        self._pool.shutdown()
        return {v: self.root / f"{v}.parquet" for v in self.writers}

    def discard(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("discarded")
            self._queue.put(None)
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)
        for w in self.writers.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                w.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _order(piece: tuple[object, ...]) -> tuple[str, bool, bool]:
    """Pieces in order: by partition value, then false, true, null of the cluster column."""
    value = piece[1] if len(piece) > 1 else None
    return (str(piece[0]), value is None, bool(value))


def _sorted_compact(df: pl.DataFrame, keys: list[str]) -> pa.Table:
    """The chunk sorted by partition (and cluster value), as Arrow with contiguous (not
    view) strings."""
    return (
        df.sort(keys, nulls_last=True).drop(keys[0]).to_arrow(compat_level=pl.CompatLevel.oldest())
    )
