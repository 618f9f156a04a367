"""Which Parquet files a validation covers: files of the tables' latest versions, chosen
with the ingest ledger.

- `last` (default): the partitions the latest ingest run loaded (ledger `files.partitions`).
- `pending`: the partitions of every ingest run no validation covered (the nightly's scope:
  a run killed between its commit and its validation, a fetch and an inbox load of one
  night, loads by hand before the first nightly are validated by the next validation, not
  skipped). A validation covers the runs it names; `all` also every run before.
- `all`: every partition of every registered table.
- a `date`: the partitions of every file loaded on or after that day (UTC).

It also answers which source columns unknown to the schema are new: those recorded in the
ledger (`files.unknown_columns`) by the runs in scope and by no earlier run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.schema import TableSchema, schemas_by_table
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.tables import Snapshot, parse_versions, snapshot

ScopeArg = str | date
"""'last', 'pending', 'all', or a date (validate what was loaded since that day)."""


@dataclass
class TableScope:
    schema: TableSchema
    files: list[Path]
    partitions: list[str]
    new_columns: list[str] = field(default_factory=list)
    known_columns: list[str] = field(default_factory=list)
    """Unknown source columns recorded before the runs in scope (the accepted set)."""
    version: int | None = None
    """The table version whose files these are."""


@dataclass
class Scope:
    label: str
    """'last', 'pending', 'all' or 'since YYYY-MM-DD'."""
    tables: dict[str, TableScope]
    run_ids: list[str]
    """Ingest runs whose files are in scope (empty for 'all' without a ledger)."""
    versions: dict[str, int] = field(default_factory=dict)
    """Table -> the version whose files are read: those checked, and those the cross-table
    checks look rows up in (`references`)."""
    references: dict[str, Snapshot] = field(default_factory=dict)
    """The tables other tables' checks look up (a Webex Go leg's device, the org directory),
    taken with the tables in scope: every check of one validation reads one version of each
    table, the one it names."""

    @property
    def file_count(self) -> int:
        return sum(len(t.files) for t in self.tables.values())


def table_snapshot(layout: Layout, schema: TableSchema) -> Snapshot:
    """The latest version of a table: the files a validation reads."""
    return snapshot(layout.table(schema.name), schema.name, schema.partition_by)


def resolve_scope(
    settings: Settings, scope: ScopeArg = "last", references: Iterable[str] = ()
) -> Scope:
    """Files and partitions to validate, per registered table, and the versions of the
    `references` tables (those the cross-table checks read), taken at the same time."""
    ledger = Ledger(settings.layout)
    # the ledger before the tables: a run settled here has its commits in the versions read
    run_order, files = settled(ledger)
    if scope == "pending":
        label, scoped_runs = "pending", pending_runs(ledger)
        selected: pl.DataFrame | None = files.filter(pl.col("run_id").is_in(scoped_runs))
    else:
        label, scoped_runs, selected = _select(files, run_order, scope)
    snaps: dict[str, Snapshot] = {}
    if selected is None:
        tables = _all_tables(settings.layout, snaps)
    else:
        tables = _loaded_tables(settings.layout, selected, snaps)
    # the looked-up tables now, not when a suite reads them: an ingest committing during
    # the validation made the Webex Go device check of call_legs read a device version
    # other than the one the device suites checked and the report named
    by_name = schemas_by_table()
    for name in references:
        if name in by_name and name not in snaps:
            snaps[name] = table_snapshot(settings.layout, by_name[name])
    refs = {n: snaps[n] for n in references if n in snaps and snaps[n].all_files()}
    _new_columns(files, scoped_runs, run_order, tables)
    versions = {n: t.version for n, t in tables.items() if t.version is not None}
    versions |= {n: s.version for n, s in refs.items() if s.version is not None}
    return Scope(label, tables, scoped_runs, dict(sorted(versions.items())), refs)


def settled(ledger: Ledger, runs: pl.DataFrame | None = None) -> tuple[list[str], pl.DataFrame]:
    """(run ids in order, their `files` records) without the runs still loading.

    An ingest records each file `loaded` as it goes and commits at its end; until then
    its row says `running` and names no table version. A validation alongside reads the
    versions before that commit: naming the run as validated would make the nightly's
    `pending` scope skip its rows for ever. A nightly validating its own ingest sees the
    run `running` with the versions it committed, so that one counts."""
    runs = ledger.runs() if runs is None else runs  # `runs`: the caller read them already
    # and a night still waiting for the lock, which has loaded nothing yet
    loading = (pl.col("status") == "running") & pl.col("table_versions").is_null()
    loading = loading | (pl.col("status") == "waiting")
    order = runs.filter(~loading)["run_id"].to_list()
    # read after the runs: a run that started since has no place in `order` either
    files = ledger.files()  # typed even when empty (the ledger has no record yet)
    return order, files.filter(pl.col("run_id").is_in(order))


def pending_runs(ledger: Ledger) -> list[str]:
    """Ingest runs that loaded rows and no validation covered, in run order; runs still
    loading are left to a later validation. A validation covers the runs it names; one of
    every partition (`all`) also every run before the one it names. A `last` validation
    names only the latest run: `cdr ingest a; cdr ingest b; cdr validate` leaves `a` to the
    next `pending` one (it was taken as covered, and never validated, by the nightly). With
    no validation recorded yet, every run that loaded rows is pending."""
    runs = ledger.runs()
    order, files = settled(ledger, runs)
    loading = set(files.filter(pl.col("status") == "loaded")["run_id"].to_list())
    checked = ledger.read("validations")
    if checked.is_empty() or "ingest_run_ids" not in checked.columns:
        return [r for r in order if r in loading]
    covered = {r for ids in checked["ingest_run_ids"].to_list() for r in ids or []}
    whole = checked.filter(pl.col("scope") == "all")
    ends = {r for ids in whole["ingest_run_ids"].to_list() for r in ids or []}
    marks = [i for i, r in enumerate(order) if r in ends]
    start = marks[-1] + 1 if marks else 0
    unseen = _committed_after(runs, whole, covered)
    return [
        r
        for i, r in enumerate(order)
        if r in loading and r not in covered and (i >= start or r in unseen)
    ]


def _committed_after(runs: pl.DataFrame, checked: pl.DataFrame, covered: set[str]) -> set[str]:
    """Runs no validation names that committed a table version newer than any validation
    of every partition (`checked`) read of that table. Runs are in order of their start
    time: one that started after the clock was set back (a machine booted with its clock
    ahead, then corrected by NTP) sorts before the runs of the clock's future, whose
    validation made it look covered, and its rows were never validated. The table versions
    do not depend on the clock."""
    if "table_versions" not in checked.columns:
        return set()
    seen: dict[str, int] = {}
    for text in checked["table_versions"].to_list():
        for name, version in parse_versions(text).items():
            seen[name] = max(seen.get(name, version), version)
    unseen = set()
    for run_id, text in runs.select("run_id", "table_versions").iter_rows():
        versions = parse_versions(text)
        if run_id not in covered and any(v > seen.get(t, v) for t, v in versions.items()):
            unseen.add(run_id)
    return unseen


def _select(
    files: pl.DataFrame, run_order: list[str], scope: ScopeArg
) -> tuple[str, list[str], pl.DataFrame | None]:
    """(label, runs in scope, their ledger file records; None for every file there is)."""
    if scope == "all":
        return "all", run_order[-1:], None
    if scope == "last":
        with_files = set(files["run_id"].to_list())
        scoped = [r for r in run_order if r in with_files][-1:]
        return "last", scoped, files.filter(pl.col("run_id").is_in(scoped))
    if isinstance(scope, date):
        start = datetime(scope.year, scope.month, scope.day, tzinfo=UTC)
        selected = files.filter(pl.col("loaded_at") >= start)
        selected_runs = set(selected["run_id"].to_list())
        scoped = [r for r in run_order if r in selected_runs]
        return f"since {scope.isoformat()}", scoped, selected
    raise ConfigError(
        f"unknown validation scope {scope!r}", hint="use 'last', 'pending', 'all' or a date"
    )


def _all_tables(layout: Layout, snaps: dict[str, Snapshot]) -> dict[str, TableScope]:
    tables: dict[str, TableScope] = {}
    for schema in schemas_by_table().values():
        snap = snaps[schema.name] = table_snapshot(layout, schema)
        paths = snap.all_files()
        if paths:
            parts = [v for v in sorted(snap.files) for _ in snap.files[v]]
            tables[schema.name] = TableScope(schema, paths, parts, version=snap.version)
    return tables


def _loaded_tables(
    layout: Layout, selected: pl.DataFrame, snaps: dict[str, Snapshot]
) -> dict[str, TableScope]:
    """The partitions the selected ledger records loaded, per table."""
    by_name = schemas_by_table()
    tables: dict[str, TableScope] = {}
    loaded = selected.filter(pl.col("status") == "loaded")
    for row in loaded.select("table_name", "partitions").iter_rows(named=True):
        found = by_name.get(row["table_name"] or "")
        if found is None:
            continue
        entry = tables.setdefault(found.name, TableScope(found, [], []))
        entry.partitions.extend(v for v in row["partitions"] or [] if v not in entry.partitions)
    for entry in tables.values():
        entry.partitions.sort()
        snap = snaps[entry.schema.name] = table_snapshot(layout, entry.schema)
        entry.version = snap.version
        # a partition removed since (retention) is simply gone, not an error
        entry.files = [p for v in entry.partitions for p in snap.partition_files(v)]
    return tables


def _new_columns(
    files: pl.DataFrame, scoped: list[str], order: list[str], tables: dict[str, TableScope]
) -> None:
    if files.is_empty() or not scoped:
        return
    first = min(order.index(r) for r in scoped)
    earlier = set(order[:first])
    in_scope = set(scoped)
    for name, entry in tables.items():
        rows = files.filter(pl.col("table_name") == name).select("run_id", "unknown_columns").rows()
        seen: set[str] = set()
        for run_id, cols in rows:
            if run_id in earlier:
                seen.update(cols or [])
        new: dict[str, None] = {}
        for run_id, cols in rows:
            if run_id in in_scope:
                new.update(dict.fromkeys(c for c in (cols or []) if c not in seen))
        entry.new_columns = list(new)
        entry.known_columns = sorted(seen)
