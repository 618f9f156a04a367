"""Rewrite partitions of a table with personal values replaced: one Delta commit.

Retention of personal fields and erasure both come down to this: in the files of some
partitions, every personal value found in a *replacement map* (kind, value, pseudonym)
becomes its pseudonym, and the dropped fields (`schema/personal.py`) become NULL on the rows
`null_dropped` selects. Each partition's files are read by DuckDB (streaming, memory capped)
and written as one new file; the commit removes the old files and adds the new ones, so
readers see the table before or after, never a mix. The replaced files stay for readers of
older versions until `cdr vacuum` deletes them after the grace period.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import MergeOutOfMemory
from cdr_pipeline.ingest.merge import bounded_duckdb
from cdr_pipeline.ingest.rowgroups import copy_query
from cdr_pipeline.privacy.scrub import scrubbed_name
from cdr_pipeline.schema import TableSchema
from cdr_pipeline.schema.base import DUCKDB_TYPES
from cdr_pipeline.schema.personal import dropped_columns, pseudonymised_columns
from cdr_pipeline.state import tables
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.state.whole_build import mark_whole_build
from cdr_pipeline.text import lit, quote

MAP_NAME = "__replacements"
"""The replacement map's name on the DuckDB connection (columns kind, value, pseudonym)."""
SOURCES_NAME = "__renamed_sources"
"""The source file names to rename on the DuckDB connection (columns old, new)."""
SOURCE_COLUMN = "source_file"


@dataclass
class TableRewrite:
    """What one table's rewrite changed (or would, in a dry run)."""

    table: str
    rows: int = 0
    """Rows holding a replaced value (or, under retention, every row of the partitions)."""
    files: int = 0
    """Data files replaced."""
    partitions: list[str] = field(default_factory=list)
    version: int | None = None
    """The table version committed; None when nothing changed or in a dry run."""


RETENTION_TAG = "retention"
RETENTION_MARK = f"-{RETENTION_TAG}-"
"""In the name of a data file a retention pass wrote (`part-<run>-retention-<id>.parquet`)."""


def rewrite_connection(settings: Settings, replacements: pa.Table) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the replacement map, memory capped at `merge_memory_mb`
    (a partition rewrite is a partition merge's size), spilling to state/. What a killed
    rewrite spilled there (raw rows; DuckDB never deletes another process's spill files) is
    deleted first, and so is what a killed ingest left (its staged rows and merge spill under
    state/staging/, its half-written files under tables/: raw rows nobody reads, which the
    next ingest deletes, but a forget or retention pass is the next writer as often): the
    callers hold the writer lock, so no other writer uses them."""
    layout = settings.layout
    spill = layout.state / "privacy" / ".spill"
    for folder in (spill, layout.staging):
        shutil.rmtree(folder, ignore_errors=True)
    layout.clean_temp_files()
    con = bounded_duckdb(spill, f"{settings.merge_memory_mb}MiB")
    con.execute("set preserve_insertion_order = true")
    replace_map(con, replacements)
    return con


def replace_map(
    con: duckdb.DuckDBPyConnection, replacements: pa.Table, sources: Mapping[str, str] = {}
) -> None:
    """Make `replacements` the connection's map, and `sources` (a `source_file` as rows
    record it -> that name with the person's values replaced: `renamed_sources`) the names
    the rewrite gives those rows' `source_file`."""
    con.register("__replacement_rows", replacements)
    con.execute(f"create or replace table {MAP_NAME} as select * from __replacement_rows")
    con.unregister("__replacement_rows")
    renamed = pa.table(
        {"old": list(sources), "new": list(sources.values())},
        schema=pa.schema([("old", pa.string()), ("new", pa.string())]),
    )
    con.register("__renamed_rows", renamed)
    con.execute(f"create or replace table {SOURCES_NAME} as select * from __renamed_rows")
    con.unregister("__renamed_rows")


def renamed_sources(
    con: duckdb.DuckDBPyConnection, snaps: Mapping[str, Snapshot], text: Mapping[str, str]
) -> dict[str, str]:
    """Each `source_file` the tables' rows record whose name holds one of the values of
    `text` (value -> token) -> the name with them replaced, as `scrub_files` renames the
    files: an export named after the person names them in every row loaded from it."""
    out: dict[str, str] = {}
    for snap in snaps.values():
        files = snap.all_files()
        if not files or SOURCE_COLUMN not in present_columns(con, files):
            continue
        rows = con.execute(f"select distinct {SOURCE_COLUMN} from {parquet_source(files)}")
        for (name,) in rows.fetchall():
            if name is not None and (new := scrubbed_name(str(name), text)) != name:
                out[str(name)] = new
    return out


def _lookups(schema: TableSchema, present: set[str], keep: Iterable[str]) -> dict[str, str]:
    """Column -> alias of the join that finds its replacement (one per replaced column)."""
    kinds = pseudonymised_columns(schema.name)
    kept = set(keep)
    replaced = [c.name for c in schema.stored_columns if c.name in kinds]
    return {c: f"__m{i}" for i, c in enumerate(replaced) if c in present and c not in kept}


def _joins(schema: TableSchema, lookups: dict[str, str]) -> str:
    """A left join per replaced column on the map's values of its kind (one pseudonym per
    value, so no row is repeated)."""
    kinds = pseudonymised_columns(schema.name)
    return "".join(
        f" left join (select value, min(pseudonym) as pseudonym from {MAP_NAME} "
        f"where kind = {lit(kinds[col])} group by value) as {alias} "
        f"on {alias}.value = t.{quote(col)}"
        for col, alias in lookups.items()
    )


def touched_predicate(
    schema: TableSchema, present: set[str], texts: str | None = None, sources: bool = False
) -> str:
    """SQL true on a row holding a value of the replacement map, or (with `texts`, a
    regular expression of the values' spellings in free text) whose dropped fields hold
    one inside their text: an unknown source column kept in `extra` may name anyone; with
    `sources`, or loaded from a file whose name is renamed (its dropped fields stay)."""
    parts = [
        f"{quote(c)} in (select value from {MAP_NAME} where kind = {lit(k)})"
        for c, k in pseudonymised_columns(schema.name).items()
        if c in present
    ]
    if sources and SOURCE_COLUMN in present:
        parts.append(f"{SOURCE_COLUMN} in (select old from {SOURCES_NAME})")
    if texts:
        parts += [
            f"coalesce(regexp_matches({quote(c)}, {lit(texts)}), false)"
            for c in dropped_columns(schema.name)
            if c in present
        ]
    return "(" + " or ".join(parts) + ")" if parts else "false"


def _select(
    schema: TableSchema,
    present: set[str],
    null_dropped: str,
    keep: Iterable[str],
    files: Sequence[Path],
) -> str:
    """The rows of `files` with the map's values replaced. `null_dropped` (SQL over the
    source's columns) is computed once per row: written into each dropped column's `case`,
    its IN-subqueries made a hash join per column and kind (ninety for the call legs), and
    DuckDB needed more than 488 MiB for a partition of 900 rows (`cdr forget` ran out of
    memory)."""
    dropped = set(dropped_columns(schema.name))
    lookups = _lookups(schema, present, keep)
    items: list[str] = []
    for col in schema.stored_columns:
        name, dtype = quote(col.name), DUCKDB_TYPES[col.dtype]
        if col.name not in present:
            expr = "NULL"
        elif col.name in lookups:
            expr = f"coalesce({lookups[col.name]}.pseudonym, t.{name})"
        elif col.name in dropped:
            expr = f"case when t.__drop then NULL else t.{name} end"
        elif col.name == SOURCE_COLUMN:
            renamed = f"(select s.new from {SOURCES_NAME} as s where s.old = t.{name})"
            expr = f"coalesce({renamed}, t.{name})"
        else:
            expr = f"t.{name}"
        items.append(f"cast({expr} as {dtype}) as {name}")
    source = f"(select *, ({null_dropped}) as __drop from {parquet_source(files)})"
    return f"select {', '.join(items)} from {source} as t{_joins(schema, lookups)}"


def parquet_source(files: Sequence[Path], options: str = "") -> str:
    """The SQL relation reading `files` whole, their columns by name (`options` adds
    read_parquet's own: `, filename = 'f'`)."""
    listed = ", ".join(lit(str(f)) for f in files)
    return f"read_parquet([{listed}], hive_partitioning=false, union_by_name=true{options})"


def present_columns(con: duckdb.DuckDBPyConnection, files: Sequence[Path]) -> set[str]:
    """The columns of `files` together (`parquet_source`)."""
    rows = con.execute(f"describe select * from {parquet_source(files)}").fetchall()
    return {str(r[0]) for r in rows}


def count_touched(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    files: Sequence[Path],
    texts: str | None = None,
) -> dict[str, int]:
    """File (as `str`) -> its rows holding a value of the replacement map (`texts`:
    `touched_predicate`); a file without any is left out. One scan of all `files`: a query
    per partition cost a forget a quarter of a second per day held."""
    if not files:
        return {}
    predicate = touched_predicate(schema, present_columns(con, files), texts, sources=True)
    source = parquet_source(files, ", filename = '__file'")
    rows = con.execute(
        f"select __file, count(*) from {source} where {predicate} group by __file"
    ).fetchall()
    return {str(f): int(n) for f, n in rows}


def replaced_holding(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, root: Path, texts: str | None = None
) -> list[Path]:
    """The data files of the table at `root` that earlier commits replaced (kept for readers
    of older versions until `cdr vacuum`) and that hold a value of the replacement map."""
    kept = [root / name for name in tables.vacuum(root, 0, dry_run=True)]
    kept = [f for f in kept if f.suffix == ".parquet" and f.is_file()]
    return [Path(f) for f in count_touched(con, schema, kept, texts)]


def rewrite_partitions(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    schema: TableSchema,
    snap: Snapshot,
    partitions: Sequence[str],
    run_id: str,
    *,
    null_dropped: str,
    keep: Iterable[str] = (),
    tag: str = "privacy",
    texts: str | None = None,
) -> int | None:
    """Write each partition of `partitions` anew with the map's values replaced (columns
    `keep` left as they are) and commit them as one version; returns it (None if no
    partition). `null_dropped` is the SQL condition under which dropped fields become NULL
    (`true`, or `touched` for the rows holding a value of the map, or one of `texts` in a
    dropped field: `touched_predicate`). `tag` goes into the new files' names
    (`part-<run>-<tag>-<id>.parquet`), and retention's mark when every file of the partition
    has it: a rewrite only replaces values, so a forget's tokens in a partition retention did
    leave no raw value there, and the next retention pass need not read it again."""
    if not partitions:
        return None
    layout = settings.layout
    adds: dict[str, list[Path]] = {}
    written: list[Path] = []
    try:
        for value in partitions:
            files = snap.partition_files(value)
            present = present_columns(con, files)
            condition = (
                touched_predicate(schema, present, texts)
                if null_dropped == "touched"
                else null_dropped
            )
            select = _select(schema, present, condition, keep, files)
            done = tag != RETENTION_TAG and all(RETENTION_MARK in f.name for f in files)
            target = layout.new_data_file(
                schema.name,
                schema.partition_by,
                value,
                f"{run_id}-{tag}" + (RETENTION_MARK.rstrip("-") if done else ""),
            )
            tmp = layout.temp_beside(target, run_id)
            try:
                copy_query(con, select, tmp, schema)
            except duckdb.OutOfMemoryException as exc:
                what = f"rewriting {schema.name} {schema.partition_by}={value}"
                raise MergeOutOfMemory.past(what, f"{settings.merge_memory_mb}MiB", exc) from exc
            os.replace(tmp, target)
            written.append(target)
            adds[value] = [target]
        mark_whole_build(layout)  # the old cdr.duckdb's pages hold what this replaces
        return tables.commit(
            snap.root,
            schema.table_arrow_schema(),
            schema.partition_by,
            adds,
            list(partitions),
            run_id,
            step=tag,
        )
    except BaseException:
        # never committed: nothing reads them (and vacuum would remove them anyway)
        for path in written:
            path.unlink(missing_ok=True)
        raise
