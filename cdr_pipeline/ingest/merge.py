"""Merge staged rows into a partition, deduplicated on the natural key (the latest version
wins), into a new immutable file.

A partition's new content (the rows it holds, as this run sees them, plus the staged rows,
latest version of each key) goes to a new file under the partition folder; the run's
`PendingTable` remembers it, and the run commits all its new files at its end, one Delta
commit per table (see `ingest/pending.py`). No file is ever rewritten in place, so a reader
of the previous version never sees a file change. A new partition without duplicates is the
staged file itself, renamed; otherwise DuckDB does the merge with a memory limit, so memory
follows the size of one partition, not of the input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from cdr_pipeline import interrupts
from cdr_pipeline.errors import MergeOutOfMemory, environment_error
from cdr_pipeline.ingest import faults
from cdr_pipeline.ingest.compare import MergeCounts, compare, without_repeats
from cdr_pipeline.ingest.erased import without_erased
from cdr_pipeline.ingest.held import held_rows
from cdr_pipeline.ingest.lacking import held_lacking, with_held_values
from cdr_pipeline.ingest.moved import STREAM_FIRST, MovedPlan, plan_moves, stream_rank
from cdr_pipeline.ingest.pending import PendingTable
from cdr_pipeline.ingest.rowgroups import copy_query, gathered
from cdr_pipeline.schema.base import DUCKDB_TYPES, TableSchema
from cdr_pipeline.state.datafiles import check_readable, read_files
from cdr_pipeline.state.files import install_file
from cdr_pipeline.text import lit, quote

MERGE_MEMORY_LIMIT = "512MB"


MIN_INSTALL_ROW_GROUP = 512
"""A staged partition whose row groups average fewer rows is compacted, not renamed."""


def bounded_duckdb(
    tmp_dir: Path, memory_limit: str = MERGE_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for batch work: a memory limit (spilling to `tmp_dir`), two
    threads, and no insertion-order guarantee, so its memory follows the limit, not the
    data (measured: with DuckDB's default limit of 80 % of RAM, a CSV-to-Parquet copy peaked at 0.89
    GB RSS for 1M rows and 1.26 GB for 5M; with these settings it stayed under 0.9 GB)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute("SET threads=2")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET temp_directory=?", [str(tmp_dir)])
    return con


def merge_staged(
    pending: PendingTable,
    staged: dict[str, Path],
    tmp_dir: Path,
    tag: str,
    memory_limit: str = MERGE_MEMORY_LIMIT,
    lacking: Sequence[str] = (),
) -> MergeCounts:
    """Merge a source's staged partitions, two at a time (each merge is a partition's worth of
    rows, which DuckDB handles on one thread; the other core would idle); `lacking`: the
    columns the source does not have (`ingest/lacking.py`). For a table whose key spans
    partitions, records that moved are settled first (`moved.plan_moves`). Errors: as
    `_merge_errors` says."""
    with _merge_errors(pending, memory_limit, staged.values()):
        return _merge_staged(pending, staged, tmp_dir, tag, memory_limit, lacking)


def compact_appended(pending: PendingTable, tmp_dir: Path, tag: str, memory_limit: str) -> None:
    """Gather each partition that has files of new records appended beside its content
    (`PendingTable.append`) into one new file, two partitions at a time: a run of many
    files touching the same days rewrites each day once, here, not once per file."""
    if not pending.appended:
        return
    jobs = [(v, pending.current_files(v), pending.new_file(v, tag)) for v in pending.appended]
    with _merge_errors(pending, memory_limit, ()):
        con = bounded_duckdb(tmp_dir, memory_limit)
        try:

            def one(job: tuple[str, list[Path], Path]) -> tuple[str, Path]:
                value, files, target = job
                cur = con.cursor()
                try:
                    rows = f"(SELECT * FROM {_held(pending, files)})"
                    _rewrite(cur, pending.schema, target, "", rows, dedup=False)
                    return value, target
                finally:
                    cur.close()

            with ThreadPoolExecutor(2, thread_name_prefix="compact") as pool:
                for value, target in pool.map(one, sorted(jobs)):
                    pending.replace(value, target)
                    faults.after_merge()
                    faults.point("compact")
                    interrupts.checkpoint()
        finally:
            con.close()


@contextmanager
def _merge_errors(
    pending: PendingTable, memory_limit: str, staged: Iterable[Path]
) -> Iterator[None]:
    """DuckDB running out of `memory_limit` raises MergeOutOfMemory (exit 6), not a bug's
    exit 1; a held file that does not read (overwritten outside cdr) is `WarehouseDamaged`
    (exit 6)."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise MergeOutOfMemory.past(f"merging {pending.schema.name}", memory_limit, exc) from exc
    except duckdb.InterruptException:
        raise  # says nothing of the files
    except duckdb.Error as exc:
        if environment_error(exc, None) is not None:
            raise  # a disk full or read-only says nothing of the files read
        held = [f for value in pending.partitions() for f in pending.current_files(value)]
        # a staged partition installed as it was is no longer where it was staged
        check_readable([*held, *(f for f in staged if f.exists())], None, exc)
        raise


def _merge_staged(
    pending: PendingTable,
    staged: dict[str, Path],
    tmp_dir: Path,
    tag: str,
    memory_limit: str,
    lacking: Sequence[str],
) -> MergeCounts:
    total = MergeCounts()
    con = bounded_duckdb(tmp_dir, memory_limit)
    plan = MovedPlan()
    try:
        if lacking and (held := [f for v in staged for f in pending.current_files(v)]):
            lacking = held_lacking(con, pending.schema, _held(pending, held), lacking)
        if pending.schema.key_spans_partitions and staged:  # nothing staged: nothing moves
            plan = plan_moves(con, pending, staged)
            total.within_file += plan.within_file
            total.stale += plan.stale
            total.inserted -= plan.moved  # counted new in its day by the merge: an update
            total.updated += plan.moved

        def one(value: str) -> MergeCounts:
            cur = con.cursor()
            try:
                return merge_partition(cur, pending, value, staged.get(value), tag, plan, lacking)
            finally:
                cur.close()

        with ThreadPoolExecutor(2, thread_name_prefix="merge") as pool:
            for counts in pool.map(one, sorted(set(staged) | plan.current_drops)):
                total.add(counts)
                interrupts.checkpoint()  # the pool waits for the partitions under way
    finally:
        con.close()
    return total


def merge_partition(
    con: duckdb.DuckDBPyConnection,
    pending: PendingTable,
    value: str,
    staged: Path | None,
    tag: str,
    plan: MovedPlan | None = None,
    lacking: Sequence[str] = (),
) -> MergeCounts:
    """Merge staged rows (if any) into one partition's new file, leaving out the rows `plan`
    moves elsewhere. Returns the counts."""
    schema = pending.schema
    plan = plan or MovedPlan()
    key = schema.key[0]
    current = pending.current_files(value)
    cur = ""
    if current:
        cur = f"(SELECT * FROM {_held(pending, current)}{plan.current_filter(value, key)})"
    target = pending.new_file(value, tag)
    counts = MergeCounts()
    inc = ""
    total = unique = 0
    repeated = None
    if staged is not None:
        staged_filter = plan.staged_filter(value, key)
        inc = f"(SELECT * FROM read_parquet({lit(staged)}){staged_filter})"
        inc, counts.erased = without_erased(con, pending.layout, schema, inc)
        # rows of the file that lost to a later row of the same file, and its Webex Go rows
        # (all loaded when the file is installed as it is: counted in the same read)
        # fetchall: a result left unfinished would block the rewrite's query on `con`
        go = "count(*) FILTER (WHERE is_webex_go)" if _has_webex_go(schema) else "0"
        total, unique, go_rows = con.execute(
            f"SELECT count(*), count(DISTINCT ({_key(schema)})), {go} FROM {inc}"
        ).fetchall()[0]
        counts.within_file = int(total) - int(unique)
        # the table holds none of the keys here (`plan_moves` looked them all up): all new
        new_only = plan.held_parts is not None and value not in plan.held_parts
        if current and not new_only:
            inc = with_held_values(con, schema, inc, cur, lacking)  # what it lacks
            repeats = f"__repeats_{hashlib.sha1(value.encode()).hexdigest()[:12]}"
            compared = compare(con, schema, inc, cur, repeats)
            counts.add(compared)
            if compared.redelivered:
                inc, repeated = without_repeats(schema, inc, repeats), repeats
        else:
            counts.inserted = int(unique)
        plain = counts.inserted == total and not (
            staged_filter or counts.erased or value in plan.current_drops
        )
        if plain and (current or _installable(staged, schema)):
            # only new records: a new partition's staged file (zstd) is final as it is; beside
            # a partition's content, it is gathered with it once, at the end of the run
            counts.webex_go = int(go_rows)
            install_file(staged, target)
            if current:
                pending.append(value, target)
            else:
                pending.replace(value, target)
            faults.after_merge()
            return counts
    _rewrite(con, schema, target, inc, cur, dedup=bool(current) or total != unique)
    if pq.ParquetFile(target).metadata.num_rows == 0:  # every record moved elsewhere
        target.unlink()
        pending.replace(value, None)
    else:
        if staged is not None:
            counts.webex_go = _webex_go_loaded(con, schema, target, staged, repeated)
        pending.replace(value, target)
    faults.after_merge()
    return counts


def _webex_go_loaded(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    written: Path,
    staged: Path,
    repeats: str | None = None,
) -> int:
    """Webex Go legs among the rows `staged` put into `written`: those carrying its load
    order (one per source). A re-sent copy, an older version or a line a later line of the
    file replaced left another row there; a better source's copy of the held content took
    its place, but is a re-delivery (`repeats`, not `__same`)."""
    if not _has_webex_go(schema):
        return 0
    seq = f"(SELECT load_seq FROM read_parquet({lit(staged)}) LIMIT 1)"
    rows = f"read_parquet({lit(written)}) AS w"
    query = f"SELECT count(*) FROM {rows} WHERE is_webex_go AND load_seq = {seq}"
    if repeats is not None:
        match = " AND ".join(f"w.{quote(k)} IS NOT DISTINCT FROM r.{quote(k)}" for k in schema.key)
        query += f" AND NOT EXISTS (SELECT 1 FROM {repeats} AS r WHERE NOT r.__same AND {match})"
    return int(con.execute(query).fetchall()[0][0])


def _has_webex_go(schema: TableSchema) -> bool:
    return "is_webex_go" in {c.name for c in schema.stored_columns}


def _held(pending: PendingTable, files: list[Path]) -> str:
    """The partition's held `files` with every stored column: a file an older release wrote
    lacks the columns the schema gained since (read as NULL, as the views read them), or
    holds values it stored otherwise (`held_rows`). Each footer is read once a run."""
    schema = pending.schema
    read, have = read_files([str(f) for f in files], hive=False, known=pending.footers)
    missing = [c for c in schema.stored_columns if c.name not in have]
    if missing:
        nulls = ", ".join(
            f"CAST(NULL AS {DUCKDB_TYPES[c.dtype]}) AS {quote(c.name)}" for c in missing
        )
        read = f"(SELECT *, {nulls} FROM {read})"
    return held_rows(schema, read)


def _key(schema: TableSchema) -> str:
    return ", ".join(quote(k) for k in schema.key)


def _installable(staged: Path, schema: TableSchema) -> bool:
    """A staged file is final unless its rows came in tiny pieces (a sparse day of
    interleaved input) that a rewrite would gather into fewer row groups."""
    meta = pq.ParquetFile(staged).metadata
    return meta.num_rows / meta.num_row_groups >= MIN_INSTALL_ROW_GROUP or gathered(meta, schema)


def _rewrite(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    target: Path,
    inc: str,
    cur: str,
    dedup: bool,
) -> None:
    """Write the partition's new content (held rows and staged rows, latest version of each
    key) to the new file `target` (no commit lists it yet).

    The latest version is chosen among the rows' keys, versions and lineage only; the whole
    rows then pass through a semi join on the winners. A window over whole rows (about a
    hundred columns) sorted every held row: 3.4x as long for a day of 200,000 legs, and it
    spilled once two merges shared the memory limit."""
    cols = schema.stored_columns
    select = ", ".join(
        f"CAST({quote(c.name)} AS {DUCKDB_TYPES[c.dtype]}) AS {quote(c.name)}" for c in cols
    )
    rels = [(i, rel) for i, rel in enumerate((cur, inc)) if rel]
    col_list = ", ".join(quote(c.name) for c in cols)
    if not dedup:
        union = " UNION ALL BY NAME ".join(f"SELECT {select} FROM {rel}" for _, rel in rels)
        copy_query(con, f"SELECT {col_list} FROM ({union})", target, schema)
        return
    lineage = ["load_seq", "source_row"]
    ident = ", ".join(quote(c) for c in dict.fromkeys([*schema.key, *schema.version_by, *lineage]))
    order = [f"{quote(v)} DESC NULLS LAST" for v in schema.version_by]
    order += [f"{STREAM_FIRST} DESC", '"load_seq" DESC', '"source_row" DESC']
    ident += f", {stream_rank(schema)} AS {STREAM_FIRST}"
    candidates = " UNION ALL ".join(f"SELECT {ident}, {i} AS __src FROM {rel}" for i, rel in rels)
    winners = (
        f"SELECT {_key(schema)}, __src, load_seq, source_row FROM ({candidates}) "
        f"QUALIFY row_number() OVER (PARTITION BY {_key(schema)} ORDER BY {', '.join(order)}) = 1"
    )
    match = " AND ".join(
        f"r.{quote(c)} IS NOT DISTINCT FROM w.{quote(c)}" for c in [*schema.key, *lineage]
    )
    kept = " UNION ALL BY NAME ".join(
        f"SELECT {select} FROM {rel} AS r SEMI JOIN __winners AS w ON w.__src = {i} AND {match}"
        for i, rel in rels
    )
    copy_query(
        con,
        f"WITH __winners AS MATERIALIZED ({winners}) SELECT {col_list} FROM ({kept})",
        target,
        schema,
    )
