"""The files of a ledger folder (`state/ledger/<table>/`): those that hold its records now,
and those a compaction superseded.

A compaction folds a folder's files into one `_compacted-<ns>.parquet` and names, in that
file's Parquet metadata (`SUPERSEDES`), every file it listed. It deletes none of them: the
`stg_ledger_*` views of a `cdr.duckdb` list the files they read when they are built, and a
query of views built before the compaction (a connection held open, a notebook) opens the
files it listed, which a deletion there failed ("Cannot open file"). Every reader reads the
*live* files: the latest compacted file and those it does not name (written after it, or
while it was written). `cdr vacuum` deletes the superseded ones once the compaction that
superseded them is older than the grace period, as it does the tables' replaced files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.errors import WarehouseDamaged

COMPACTED_PREFIX = "_compacted-"
ABANDONED_TEMP_SECONDS = 3600
"""A ledger temp file this old was left by a writer that died between writing and renaming
it (a write takes milliseconds; `cdr validate`, which takes no lock, may be writing one)."""
SUPERSEDES = b"cdr.supersedes"
"""Key of a compacted file's metadata: the JSON list of the file names it superseded."""


def stamp(path: Path | str) -> int:
    """The write time in a ledger file's name (`<record>@<ns>`, `_compacted-<ns>`); 0 for
    a file named otherwise (written before names carried it)."""
    stem = path.stem if isinstance(path, Path) else path.removesuffix(".parquet")
    text = stem.removeprefix(COMPACTED_PREFIX) if stem.startswith(COMPACTED_PREFIX) else ""
    text = stem.rpartition("@")[2] if "@" in stem else text
    return int(text) if text.isascii() and text.isdigit() else 0


def superseded_by(path: Path) -> set[str]:
    """The names a compacted file superseded (none for one written before it named them,
    when compactions deleted what they folded in, or one that does not read: its reader
    names the damage)."""
    try:
        meta = pq.read_schema(path).metadata or {}
        names = json.loads(meta.get(SUPERSEDES, b"[]"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pa.ArrowException):
        return set()
    return {str(n) for n in names} if isinstance(names, list) else set()


def _listed(folder: Path) -> list[str]:
    """The names of a folder's Parquet files, sorted (names, not paths: a folder that no
    vacuum has pruned holds thousands, and every ledger write lists it)."""
    try:
        return sorted(n for n in os.listdir(folder) if n.endswith(".parquet"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def split_names(folder: Path) -> tuple[list[str], list[str]]:
    """(live, superseded) file names of a ledger folder, each sorted."""
    for _ in range(3):  # the latest compacted file gone between listing and reading: again
        names = _listed(folder)
        compacted = [n for n in names if n.startswith(COMPACTED_PREFIX)]
        if not compacted:
            return names, []
        try:
            gone = superseded_by(folder / max(compacted, key=lambda n: (stamp(n), n)))
        except FileNotFoundError:
            continue
        return [n for n in names if n not in gone], [n for n in names if n in gone]
    return names, []


def live_files(folder: Path) -> list[Path]:
    """The files that hold the folder's records now (see the module's text)."""
    return [folder / n for n in split_names(folder)[0]]


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    return t


def plain_strings(table: pa.Table) -> pa.Table:
    """One Arrow string type in every file: polars hands out views and large strings."""
    return table.cast(pa.schema([(f.name, _plain_type(f.type)) for f in table.schema]))


def with_supersedes(table: pa.Table, names: list[str]) -> pa.Table:
    """`table` (a compaction's rows) naming the files `names` superseded in its metadata."""
    meta = dict(table.schema.metadata or {})
    meta[SUPERSEDES] = json.dumps(sorted(names)).encode()
    return table.replace_schema_metadata(meta)


def expired_superseded(folder: Path, grace_hours: int, now_ns: int | None = None) -> list[Path]:
    """The superseded files of a folder whose first superseding compaction was written more
    than `grace_hours` ago (a compacted file's time is in its name)."""
    cutoff = (time.time_ns() if now_ns is None else now_ns) - grace_hours * 3_600_000_000_000
    live, superseded = split_names(folder)
    expired: set[str] = set()
    for compacted in (n for n in live + superseded if n.startswith(COMPACTED_PREFIX)):
        if stamp(compacted) > cutoff:
            continue
        try:
            expired.update(superseded_by(folder / compacted) & set(superseded))
        except FileNotFoundError:
            continue
    return [folder / n for n in sorted(expired)]


def abandoned_temps(folder: Path, now: float | None = None) -> list[Path]:
    """The hidden temp files (`.<name>.tmp-*`, `state/files.py`) of a ledger folder older
    than `ABANDONED_TEMP_SECONDS`: writes killed before their rename."""
    cutoff = (time.time() if now is None else now) - ABANDONED_TEMP_SECONDS
    out = []
    for left in sorted(folder.glob(".*.tmp-*")):
        try:
            if left.is_file() and left.stat().st_mtime < cutoff:
                out.append(left)
        except FileNotFoundError:
            continue
    return out


def damaged_record(path: Path, exc: Exception) -> WarehouseDamaged:
    """A ledger record that does not read: records are written atomically, so it was
    changed outside cdr. Never set aside: the ledger is the record of every run, and its
    `files` records say which inputs were loaded already."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WarehouseDamaged(
        f"ledger record {path} cannot be read as Parquet ({detail})",
        hint="a record of the run ledger was changed outside cdr (by hand, a disk fault): "
        "restore it from a backup of the warehouse. No table was changed",
    )
