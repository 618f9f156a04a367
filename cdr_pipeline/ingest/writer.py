"""Stage a file's rows per partition, then merge each affected partition with what the
warehouse already holds, deduplicated on the natural key, and swap it in atomically.

Layout: `<warehouse>/tables/<table>/<partition>=<value>/data.parquet` (one file per
partition, zstd) or `<warehouse>/tables/<table>/data.parquet` for unpartitioned tables.
A partition is replaced with `os.replace`, so a reader sees the old file or the new one,
never a mix and never two versions of a record. A new partition without duplicates is the
staged file itself, renamed; otherwise DuckDB does the merge with a memory limit, so memory
follows the size of one partition, not of the input.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.ingest import faults
from cdr_pipeline.ingest.ledger import install_file
from cdr_pipeline.schema.base import DUCKDB_TYPES, STRING, TIMESTAMP, TableSchema
from cdr_pipeline.sqltext import lit, quote

DATA_FILE = "data.parquet"
MERGE_MEMORY_LIMIT = "512MB"


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    redelivered: int = 0
    stale: int = 0
    within_file: int = 0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated

    @property
    def duplicate(self) -> int:
        return self.redelivered + self.stale + self.within_file

    def add(self, other: MergeCounts) -> None:
        for name in ("inserted", "updated", "redelivered", "stale", "within_file"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def partition_dirname(schema: TableSchema, value: object) -> str:
    return f"{schema.partition_by}={value}"


def data_path(tables_dir: Path, schema: TableSchema, value: object | None) -> Path:
    base = tables_dir / schema.name
    if schema.partition_by is None:
        return base / DATA_FILE
    return base / partition_dirname(schema, value) / DATA_FILE


ROW_GROUP_ROWS = 30_720
"""Rows per Parquet row group written by a merge. A quarter of DuckDB's default: its writer
holds a row group per thread, and with ~1 KB CDR rows a 122,880-row group made it thrash
against a 512 MB limit (a 1M-row copy took 21 s instead of 2 s)."""
MIN_INSTALL_ROW_GROUP = 512
"""A staged partition whose row groups average fewer rows is compacted, not renamed."""
ORDERED_CHUNK_PARTITIONS = 4
"""A chunk spanning at most this many partitions comes from time-ordered input: its pieces
are written at once."""
PENDING_CHUNKS = 8
"""Chunks of interleaved input held before they are cut into per-partition row groups
(200,000 rows at the default chunk size: ~6,000-row groups for a month of days)."""

Cut = list[tuple[str, pa.Table]]
"""One Parquet row group's worth of rows per partition value."""


def encoding_options(schema: TableSchema) -> tuple[list[str], list[str]]:
    """Columns that get Parquet statistics and columns that get a dictionary.

    Statistics where they prune reads (typed columns, the key): min/max of free text cost a
    sixth of the encoding and serve no query. A dictionary where values repeat: not for
    timestamps, row numbers and the schema's per-row ids (together a fifth of the encoding,
    and the files come out 12 % smaller without)."""
    cols = schema.stored_columns
    stats = [c.name for c in cols if c.dtype != STRING or c.name in schema.key]
    distinct = {*schema.per_row, "source_row"}
    dictionary = [c.name for c in cols if c.dtype != TIMESTAMP and c.name not in distinct]
    return stats, dictionary


@dataclass
class Stager:
    """Collects one file's normalized rows, one staging Parquet per partition value, each
    written in final form (zstd) so that a new partition is later renamed into place.

    When a chunk spans few partitions (the input is ordered by time, as exports usually are),
    its pieces are handed, without a copy, to a background thread that writes them while the
    next chunks are parsed (pyarrow releases the GIL). When the partitions of the input are
    interleaved, each chunk is sorted by partition into a compact Arrow copy (polars string
    columns are views that would pin the whole chunk and scatter the writer's reads) and held
    until `max_pending_rows` wait; then each partition's slices become one row group, written
    on both cores before the next chunk is taken. Row groups stay large enough to read well,
    nothing else is held meanwhile, and memory follows the chunk size, not the file size
    (but for the writers' footers: about 1 KB per column per row group until close)."""

    root: Path
    schema: TableSchema
    max_pending_rows: int = PENDING_CHUNKS * 25_000
    writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)
    pending: list[tuple[Future[pa.Table], list[tuple[str, int, int]]]] = field(default_factory=list)
    pending_rows: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[Cut | None] = queue.Queue()
        self._idle = threading.Semaphore(1)  # released when the writer has finished a cut
        self._error: BaseException | None = None
        self._stats, self._dictionary = encoding_options(self.schema)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="stager-cut")
        self._thread = threading.Thread(target=self._write_loop, name="stager", daemon=True)
        self._thread.start()

    def add(self, df: pl.DataFrame) -> None:
        if df.is_empty():
            return
        part = self.schema.partition_by
        newest = pl.CompatLevel.newest()
        if part is None:
            self._put([("all", df.to_arrow(compat_level=newest))])
            return
        runs = df.group_by(part).len().sort(part)
        if not self.pending and runs.height <= ORDERED_CHUNK_PARTITIONS:
            groups = df.partition_by(part, as_dict=True, include_key=False)
            self._put(
                [(str(k[0]), frame.to_arrow(compat_level=newest)) for k, frame in groups.items()]
            )
            return
        lengths = runs["len"].to_list()
        offsets = itertools.accumulate(lengths[:-1], initial=0)
        values = [str(v) for v in runs[part]]
        # sorted and compacted on the pool, while the caller normalizes the next chunk
        table = self._pool.submit(_sorted_compact, df, part)
        self.pending.append((table, list(zip(values, offsets, lengths, strict=True))))
        self.pending_rows += df.height
        if self.pending_rows >= self.max_pending_rows:
            self._write_cut(self._cut())

    def _cut(self) -> Cut:
        """The pending chunks as one piece per partition value."""
        pending, self.pending, self.pending_rows = self.pending, [], 0
        slices: dict[str, list[pa.Table]] = {}
        for compacted, runs in pending:
            table = compacted.result()
            for value, offset, length in runs:
                slices.setdefault(value, []).append(table.slice(offset, length))
        return [(value, pa.concat_tables(parts)) for value, parts in slices.items()]

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

    def _write_piece(self, value: str, table: pa.Table) -> None:
        writer = self.writers.get(value)
        if writer is None:
            writer = pq.ParquetWriter(
                self.root / f"{value}.parquet",
                table.schema,
                compression="zstd",
                compression_level=1,
                write_statistics=self._stats,
                use_dictionary=self._dictionary,
            )
            self.writers[value] = writer
        elif table.schema != writer.schema:  # string views (ordered) vs compact (cut)
            table = table.cast(writer.schema)
        writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def _write_cut(self, cut: Cut) -> None:
        """Write a cut on both cores, in the caller's thread, once the background writer is
        idle (its pieces and the cut may go to the same file). Blocking here costs little:
        the encoding keeps both cores busy, and nothing else need be held meanwhile."""
        self._acquire_idle()
        try:
            list(self._pool.map(lambda piece: self._write_piece(*piece), cut))
        finally:
            self._idle.release()

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


def _sorted_compact(df: pl.DataFrame, part: str) -> pa.Table:
    """The chunk sorted by partition, as Arrow with contiguous (not view) strings."""
    return df.sort(part).drop(part).to_arrow(compat_level=pl.CompatLevel.oldest())


def bounded_duckdb(
    tmp_dir: Path, memory_limit: str = MERGE_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for batch work: a memory limit (spilling to `tmp_dir`), two
    threads, and no insertion-order guarantee, so its memory follows the limit, not the
    data (engines.md: with the defaults RSS grows with the input)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute("SET threads=2")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET temp_directory=?", [str(tmp_dir)])
    return con


def merge_partition(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    tables_dir: Path,
    value: str | None,
    staged: Path,
    tag: str,
) -> MergeCounts:
    """Merge staged rows into one partition and swap the result in. Returns the counts."""
    target = data_path(tables_dir, schema, value if schema.partition_by else None)
    target.parent.mkdir(parents=True, exist_ok=True)
    cols = [c for c in schema.stored_columns]
    key = ", ".join(quote(k) for k in schema.key)
    order = [f"{quote(v)} DESC NULLS LAST" for v in schema.version_by]
    order += ['"load_seq" DESC', '"source_row" DESC']
    select = ", ".join(
        f"CAST({quote(c.name)} AS {DUCKDB_TYPES[c.dtype]}) AS {quote(c.name)}" for c in cols
    )
    inc = f"read_parquet({lit(staged)})"
    exists = target.exists()
    # rows of the file that lost to a later row of the same file
    total, unique = con.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {inc}").fetchone()  # type: ignore[misc]
    counts = MergeCounts(within_file=int(total) - int(unique))
    if exists:
        counts.add(_compare(con, schema, inc, f"read_parquet({lit(target)})"))
        union = (
            f"SELECT {select} FROM read_parquet({lit(target)}) "
            f"UNION ALL BY NAME SELECT {select} FROM {inc}"
        )
    else:
        counts.inserted = int(unique)
        if total == unique:
            # a new partition without duplicates: the staged file (always zstd) is final unless
            # its rows came in tiny pieces (a sparse day of interleaved input); then compact it
            meta = pq.ParquetFile(staged).metadata
            if meta.num_row_groups <= 1 or (
                meta.num_rows / meta.num_row_groups >= MIN_INSTALL_ROW_GROUP
            ):
                install_file(staged, target)
                faults.after_merge()
                return counts
        union = f"SELECT {select} FROM {inc}"
    col_list = ", ".join(quote(c.name) for c in cols)
    tmp = target.with_name(f".{DATA_FILE}.tmp-{tag}")
    dedup = (
        ""
        if not exists and total == unique
        else f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(order)}) = 1"
    )
    con.execute(
        f"COPY (SELECT {col_list} FROM ({union}) {dedup}) "
        f"TO {lit(tmp)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
        f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
    )
    install_file(tmp, target)
    faults.after_merge()
    return counts


def _compare(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, inc: str, cur: str
) -> MergeCounts:
    """Classify the latest incoming version of each key against the version held."""
    keys = [quote(k) for k in schema.key]
    key = ", ".join(keys)
    join = " AND ".join(f"i.{k} IS NOT DISTINCT FROM c.{k}" for k in keys)
    if schema.version_by:
        v = quote(schema.version_by[0])
        newer = f"(i.{v} > c.{v} OR (c.{v} IS NULL AND i.{v} IS NOT NULL))"
        same = f"(i.{v} IS NOT DISTINCT FROM c.{v})"
        vsel, vorder = f", {v}", f"{v} DESC NULLS LAST, "
    else:
        newer, same, vsel, vorder = "false", "true", "", ""
    row = con.execute(f"""
        WITH i AS (
            SELECT {key}{vsel} FROM {inc}
            QUALIFY row_number() OVER (PARTITION BY {key}
                ORDER BY {vorder}load_seq DESC, source_row DESC) = 1
        ), c AS (SELECT {key}{vsel}, true AS __present FROM {cur}),
        j AS (
            SELECT c.__present IS NOT NULL AS present,
                   coalesce({newer}, false) AS newer, coalesce({same}, false) AS same
            FROM i LEFT JOIN c ON {join}
        )
        SELECT count(*) FILTER (WHERE NOT present),
               count(*) FILTER (WHERE present AND newer),
               count(*) FILTER (WHERE present AND same),
               count(*) FILTER (WHERE present AND NOT newer AND NOT same)
        FROM j
    """).fetchone()
    assert row is not None
    return MergeCounts(inserted=row[0], updated=row[1], redelivered=row[2], stale=row[3])


def clean_temp_files(tables_dir: Path) -> int:
    """Remove temp files a killed merge left behind (they are never read)."""
    n = 0
    if tables_dir.is_dir():
        for tmp in tables_dir.rglob(f".{DATA_FILE}.tmp-*"):
            tmp.unlink(missing_ok=True)
            n += 1
    return n
