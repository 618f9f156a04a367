"""A query over the views failed: damage to a table file the views read, or a bug?

DuckDB's own error for a data file overwritten in place ("No magic bytes found", a thrift
error, "Variable-length int over 10 bytes") would end the command as a bug (exit 1). The
block under `naming_damage` re-reads the files of the table versions its views read
(`state/datafiles.py`) and raises `WarehouseDamaged` (exit 6) naming the first one that
does not read; after a value that did not convert, the first file holding a column as
another type with a value the table's type cannot take (`check_types`). When none is found,
the original error goes on as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import InputError, WarehouseDamaged
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.schema.base import DUCKDB_TYPES, TableSchema
from cdr_pipeline.state import tables
from cdr_pipeline.state.datafiles import check_snapshots
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.tables import Snapshot, parse_versions
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.catalog import ViewError
from cdr_pipeline.warehouse.signature import built_versions

NOT_ABOUT_FILES = (duckdb.OutOfMemoryException, duckdb.InterruptException)
"""DuckDB errors that say nothing of the files read (said as they are)."""


@contextmanager
def naming_damage(
    snapshots: Callable[[], Iterable[Snapshot]], ledger: Layout | None = None
) -> Iterator[None]:
    """Within the block, a DuckDB or Arrow error is checked against the files of
    `snapshots()` (called only then: the table versions the block's views read), and with
    `ledger` the record files of the run ledger (a build's ledger views read them), and
    becomes `WarehouseDamaged` when one of them does not read. A view that did not build
    (`ViewError`) read no data: only the files' footers are checked."""
    try:
        yield
    except NOT_ABOUT_FILES:
        raise
    except (ViewError, duckdb.Error, pa.ArrowException) as exc:
        read = list(snapshots())
        check_snapshots(read, exc, pages=not isinstance(exc, ViewError))
        if isinstance(exc, duckdb.ConversionException):
            check_types(read)
        if ledger is not None:
            Ledger(ledger).check_readable()
        raise


def check_types(snapshots: Iterable[Snapshot]) -> None:
    """After a value did not convert: `check_file_types` over each table version read."""
    for snap in snapshots:
        schema = schemas_by_table().get(snap.name)
        if schema is not None:
            check_file_types(schema, snap.all_files())


def check_file_types(schema: TableSchema, files: Iterable[Path]) -> None:
    """Raise the damage of the first of the table's `files` that holds a column as another
    type than the schema's, with a value the schema's type cannot take (a file another
    writer put in the table: text in `duration_seconds`). The value is not said: it may be
    personal data."""
    con = duckdb.connect()
    try:
        wanted = {c.name: DUCKDB_TYPES[c.dtype] for c in schema.stored_columns}
        # as `describe` names them (TIMESTAMPTZ: TIMESTAMP WITH TIME ZONE)
        named = {
            t: con.execute(f"select typeof(cast(NULL as {t}))").fetchall()[0][0]
            for t in set(wanted.values())
        }
        for f in files:
            source = f"read_parquet({lit(str(f))})"
            for name, held, *_ in con.execute(f"describe select * from {source}").fetchall():
                target = wanted.get(str(name))
                if target is None or str(held) == named[target]:
                    continue
                col = quote(str(name))
                bad = f"select 1 from {source} where {col} is not null "
                if con.execute(bad + f"and try_cast({col} as {target}) is null limit 1").fetchall():
                    raise WarehouseDamaged(
                        f"data file {f} holds {name} as {held}, with a value that is not {target}",
                        hint="a writer other than cdr put this file in the table: restore "
                        "it from a backup of the warehouse, or correct the writer. No table "
                        "was changed",
                    )
    finally:
        con.close()


def built_snapshots(settings: Settings) -> list[Snapshot]:
    """The table versions the views of `cdr.duckdb` read (its build record)."""
    try:
        return version_snapshots(settings, parse_versions(built_versions(settings.layout.duckdb)))
    except InputError as exc:  # vacuumed: said for --as-of, which this reader did not give
        raise InputError(
            f"{exc.message} (the version the views of {settings.layout.duckdb} read)",
            hint="their build is older than the tables (the refresh after a load did not "
            "finish): run `cdr build` to move the views to the latest versions",
        ) from exc


def version_snapshots(settings: Settings, versions: Mapping[str, int]) -> list[Snapshot]:
    """The snapshots of the tables at `versions`, each checked to be there whole
    (`tables.snapshot`: a missing or cut file is damage too)."""
    out = []
    for schema in schemas_by_table().values():
        if schema.name in versions:
            root = settings.layout.table(schema.name)
            version = versions[schema.name]
            out.append(tables.snapshot(root, schema.name, schema.partition_by, version))
    return out
