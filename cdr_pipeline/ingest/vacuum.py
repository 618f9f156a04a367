"""`cdr vacuum`: delete data files no current table version lists, and ledger files a
compaction superseded, once the grace period has passed since they were replaced.

A replaced file leaves the table's log at the commit that replaces it but stays on disk, so
a reader holding an older version (a `cdr.duckdb` opened before a build, a notebook, a
time-travel query) keeps working. `vacuum` deletes the files replaced more than
`vacuum_grace_hours` ago (and files no commit ever listed: what a dead run left), one table
at a time, under the writer lock. The nightly job runs it after retention.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import faults
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state import tables
from cdr_pipeline.state.ledger_files import abandoned_temps, expired_superseded
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.secret import prune_pseudonym_maps

log = logging.getLogger(__name__)


@dataclass
class VacuumResult:
    grace_hours: int
    dry_run: bool
    deleted: dict[str, list[str]] = field(default_factory=dict)
    """Table -> files deleted (or that would be, in a dry run), relative to the table."""

    @property
    def files(self) -> int:
        return sum(len(v) for v in self.deleted.values())


def vacuum_tables(
    settings: Settings,
    grace_hours: int | None = None,
    dry_run: bool = False,
    command: str = "cdr vacuum",
) -> VacuumResult:
    """Vacuum every table; `grace_hours` defaults to the `vacuum_grace_hours` setting."""
    grace = settings.vacuum_grace_hours if grace_hours is None else grace_hours
    if grace < 0:
        raise ValueError("the grace period cannot be negative")
    result = VacuumResult(grace, dry_run)
    # a dry run deletes nothing: it needs no lock (nor write access, on a read-only mount)
    lock = (
        nullcontext()
        if dry_run
        else writer_lock(settings.layout, command, settings.lock_wait_seconds)
    )
    with lock:
        for name in sorted(schemas_by_table()):
            root = settings.layout.table(name)
            gone = tables.vacuum(root, grace, dry_run=dry_run)
            result.deleted[name] = sorted(gone)
            if not dry_run:
                _remove_emptied_partitions(root, gone)
            if gone:
                log.info(
                    "%s: %s %d file(s)", name, "would delete" if dry_run else "deleted", len(gone)
                )
            faults.point("vacuum")
        # ledger files a compaction superseded: views built before it list them
        superseded = _ledger_superseded(settings, grace, dry_run)
        if superseded:
            result.deleted["ledger"] = superseded
        # the analyst tier's pseudonym maps of earlier builds hold raw values: same grace
        maps = prune_pseudonym_maps(settings.layout, grace, dry_run=dry_run)
        if maps:
            result.deleted["pseudonym maps"] = sorted(str(p) for p in maps)
    return result


def _remove_emptied_partitions(root: Path, gone: list[str]) -> None:
    """Remove the partition folders the deleted files leave empty: retention drops one day
    of call legs a night, and a warehouse of years kept a folder for every day it ever
    dropped (`ls tables/call_legs` looked as if retention never ran). Under the writer lock,
    so no writer is putting a file into one; a folder that is not empty stays."""
    base = root.resolve()
    for folder in sorted({(root / name).resolve().parent for name in gone}, reverse=True):
        while folder != base and base in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty (a file of the current version), or already gone
                break
            folder = folder.parent


def _ledger_superseded(settings: Settings, grace: int, dry_run: bool) -> list[str]:
    """Delete the ledger files a compaction superseded more than `grace` hours ago (the
    views of a `cdr.duckdb` built before it read them) and the temp files of writes killed
    before their rename; returns them, relative to the ledger."""
    root = settings.layout.ledger
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    gone = [f for folder in folders for f in expired_superseded(folder, grace)]
    gone += [f for folder in folders for f in abandoned_temps(folder)]  # killed writes
    if not dry_run:
        for f in gone:
            f.unlink(missing_ok=True)
    return [str(f.relative_to(root)) for f in gone]
