"""How every data file of a table is written, whoever writes it (the stager, a partition
merge, a privacy rewrite): the table's one Arrow schema, zstd, statistics and dictionaries
where they pay, and, for a table with a `cluster_by` column, the rows of each of its values
in row groups of their own.

Clustering is what makes the Webex Go views cheap. They read only the legs with
`is_webex_go`, a few percent of all legs; DuckDB skips a row group whose statistics say the
filter cannot match, but only when no row group mixes both values. Measured on 10M legs
over 12 months (7 % Webex Go): `rpt_licence_usage_monthly` went from 2.45 s to 1.8 s and the
scan of the Webex Go legs under it from 1.7 s to 0.4 s."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdr_pipeline.schema.base import STRING, TIMESTAMP, TableSchema
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.text import lit

ROW_GROUP_ROWS = 30_720
"""Rows per Parquet row group written from a query (a merge, a rewrite). A quarter of
DuckDB's default: with ~1 KB CDR rows, larger groups made a bounded merge thrash."""


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


def large_strings(arrow: pa.Schema) -> pa.Schema:
    """`arrow` with `large_string` for `string`: what polars hands over (`CompatLevel.oldest`)
    without a cast."""
    return pa.schema(
        [f.with_type(pa.large_string()) if f.type == pa.string() else f for f in arrow]
    )


def open_writer(path: Path, schema: TableSchema, large: bool = False) -> pq.ParquetWriter:
    """A writer of one data file of the table, taking tables of its stored Arrow schema (with
    `large_string` for `string` when `large`).

    The file carries no `ARROW:schema`: its Parquet types alone say what it holds, so each
    column reads back with one Arrow type (`string`, never `large_string` or `string_view`)
    whichever the writer was given. That spares the stager a cast of every string column:
    a third of the cost of writing a chunk."""
    stats, dictionary = encoding_options(schema)
    arrow = schema.stored_arrow_schema()
    return pq.ParquetWriter(
        path,
        large_strings(arrow) if large else arrow,
        store_schema=False,
        compression="zstd",
        compression_level=1,
        write_statistics=stats,
        use_dictionary=dictionary,
    )


def by_value(table: pa.Table, schema: TableSchema) -> list[tuple[bool | None, pa.Table]]:
    """The rows of `table` for each value of the (boolean) `cluster_by` column: false, true,
    null; the table as it is when one value holds all rows or there is no such column."""
    column = schema.cluster_by
    if column is None or table.num_rows == 0:
        return [(None, table)]
    values = table.column(column)
    if values.null_count == 0 and (pc.all(values).as_py() or not pc.any(values).as_py()):
        return [(values[0].as_py(), table)]
    masks = ((False, pc.invert(values)), (True, values), (None, pc.is_null(values)))
    parts = [(value, table.filter(mask)) for value, mask in masks]  # a null mask drops
    return [(value, part) for value, part in parts if part.num_rows]


def gathered(meta: pq.FileMetaData, schema: TableSchema) -> bool:
    """Whether a file already has as few row groups as `ClusteredWriter` writes for its
    rows: one group, or (a table clustered by a column) one group for each value of that
    column, none of them full. A day of a small export (its Webex Go legs in a group of
    their own) is such a file: a rewrite would write it again as it is."""
    if meta.num_row_groups <= 1:
        return True
    if schema.cluster_by is None or meta.num_rows > ROW_GROUP_ROWS:
        return False
    index = meta.schema.to_arrow_schema().get_field_index(schema.cluster_by)
    if index < 0:
        return False
    seen: set[object] = set()
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(index).statistics
        if stats is None:
            return False
        if stats.null_count == group.num_rows:
            value: object = None
        elif stats.has_min_max and stats.null_count == 0 and stats.min == stats.max:
            value = stats.min
        else:
            return False  # a group that mixes values
        if value in seen:
            return False
        seen.add(value)
    return True


class ClusteredWriter:
    """Writes tables into one file, the rows of each `cluster_by` value (if any) gathered
    into row groups of their own, each of at most `max_rows` rows. The input need not be
    ordered: each value has its own buffer, written out whenever it is full, so memory
    holds at most one row group per value."""

    def __init__(self, path: Path, schema: TableSchema, max_rows: int = ROW_GROUP_ROWS):
        self.schema, self.max_rows = schema, max_rows
        self.arrow_schema = schema.stored_arrow_schema()
        self.writer = open_writer(path, schema)
        self.held: dict[object, list[pa.Table]] = {}

    def write(self, table: pa.Table) -> None:
        for value, run in by_value(table, self.schema):
            while run.num_rows:
                held = self.held.setdefault(value, [])
                take = min(run.num_rows, self.max_rows - sum(t.num_rows for t in held))
                held.append(run.slice(0, take))
                run = run.slice(take)
                if sum(t.num_rows for t in held) >= self.max_rows:
                    self.flush(value)

    def flush(self, value: object) -> None:
        parts = self.held.pop(value, [])
        if parts:
            table = pa.concat_tables(parts).cast(self.arrow_schema)
            self.writer.write_table(table, row_group_size=table.num_rows)

    def close(self) -> None:
        for value in list(self.held):
            self.flush(value)
        self.writer.close()


def copy_query(
    con: duckdb.DuckDBPyConnection, select: str, target: Path, schema: TableSchema
) -> int:
    """Write the rows of the query `select` (the table's stored columns) to the new file
    `target`, clustered; returns the number of rows.

    DuckDB's COPY writes the rows to a hidden temp file beside `target` first (snappy, as
    they come), which pyarrow then reads a row group at a time into `target`: memory
    follows the row group, not the partition. Streaming the query's result straight into
    pyarrow was tried: with two merges at a time it took 5x as long and 1.4 GB (DuckDB
    buffers a streamed result), and sorting it by the flag 1.8x as long."""
    tmp = Layout.temp_beside(target, "rows")
    try:
        con.execute(
            f"COPY ({select}) TO {lit(tmp)} "
            f"(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
        )
        writer, rows = ClusteredWriter(target, schema), 0
        try:
            for batch in pq.ParquetFile(tmp).iter_batches(ROW_GROUP_ROWS):
                rows += batch.num_rows
                writer.write(pa.Table.from_batches([batch]))
        finally:
            writer.close()
        return rows
    finally:
        tmp.unlink(missing_ok=True)
