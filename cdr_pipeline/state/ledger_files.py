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
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

COMPACTED_PREFIX = "_compacted-"
SUPERSEDES = b"cdr.supersedes"
"""Key of a compacted file's metadata: the JSON list of the file names it superseded."""


def stamp(path: Path) -> int:
    """The write time in a ledger file's name (`<record>@<ns>`, `_compacted-<ns>`); 0 for
    a file named otherwise (written before names carried it)."""
    stem = path.stem
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


def _listed(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def split_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(live, superseded) files of a ledger folder, each sorted by name."""
    for _ in range(3):  # the latest compacted file gone between listing and reading: again
        files = _listed(folder)
        compacted = [f for f in files if f.name.startswith(COMPACTED_PREFIX)]
        if not compacted:
            return files, []
        try:
            names = superseded_by(max(compacted, key=lambda f: (stamp(f), f.name)))
        except FileNotFoundError:
            continue
        return [f for f in files if f.name not in names], [f for f in files if f.name in names]
    return files, []


def live_files(folder: Path) -> list[Path]:
    """The files that hold the folder's records now (see the module's text)."""
    return split_files(folder)[0]


def with_supersedes(table: pa.Table, files: list[Path]) -> pa.Table:
    """`table` (a compaction's rows) naming `files` as superseded in its metadata."""
    meta = dict(table.schema.metadata or {})
    meta[SUPERSEDES] = json.dumps(sorted(f.name for f in files)).encode()
    return table.replace_schema_metadata(meta)


def expired_superseded(folder: Path, grace_hours: int, now_ns: int | None = None) -> list[Path]:
    """The superseded files of a folder whose first superseding compaction was written more
    than `grace_hours` ago (a compacted file's time is in its name)."""
    files = _listed(folder)
    cutoff = (time.time_ns() if now_ns is None else now_ns) - grace_hours * 3_600_000_000_000
    live = set(live_files(folder))
    expired: set[Path] = set()
    for compacted in (f for f in files if f.name.startswith(COMPACTED_PREFIX)):
        if stamp(compacted) > cutoff:
            continue
        try:
            names = superseded_by(compacted)
        except FileNotFoundError:
            continue
        expired.update(f for f in files if f.name in names and f not in live)
    return sorted(expired)
