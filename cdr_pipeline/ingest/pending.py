"""A run's uncommitted changes to the tables, committed once per table at the end of the run.

Each merge writes a partition's new content to a new file (`Layout.new_data_file`); the run
keeps, per table, the one new file of each partition it rewrote. A later file of the same
run that touches the partition again merges into that file and replaces it (the replaced
file was never committed: nobody can be reading it, so it is deleted at once). Rows that
only add records (no key the partition holds) are not merged at once: their staged file
goes beside the partition's content (`append`), and `ingest/compact.py` gathers each such
partition into one file before the commit, so a run of many files touching the same days
(the pages of a fetch, a folder of small exports) rewrites each day once, not once per
file. At the end of the run `commit` makes one Delta commit per table: every file the
partitions had is removed, the new files are added. Until then readers see the previous
version only; a run that dies leaves files no commit lists, which the next run deletes
(`discard_orphans`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from cdr_pipeline.ingest import faults
from cdr_pipeline.ingest.keyindex import index_connection, write_next_index
from cdr_pipeline.schema import TableSchema, schemas_by_table
from cdr_pipeline.state import tables
from cdr_pipeline.state.datafiles import Columns
from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)


@dataclass
class PendingTable:
    """One table's changes in a run, on top of the version the run started from."""

    schema: TableSchema
    layout: Layout
    snapshot: tables.Snapshot
    rewritten: dict[str, Path | None] = field(default_factory=dict)
    """partition value -> its new file (None: the partition becomes empty)."""
    appended: dict[str, list[Path]] = field(default_factory=dict)
    """partition value -> this run's files of new records beside its content (compacted
    into `rewritten` before the commit)."""
    key_hashes: dict[Path, pa.Table] = field(default_factory=dict)
    """(key hash, partition) of the rows of the files this run wrote, by path
    (`moved.plan_moves`)."""
    footers: dict[str, Columns] = field(default_factory=dict)
    """The columns of the data files read in this run, by path (`datafiles.read_files`)."""

    @property
    def root(self) -> Path:
        return self.layout.table(self.schema.name)

    def current_files(self, value: str) -> list[Path]:
        """The partition's files as this run sees them (its own changes included)."""
        appended = self.appended.get(value, [])
        if value in self.rewritten:
            new = self.rewritten[value]
            return appended if new is None else [new, *appended]
        return [*self.snapshot.partition_files(value), *appended]

    def partitions(self) -> list[str]:
        """Every partition value with files, as this run sees the table."""
        values = set(self.snapshot.files) | set(self.rewritten) | set(self.appended)
        return sorted(v for v in values if self.current_files(v))

    def new_file(self, value: str, tag: str) -> Path:
        column = self.schema.partition_by
        path = self.layout.new_data_file(self.schema.name, column, value, tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def replace(self, value: str, new: Path | None) -> None:
        """The partition's content is now `new`; the files this run wrote before for it go
        (never committed: nobody can be reading them)."""
        old = [self.rewritten.get(value), *self.appended.pop(value, [])]
        self.rewritten[value] = new
        for path in old:
            if path is not None and path != new:
                path.unlink(missing_ok=True)

    def append(self, value: str, new: Path) -> None:
        """`new` holds records the partition does not hold: it goes beside its content until
        `ingest/compact.py` gathers them."""
        self.appended.setdefault(value, []).append(new)

    def commit(self, run_id: str) -> int | None:
        """Commit the run's changes to this table (and write the key index of the new
        version, when the table has one); returns the new version (None if the run changed
        nothing)."""
        if self.appended:  # a bug: `compact` gathers them first
            raise AssertionError(f"{self.schema.name}: appended files not compacted")
        if not self.rewritten:
            return self.snapshot.version
        adds = {v: [p] for v, p in self.rewritten.items() if p is not None}
        version = tables.commit(
            self.root,
            self.schema.table_arrow_schema(),
            self.schema.partition_by,
            adds,
            self.rewritten,
            run_id,
            step="ingest",
        )
        log.info(
            "%s: committed version %d (%d partition(s) rewritten)",
            self.schema.name,
            version,
            len(self.rewritten),
        )
        # a first version's index is left to the first run that looks a key up
        if self.schema.key_spans_partitions and self.snapshot.version is not None:
            con = index_connection(self.layout.staging_run(run_id) / "index_tmp")
            try:
                write_next_index(
                    con, self.layout, self.schema, self.snapshot, self.rewritten, version
                )
            finally:
                con.close()
        return version


class PendingTables:
    """Every table a run changes."""

    def __init__(self, layout: Layout, run_id: str) -> None:
        self.layout, self.run_id = layout, run_id
        self.tables: dict[str, PendingTable] = {}

    def table(self, schema: TableSchema) -> PendingTable:
        found = self.tables.get(schema.name)
        if found is None:
            snap = tables.snapshot(self.layout.table(schema.name), schema.name, schema.partition_by)
            found = self.tables[schema.name] = PendingTable(schema, self.layout, snap)
        return found

    def commit(self) -> dict[str, int]:
        """One commit per changed table, in a stable order. Returns table -> version for
        every table the run changed."""
        versions: dict[str, int] = {}
        for name in sorted(self.tables):
            version = self.tables[name].commit(self.run_id)
            if version is not None and self.tables[name].rewritten:
                versions[name] = version
            faults.point("commit")
        return versions


def committed_versions(layout: Layout, run_id: str) -> dict[str, int]:
    """Table -> the version `run_id` committed, for the tables it committed."""
    out: dict[str, int] = {}
    for name in sorted(schemas_by_table()):
        version = tables.run_version(layout.table(name), run_id)
        if version is not None:
            out[name] = version
    return out


def discard_orphans(layout: Layout, run_ids: Iterable[str]) -> int:
    """Delete data files the runs `run_ids` wrote that no current version lists (the run died
    before its commit). Returns how many went."""
    ids = list(run_ids)
    if not ids:
        return 0
    removed = 0
    for schema in schemas_by_table().values():
        root = layout.table(schema.name)
        if not root.is_dir():
            continue
        # the list only: a file damaged outside cdr must not stop the clean-up after a run
        snap = tables.snapshot(root, schema.name, schema.partition_by, check=False)
        listed = set(snap.all_files())
        for run_id in ids:
            for path in root.rglob(f"part-{run_id}-*.parquet"):
                if path not in listed:
                    path.unlink(missing_ok=True)
                    removed += 1
    return removed
