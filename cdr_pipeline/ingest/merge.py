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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from cdr_pipeline import interrupts
from cdr_pipeline.errors import MergeOutOfMemory, environment_error
from cdr_pipeline.ingest import faults
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


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    redelivered: int = 0
    stale: int = 0
    within_file: int = 0
    webex_go: int = 0  # Webex Go legs among the rows loaded (inserted or updated)
    erased: int = 0  # copies of records an erasure reached: they stay erased (`erased.py`)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated

    @property
    def duplicate(self) -> int:
        return self.redelivered + self.stale + self.within_file + self.erased

    def add(self, other: MergeCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
    partitions, records that moved are settled first (`moved.plan_moves`). DuckDB
    running out of `memory_limit` raises MergeOutOfMemory (exit 6), not a bug's exit 1; a
    held file that does not read (overwritten outside cdr) is `WarehouseDamaged` (exit 6)."""
    try:
        return _merge_staged(pending, staged, tmp_dir, tag, memory_limit, lacking)
    except duckdb.OutOfMemoryException as exc:
        raise MergeOutOfMemory.past(f"merging {pending.schema.name}", memory_limit, exc) from exc
    except duckdb.InterruptException:
        raise  # says nothing of the files
    except duckdb.Error as exc:
        if environment_error(exc, None) is not None:
            raise  # a disk full or read-only says nothing of the files read
        held = [f for value in pending.partitions() for f in pending.current_files(value)]
        # a staged partition installed as it was is no longer where it was staged
        check_readable([*held, *(f for f in staged.values() if f.exists())], None, exc)
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
            lacking = held_lacking(con, pending.schema, _held(pending.schema, held), lacking)
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
        cur = f"(SELECT * FROM {_held(schema, current)}{plan.current_filter(value, key)})"
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
        if current:
            inc = with_held_values(con, schema, inc, cur, lacking)  # what it lacks
            repeats = f"__repeats_{hashlib.sha1(value.encode()).hexdigest()[:12]}"
            compared = _compare(con, schema, inc, cur, repeats)
            counts.add(compared)
            if compared.redelivered:
                inc, repeated = _without_repeats(schema, inc, repeats), repeats
        else:
            counts.inserted = int(unique)
            whole = total == unique and not (staged_filter or counts.erased)
            if whole and _installable(staged, schema):
                # a new partition without duplicates: the staged file (zstd) is final as it is
                counts.webex_go = int(go_rows)
                install_file(staged, target)
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


def _held(schema: TableSchema, files: list[Path]) -> str:
    """The partition's held `files` with every stored column: a file an older release wrote
    lacks the columns the schema gained since (read as NULL, as the views read them), or
    holds values it stored otherwise (`held_rows`)."""
    read, have = read_files([str(f) for f in files], hive=False)
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


def _compare(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, inc: str, cur: str, repeats: str
) -> MergeCounts:
    """Classify the latest incoming version of each key against the version held; the keys
    re-delivered with the held content go to the temp table `repeats`.

    An incoming version equal to the one held (or any repeat of a key, for a table without
    a version column, like an entitlement amendment) still replaces it, being the later
    load: it counts as an update when its content differs (a re-export edited in a
    spreadsheet, an amended row), as a re-delivery only when the content is the same."""
    keys = [quote(k) for k in schema.key]
    key = ", ".join(keys)
    join = " AND ".join(f"i.{k} IS NOT DISTINCT FROM c.{k}" for k in keys)
    if schema.version_by:
        v, s = quote(schema.version_by[0]), STREAM_FIRST
        tie = f"i.{v} IS NOT DISTINCT FROM c.{v}"
        later = f"i.{v} > c.{v} OR (c.{v} IS NULL AND i.{v} IS NOT NULL)"
        ranked = f"({tie} AND i.{s} > c.{s})"  # a better source's copy of the same version
        newer = f"({later} OR {ranked})"
        same = f"({tie} AND i.{s} = c.{s})"
        vsel = f", {v}, {stream_rank(schema)} AS {s}"
        vorder = f"{v} DESC NULLS LAST, {stream_rank(schema)} DESC, "
    else:
        newer, ranked, same, vsel, vorder = "false", "false", "true", "", ""

    def latest(content: str = "") -> str:
        return f"""i AS (
            SELECT {key}{vsel}{content} FROM {inc}
            QUALIFY row_number() OVER (PARTITION BY {key}
                ORDER BY {vorder}load_seq DESC, source_row DESC) = 1
        )"""

    row = con.execute(f"""
        WITH {latest()}, c AS (SELECT {key}{vsel}, true AS __present FROM {cur}),
        j AS (
            SELECT c.__present IS NOT NULL AS present,
                   coalesce({newer}, false) AS newer, coalesce({same}, false) AS same,
                   coalesce({ranked}, false) AS ranked
            FROM i LEFT JOIN c ON {join}
        )
        SELECT count(*) FILTER (WHERE NOT present),
               count(*) FILTER (WHERE present AND newer),
               count(*) FILTER (WHERE present AND same),
               count(*) FILTER (WHERE present AND NOT newer AND NOT same),
               count(*) FILTER (WHERE present AND ranked)
        FROM j
    """).fetchall()[0]
    counts = MergeCounts(inserted=row[0], updated=row[1], redelivered=row[2], stale=row[3])
    if counts.redelivered or row[4]:  # read the content only when some versions tie
        # the keys whose latest incoming version repeats the held one, content and all; a
        # better source's copy of the held content is a re-delivery too, but takes the held
        # row's place (a later copy from the source it outranks must still lose to it)
        content = f", hash({', '.join(quote(c) for c in _content_columns(schema))}) AS __content"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {repeats} AS
            WITH {latest(content)},
            c AS (SELECT {key}{vsel}{content} FROM {cur})
            SELECT {", ".join(f"i.{k}" for k in keys)}, {same} AS __same
            FROM i JOIN c ON {join} AND ({same} OR {ranked})
            WHERE i.__content = c.__content
        """)
        same_content, ranked_content = con.execute(
            f"SELECT count(*) FILTER (WHERE __same), count(*) FILTER (WHERE NOT __same) "
            f"FROM {repeats}"
        ).fetchall()[0]
        changed = counts.redelivered - int(same_content)
        counts.redelivered += int(ranked_content) - changed
        counts.updated += changed - int(ranked_content)
    return counts


def _without_repeats(schema: TableSchema, inc: str, repeats: str) -> str:
    """The incoming rows but those of a key whose latest incoming version repeats the held
    one (`_compare` lists them in `repeats`): the held row stays as it was loaded (its
    file, its load order). A re-sent copy changes nothing, not even the lineage an event's
    load order is judged by (`OUT_OF_ORDER_EVENT`)."""
    match = " AND ".join(f"x.{quote(k)} IS NOT DISTINCT FROM r.{quote(k)}" for k in schema.key)
    held = f"(SELECT * FROM {repeats} WHERE __same)"
    return f"(SELECT x.* FROM {inc} AS x ANTI JOIN {held} AS r ON {match})"


def _content_columns(schema: TableSchema) -> list[str]:
    """The stored columns that say what a record holds: all but where and when it was
    loaded (`extra`, the source columns the schema does not know, is content)."""
    lineage = {c.name for c in schema.lineage} - {"extra"}
    return [c.name for c in schema.stored_columns if c.name not in lineage]
