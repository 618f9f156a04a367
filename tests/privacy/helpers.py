"""What the privacy tests share: the raw personal values a warehouse holds, and scans of
views and files for them."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.schema.personal import PERSONAL_COLUMNS

MIN_SUBSTRING = 7
"""Values at least this long are searched inside other text too; shorter ones (extensions,
short codes) only as whole values of text columns, where they cannot occur by chance."""


def raw_personal_values(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every distinct personal value of the full tier's staging views (`main.stg_*`), less
    those that are also plain data in a column that holds no personal data (a location
    named like a hunt group is no person's)."""
    values: set[str] = set()
    for table, columns in PERSONAL_COLUMNS.items():
        for column in columns:
            rows = con.execute(
                f'select distinct "{column}" from main.stg_{table} where "{column}" is not null'
            ).fetchall()
            values |= {str(r[0]) for r in rows if str(r[0]).strip()}
    values -= {"{}", "[]"}
    return values - _plain_values(con)


def _plain_values(con: duckdb.DuckDBPyConnection) -> set[str]:
    out: set[str] = set()
    for table, personal in PERSONAL_COLUMNS.items():
        cols = con.execute(
            "select column_name from duckdb_columns() where schema_name = 'main' "
            "and table_name = ? and data_type = 'VARCHAR'",
            [f"stg_{table}"],
        ).fetchall()
        for (column,) in cols:
            if column in personal:
                continue
            rows = con.execute(f'select distinct "{column}" from main.stg_{table}').fetchall()
            out |= {str(r[0]) for r in rows if r[0] is not None}
    return out


def found_in(texts: Iterable[str], values: set[str]) -> set[str]:
    """The values of `values` found in `texts` (whole, or inside for long values)."""
    texts = list(texts)
    hits = values.intersection(texts)
    # each long value searched once in the texts joined by NUL (a value without one cannot
    # span two texts), not once per text: a file's thousands of cells times the person's
    # values took seconds per scan
    blob = "\x00".join(texts)
    hits.update(v for v in values if len(v) >= MIN_SUBSTRING and "\x00" not in v and v in blob)
    hits.update(
        v for v in values if len(v) >= MIN_SUBSTRING and "\x00" in v and any(v in t for t in texts)
    )
    return hits


def strings_of_table(table: pa.Table) -> list[str]:
    out: list[str] = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out.extend(v for v in column.to_pylist() if v is not None)
        elif pa.types.is_list(column.type):
            for item in column.to_pylist():
                out.extend(str(v) for v in item or [] if v is not None)
    return out


def file_texts(path: Path) -> list[str]:
    """What a file says: every text value of a Parquet file (decompressed by reading it),
    the decompressed bytes of a gzip file, the raw bytes of any other."""
    if path.suffix == ".parquet":
        return strings_of_table(pq.read_table(path))
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [data.decode("utf-8", errors="replace")]


def scan_files(root: Path, values: set[str]) -> dict[str, set[str]]:
    """File (relative to `root`) -> the values of `values` found in it."""
    found: dict[str, set[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hits = found_in(file_texts(path), values)
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def rows_of(files: Iterable[Path], columns: str) -> list[tuple[object, ...]]:
    """`columns` of the rows of the Parquet `files`, by the first (a connection of its own:
    the default one may hold another test's unfinished result)."""
    con = duckdb.connect()
    try:
        sql = f"select {columns} from read_parquet(?) order by 1"
        return con.execute(sql, [[str(f) for f in files]]).fetchall()
    finally:
        con.close()
