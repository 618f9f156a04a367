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

from collections.abc import Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.errors import WarehouseDamaged, denied_reading
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit

CHECK_BATCH_ROWS = 65_536
"""Rows pyarrow decodes at a time while checking a file: memory follows this, not the file."""


def read_schema(path: Path) -> pa.Schema:
    """The schema of a table's data file; one that is not Parquet is damage, one this user
    may not read is named as such (both exit 6)."""
    try:
        return pq.read_schema(path)
    except PermissionError as exc:
        raise denied_reading(path) from exc
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
            raise denied_reading(f) from exc
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


Columns = frozenset[tuple[str, str]]
"""A data file's columns with their types (`_columns`)."""


def read_files(
    files: Sequence[str], hive: bool, known: MutableMapping[str, Columns] | None = None
) -> tuple[str, set[str]]:
    """A relation of a table version's `files` and the columns it has (with `hive`, the
    partition columns of their paths too). Files are grouped by the columns they hold and
    their types (read from each footer, once per build; a damaged file is
    `WarehouseDamaged`): one group is one `read_parquet` (the usual case), several are one
    `read_parquet` each joined by `union all by name`, which reads a column a group lacks as
    NULL and widens a column whose type differs between groups. DuckDB's `union_by_name = true`
    would do the same by reading the footer of every listed file each time a query binds the
    view, whatever days it reads: 0.25 s a query at 370 daily files (`benchmarks/views.py`),
    growing with the history. `known`: the columns of files read before, by path (a data
    file is never changed once written: a new version writes new files); the files it
    lacks are read and added to it."""
    known = {} if known is None else known
    unread = [f for f in files if f not in known]
    if unread:  # no threads to start when every footer was read before
        with ThreadPoolExecutor(max_workers=2) as pool:  # pyarrow parses footers without the GIL
            read = pool.map(lambda f: _columns(read_schema(Path(f))), unread)
            known.update(zip(unread, read, strict=True))
    held = [known[f] for f in files]
    groups: dict[Columns, list[str]] = {}
    for f, columns in zip(files, held, strict=True):
        groups.setdefault(columns, []).append(f)
    option = "true" if hive else "false"
    reads = [
        f"read_parquet([{', '.join(lit(f) for f in group)}], hive_partitioning={option})"
        for group in groups.values()
    ]
    present = {name for columns in groups for name, _ in columns}
    if hive:
        present |= {part.split("=", 1)[0] for part in Path(files[0]).parent.parts if "=" in part}
    if len(reads) == 1:
        return reads[0], present
    return "(" + "\n    union all by name\n".join(
        f"select * from {r}" for r in reads
    ) + ")", present


def _columns(schema: pa.Schema) -> Columns:
    """A file's columns with their types: one `read_parquet` of several files reads each
    column as the first file types it (a value another file's type holds beyond it fails the
    query), so files whose types differ are read apart and `union all by name` widens."""
    return frozenset((f.name, str(f.type)) for f in schema)
