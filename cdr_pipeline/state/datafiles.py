"""Telling a damaged table data file from a bug, after a read of the tables failed.

`tables.snapshot` checks that every file a version lists is there with the size its log
recorded (one `stat` each). A file of the right size whose bytes were overwritten (a disk
fault, an edit by hand) passes that check; DuckDB then fails at the first query that reads
it, with a message that often names no file ("Variable-length int over 10 bytes"). Each
command that reads the tables catches that failure and hands the files it read here:
pyarrow reads them again, one at a time, and the first one it cannot read either is named
as damage to restore (exit 6). When every file reads, the failure was not about them and
the caller re-raises it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.state.tables import Snapshot

CHECK_BATCH_ROWS = 65_536
"""Rows pyarrow decodes at a time while checking a file: memory follows this, not the file."""


def read_schema(path: Path) -> pa.Schema:
    """The schema of a table's data file; one that is not Parquet is damage (exit 6)."""
    try:
        return pq.read_schema(path)
    except PermissionError:
        raise
    except (pa.ArrowException, OSError) as exc:  # pyarrow's IO errors are OSErrors
        raise damaged_file(path, exc) from exc


def damaged_file(path: Path, exc: BaseException) -> WarehouseDamaged:
    """A data file of the recorded size whose content cannot be read (the size check of
    `tables.snapshot` passed): changed outside cdr, like a missing or cut file."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WarehouseDamaged(
        f"data file {path} cannot be read as Parquet ({detail})",
        hint="a file the table's log lists was changed outside cdr (by hand, a disk fault): "
        "restore it from a backup of the warehouse. No table was changed",
    )


def check_readable(files: Iterable[Path], columns: list[str] | None, exc: BaseException) -> None:
    """After a read of `files` failed with `exc`: raise the damage of the first file whose
    footer, or whose `columns` (every column when None), pyarrow cannot read either; return
    when every file reads (then `exc` is not about the files). Footers first: they are
    cheap, and a damaged one is the most common case."""
    files = list(files)
    schemas = [read_schema(f) for f in files]
    for f, schema in zip(files, schemas, strict=True):
        present = schema.names if columns is None else [c for c in columns if c in schema.names]
        try:
            for _ in pq.ParquetFile(f).iter_batches(CHECK_BATCH_ROWS, columns=present):
                pass
        except PermissionError:
            raise
        except (pa.ArrowException, OSError) as err:  # a page that does not decode: OSError
            raise damaged_file(f, err) from exc


def check_snapshots(snapshots: Iterable[Snapshot], exc: BaseException, pages: bool = True) -> None:
    """`check_readable` over every file of `snapshots` (the table versions a failed read
    used). `pages=False` checks the footers only: enough after a failure that read no data
    (a view that did not bind), and cheap on a large warehouse."""
    files = [f for snap in snapshots for f in snap.all_files()]
    if pages:
        check_readable(files, None, exc)
    else:
        for f in files:
            read_schema(f)
