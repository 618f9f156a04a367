"""The records an erasure reached, so that a re-delivery of them does not bring the person back.

`cdr forget` replaces a person's values in the rows that hold them; an export or API page
delivered again later (an overlapping download, a backfill) holds the same records with the
raw values, and as the later load it would win the deduplication and undo the erasure. For
each table, `state/privacy/erased/<table>.parquet` lists the key (and version) of every row
an erasure rewrote: Report ID and Report time of a call leg, the device and time of a
snapshot. These identify records the tables keep anyway (an erased person's rows keep their
Report ID); they hold no personal value. The ingest's merge drops an incoming record whose
key and version are listed (`without_erased`), counted as a re-delivery: the erased row
stays. A later version of the record (a new Report time) is new data and loads.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from cdr_pipeline.schema.base import DUCKDB_TYPES, TableSchema
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.text import lit, quote


def erased_file(layout: Layout, table: str) -> Path:
    return layout.privacy / "erased" / f"{table}.parquet"


def identity(schema: TableSchema) -> list[str]:
    """The columns that name one version of a record: its key, then its version column."""
    return list(dict.fromkeys([*schema.key, *schema.version_by]))


def add_erased(
    con: duckdb.DuckDBPyConnection, layout: Layout, schema: TableSchema, rows: str
) -> int:
    """Add the `identity` of the rows of the SQL relation `rows` to the table's list (written
    whole to a temp file, then renamed: a killed forget leaves the old list or the new one).
    Returns how many the list holds."""
    path = erased_file(layout, schema.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    types = {c.name: DUCKDB_TYPES[c.dtype] for c in schema.stored_columns}
    cols = ", ".join(f"cast({quote(c)} as {types[c]}) as {quote(c)}" for c in identity(schema))
    parts = [f"select {cols} from {rows}"]
    if path.exists():
        parts.append(f"select {cols} from read_parquet({lit(str(path))})")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con.execute(
        f"copy (select distinct * from ({' union all '.join(parts)})) to {lit(str(tmp))} "
        "(format parquet, compression zstd)"
    )
    os.replace(tmp, path)
    held = con.execute(f"select count(*) from read_parquet({lit(str(path))})").fetchall()
    return int(held[0][0])


def without_erased(
    con: duckdb.DuckDBPyConnection, layout: Layout, schema: TableSchema, rows: str
) -> tuple[str, int]:
    """The SQL relation `rows` without the records an erasure reached (their key and version
    listed), and how many it leaves out (`rows` itself and 0 when no erasure listed any
    record of the table)."""
    path = erased_file(layout, schema.name)
    if not path.exists():
        return rows, 0
    listed = f"read_parquet({lit(str(path))}) as e"
    match = " and ".join(
        f"x.{quote(c)} is not distinct from e.{quote(c)}" for c in identity(schema)
    )
    dropped = con.execute(f"select count(*) from {rows} as x semi join {listed} on {match}")
    count = int(dropped.fetchall()[0][0])
    if not count:
        return rows, 0
    return f"(select x.* from {rows} as x anti join {listed} on {match})", count
