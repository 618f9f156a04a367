"""A compact key -> partition index of a table version, for keys that can move between
partitions (a call leg re-delivered with a start time on another day).

`state/index/<table>/v<version>-duckdb<DuckDB version>.parquet` holds one row per record:
`h` (DuckDB's 64-bit `hash` of the key) and `part` (the partition value). Twelve bytes or so
per record, so the incoming keys of a file are looked up with one hash join, in bounded
memory, without reading the data files. A hash match is only a candidate: the partition's
rows are then read for the real keys. The index is a cache of one version: the commit
writes the new version's index from the previous one (rows of the partitions it rewrote
replaced), and a missing one (first run, a crash between commit and index, a retention
commit) is rebuilt from the version's files. The DuckDB version is in the name because the
hash function is DuckDB's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit, quote


def index_connection(tmp_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory limit, spilling to `tmp_dir`."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET memory_limit='512MB'")
    con.execute("SET threads=2")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET temp_directory=?", [str(tmp_dir)])
    return con


def index_file(layout: Layout, table: str, version: int) -> Path:
    return layout.index_folder(table) / f"v{version}-duckdb{duckdb.__version__}.parquet"


def _hash(schema: TableSchema) -> str:
    return f"hash({quote(schema.key[0])})"


def _keys_of(schema: TableSchema, files_by_part: Mapping[str, list[Path]]) -> list[str]:
    """SELECT h, part for every record of the given partitions' files."""
    return [
        f"SELECT {_hash(schema)} AS h, {lit(value)} AS part "
        f"FROM read_parquet([{', '.join(lit(f) for f in files)}])"
        for value, files in sorted(files_by_part.items())
        if files
    ]


def _write(con: duckdb.DuckDBPyConnection, selects: list[str], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    body = (
        " UNION ALL ".join(selects) if selects else "SELECT NULL::UBIGINT AS h, '' AS part LIMIT 0"
    )
    con.execute(f"COPY ({body}) TO {lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
    tmp.replace(target)


def ensure_index(
    con: duckdb.DuckDBPyConnection, layout: Layout, schema: TableSchema, snap: Snapshot
) -> Path | None:
    """The index file of version `snap` (built from its files when missing); None when the
    table has no version yet."""
    if snap.version is None:
        return None
    target = index_file(layout, schema.name, snap.version)
    if not target.exists():
        _write(con, _keys_of(schema, snap.files), target)
    return target


def write_next_index(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    schema: TableSchema,
    base: Snapshot,
    rewritten: Mapping[str, Path | None],
    version: int,
) -> None:
    """The index of `version`: the index of `base` without the partitions `rewritten`, plus
    the keys of their new files. Older index files (and temp files) are removed."""
    previous = ensure_index(con, layout, schema, base)
    selects = []
    if previous is not None:
        gone = ", ".join(lit(v) for v in sorted(rewritten)) or "NULL"
        selects.append(
            f"SELECT h, part FROM read_parquet({lit(previous)}) WHERE part NOT IN ({gone})"
        )
    selects += _keys_of(schema, {v: [p] for v, p in rewritten.items() if p is not None})
    target = index_file(layout, schema.name, version)
    _write(con, selects, target)
    folder = layout.index_folder(schema.name)
    # with the temp file an index write killed mid-way left (`_write`): under the writer
    # lock no other is being written, and nothing else would ever delete it
    for old in [*folder.glob("*.parquet"), *folder.glob(".*.tmp")]:
        if old != target:
            old.unlink(missing_ok=True)
