"""The warehouse tables are Delta Lake tables (the `deltalake` package, delta-rs).

A table's folder holds Hive-style partition folders of immutable Parquet files and the
transaction log `_delta_log/`. A version of the table is the set of files the log lists at
that commit: readers take one version's file list and never see a file change under them.
A writer never rewrites a file: it writes new files, then commits, in one log entry per
table, the new files (Add actions) and the files they replace (Remove actions, all files of
the partitions it rewrote). Removed files stay on disk until `vacuum` deletes those removed
more than the grace period ago, so a reader holding an older file list keeps working.

Each commit carries the id of the run that made it (`cdr.run_id` in the commit info), so a
run that died can be told apart: committed or not, and which version (see `run_version`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    PostCommitHookProperties,
    create_table_with_add_actions,
)

from cdr_pipeline.errors import InputError, WarehouseDamaged, denied_reading, is_denied

KEEP_LOG = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
"""After each commit: a checkpoint every 100 versions (readers start from it), and no log
entry deleted. delta-rs's default removes the entries older than 30 days before a
checkpoint, and with them every version they were: `--as-of` such a version or a moment
then read the table as not existing yet, so a report answered with no calls and exit 0.
History goes as far back as vacuum keeps the files, as the README says."""
RUN_ID_KEY = "cdr.run_id"
"""Commit-info key naming the ingest run (or command) that made a commit."""
STEP_KEY = "cdr.step"
"""Commit-info key naming the step of the run whose commits make one change (one per table)."""
UNPARTITIONED = "all"
"""The partition value under which an unpartitioned table's files are grouped."""

AsOf = int | datetime
"""A table version number, or a point in time (the version current then)."""


@dataclass
class Snapshot:
    """One version of a table: its files, grouped by partition value."""

    name: str
    root: Path
    version: int | None
    """None when the table does not exist (yet, or at that time)."""
    partition_by: str | None
    files: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    """Partition value -> its records, from the log's file statistics (a partition with a
    file the log has no count for is missing)."""

    def all_files(self) -> list[Path]:
        return [f for value in sorted(self.files) for f in self.files[value]]

    def partition_files(self, value: str) -> list[Path]:
        return self.files.get(value, [])


def is_table(root: Path) -> bool:
    return (root / "_delta_log").is_dir() and DeltaTable.is_deltatable(str(root))


def open_table(root: Path, as_of: AsOf | None = None) -> DeltaTable | None:
    """The table at `root` (at version/time `as_of`), or None if it does not exist then."""
    if not (root / "_delta_log").is_dir():
        return None
    if isinstance(as_of, datetime):
        # by our own reading of the commit infos: delta-rs dates a version by its log file's
        # modification time, a little later than the commit info, so asking it for the
        # version current at a commit's own time can answer with the version before
        as_of = version_at_time(root, as_of)
        if as_of is None:
            return None  # before the table existed (delta-rs would answer with version 0)
    try:
        table = DeltaTable(str(root))
        if as_of is not None:
            table.load_as_version(as_of)
    except TableNotFoundError:
        return None
    except DeltaError as exc:  # a log entry that does not parse, a missing version...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise damaged_log(root, first) from exc
    except OSError as exc:  # delta-rs's IO error: a log entry this user may not read
        if not is_denied(exc):
            raise
        named = re.search(r"Unable to open file (\S+)", str(exc))
        raise denied_reading(named.group(1) if named else root / "_delta_log") from exc
    return table


def damaged_log(root: Path, detail: str) -> WarehouseDamaged:
    """The error for a table whose log cannot be read, as delta-rs or our own reading of a
    commit's info found it."""
    return WarehouseDamaged(
        f"the Delta log of {root} cannot be read ({detail})",
        hint=f"the table's log is damaged (a disk fault, or a file edited or removed by "
        f"hand): restore {root / '_delta_log'} from a backup. No table was changed; "
        "cdr.duckdb still answers from the last build",
    )


def version_at_time(root: Path, when: datetime) -> int | None:
    """The latest version committed at or before `when` (commit info times increase with
    the version, so a binary search over the log reads a few entries), None if none was."""
    versions = log_versions(root)
    lo, hi, best = 0, len(versions) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        stamp = commit_time(root, versions[mid])
        if stamp is not None and stamp <= when:
            best, lo = versions[mid], mid + 1
        else:
            hi = mid - 1
    if best is None and versions and versions[0] > 0:
        raise history_gone(root, versions[0])  # not "before the table existed"
    return best


def history_gone(root: Path, first: int) -> InputError:
    """The error for a version older than the log's oldest entry: an earlier cdr, or
    another Delta writer, let its log cleanup delete the entries (a checkpoint stands for
    them), so those versions can no longer be read."""
    stamp = commit_time(root, first)
    when = f", committed {stamp.isoformat()}" if stamp is not None else ""
    return InputError(
        f"{root.name}: its log no longer holds the versions before {first}{when} (their log "
        "entries were deleted by an earlier cdr or another Delta writer's log cleanup)",
        hint=f"ask for version {first} or a later one, or a time from then on; cdr runs "
        "--wide lists the versions",
    )


def log_versions(root: Path) -> list[int]:
    """The versions whose log entries are on disk, in order."""
    log = root / "_delta_log"
    return sorted(int(p.stem) for p in log.glob("*.json") if p.stem.isdigit())


def commit_time(root: Path, version: int) -> datetime | None:
    """When `version` of the table was committed (its commit info), None if it has none."""
    stamp = (commit_info(root, version) or {}).get("timestamp")
    if not isinstance(stamp, int):  # another engine's commit may leave it out
        return None
    return datetime.fromtimestamp(stamp / 1000, tz=UTC)


def commit_run_id(root: Path, version: int) -> str | None:
    """The id of the run that committed `version` of the table (None: no such version, or
    a commit made by no run of ours)."""
    run_id = (commit_info(root, version) or {}).get(RUN_ID_KEY)
    return run_id if isinstance(run_id, str) else None


def commit_info(root: Path, version: int) -> dict[str, Any] | None:
    """The commit info of `version` of the table, None if there is no such version."""
    entry = root / "_delta_log" / f"{version:020d}.json"
    if not entry.is_file():
        return None
    # read before delta-rs ever parses the entry (`--as-of` dates versions by their commit
    # info): a damaged entry is the same damaged log, not a bug
    try:
        with open(entry, encoding="utf-8") as fh:
            for line in fh:
                action = json.loads(line)
                if isinstance(action, dict) and isinstance(action.get("commitInfo"), dict):
                    info: dict[str, Any] = action["commitInfo"]
                    return info
    except ValueError as exc:  # bad JSON or bad UTF-8 (both are ValueErrors)
        raise damaged_log(root, f"{entry.name}: {exc}") from exc
    return None


def snapshot(
    root: Path,
    name: str,
    partition_by: str | None,
    as_of: AsOf | None = None,
    *,
    check: bool = True,
) -> Snapshot:
    """The files of one version of the table at `root` (the latest by default), each one
    checked to be there whole (`check_files`) unless `check` is off: only for a caller that
    wants the list itself, not to read the files (cleaning up after a dead run)."""
    table = open_table(root, as_of)
    snap = Snapshot(name, root, None, partition_by)
    if table is None:
        return snap
    snap.version = table.version()
    # polars reads delta-rs's Arrow table as it is; `pa.table` would import pandas
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    paths = actions["path"].to_list()
    if partition_by is None:
        values = [UNPARTITIONED] * len(paths)
    else:
        values = [str(v) for v in actions[f"partition.{partition_by}"].to_list()]
    counts = actions["num_records"].to_list() if "num_records" in actions.columns else []
    sizes = actions["size_bytes"].to_list() if "size_bytes" in actions.columns else []
    if check:
        check_files(snap, [(root / r, size) for r, size in itertools.zip_longest(paths, sizes)])
    unknown: set[str] = set()
    for value, rel, count in sorted(
        itertools.zip_longest(values, paths, counts), key=lambda r: (r[0], r[1])
    ):
        snap.files.setdefault(value, []).append(root / rel)
        if count is None:
            unknown.add(value)
        else:
            snap.rows[value] = snap.rows.get(value, 0) + int(count)
    for value in unknown:
        snap.rows.pop(value, None)
    return snap


def check_files(snap: Snapshot, files: list[tuple[Path, int | None]]) -> None:
    """Every file the version lists is there with the size its log recorded; else a clear
    error instead of DuckDB's "No files found" or "No magic bytes" (exit 1) at the first
    query that reaches it. A version older than the latest whose files are gone was
    vacuumed (the user asked for a version too old: exit 3); anything else is damage done
    outside cdr, a file deleted or truncated (exit 6). One `stat` per file."""
    bad: list[tuple[Path, str]] = []
    for path, size in files:
        try:
            found = path.stat().st_size
        except FileNotFoundError:
            bad.append((path, "missing"))
            continue
        except PermissionError as exc:  # a folder this user may not search: not a write
            raise denied_reading(path) from exc
        if size is not None and found != size:
            bad.append((path, f"{found:,} bytes where the log recorded {size:,}"))
    if not bad:
        return
    assert snap.version is not None
    latest = version_at(snap.root)
    if all(what == "missing" for _, what in bad) and latest is not None and snap.version < latest:
        from cdr_pipeline.state.history import vacuumed  # it reads the log through this module

        raise vacuumed(snap, len(bad), [path for path, _ in files])
    path, what = bad[0]
    more = f" (and {len(bad) - 1} other file(s))" if len(bad) > 1 else ""
    raise WarehouseDamaged(
        f"{snap.name} version {snap.version}: data file {path} is {what}{more}",
        hint="a file the table's log lists was deleted or changed outside cdr (by hand, a "
        "disk fault): restore it from a backup of the warehouse. No table was changed; "
        "cdr.duckdb still answers from the last build, except queries that read that file",
    )


def _add_action(root: Path, path: Path, partition_by: str | None, value: str) -> AddAction:
    meta = pq.ParquetFile(path).metadata
    with open(path, "rb") as fh:  # durable before the log names it
        os.fsync(fh.fileno())
    stat = path.stat()
    return AddAction(
        path=path.relative_to(root).as_posix(),
        size=stat.st_size,
        partition_values={partition_by: value} if partition_by else {},
        modification_time=int(stat.st_mtime * 1000),
        data_change=True,
        stats=json.dumps({"numRecords": meta.num_rows}),
    )


def commit(
    root: Path,
    schema: pa.Schema,
    partition_by: str | None,
    adds: Mapping[str, Iterable[Path]],
    rewritten: Iterable[str],
    run_id: str,
    step: str | None = None,
) -> int:
    """One commit: every file of the partitions `rewritten` is removed, the files `adds`
    (partition value -> new files, all under `root`) are added. Creates the table on its
    first commit. Returns the new version (`step`: `STEP_KEY`)."""
    rewritten = sorted(set(rewritten))
    # Add actions only: the files they replace are removed by the overwrite's partition
    # filter (explicit Remove actions need deltalake >= 1.6)
    actions: list[Any] = [
        _add_action(root, path, partition_by, value)
        for value in sorted(adds)
        for path in adds[value]
    ]
    for path in {Path(os.path.dirname(a.path)) for a in actions}:
        _fsync_dir(root / path)
    metadata = {RUN_ID_KEY: run_id} if step is None else {RUN_ID_KEY: run_id, STEP_KEY: step}
    props = CommitProperties(custom_metadata=metadata)
    table = open_table(root)
    if table is None:
        create_table_with_add_actions(
            str(root),
            DeltaSchema.from_arrow(schema),
            actions,
            mode="error",
            partition_by=partition_by,
            commit_properties=props,
            post_commithook_properties=KEEP_LOG,
        )
    else:
        # overwrite removes every file of the filtered partitions (all files when the table
        # is not partitioned); nothing rewritten: a plain append
        mode, filters = "overwrite", None
        if partition_by is not None:
            if rewritten:
                filters = [(partition_by, "in", rewritten)]
            else:
                mode = "append"
        table.create_write_transaction(
            actions,
            mode,
            schema,
            partition_by,
            filters,
            commit_properties=props,
            post_commithook_properties=KEEP_LOG,
        )
    final = open_table(root)
    assert final is not None
    return final.version()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def format_versions(versions: Mapping[str, int | None]) -> str:
    """`call_legs=12,device_events=3` for the tables that have a version."""
    return ",".join(f"{n}={v}" for n, v in sorted(versions.items()) if v is not None)


def parse_versions(text: str | None) -> dict[str, int]:
    """`format_versions` read back: `call_legs=12,device_events=3` -> {name: version}."""
    pairs = (pair.partition("=") for pair in (text or "").split(",") if pair)
    return {name: int(version) for name, _, version in pairs}


def run_version(root: Path, run_id: str, limit: int = 200) -> int | None:
    """The version of the table that run `run_id` committed (its commit info names the run;
    of the latest `limit` commits), None when it committed none."""
    table = open_table(root)
    if table is None:
        return None
    found = [e.get("version") for e in table.history(limit) if e.get(RUN_ID_KEY) == run_id]
    versions = [int(v) for v in found if isinstance(v, int)]
    return max(versions) if versions else None


def vacuum(root: Path, grace_hours: int, dry_run: bool = False) -> list[str]:
    """Delete files removed from the table (and files no commit lists) more than
    `grace_hours` ago. Returns the files deleted (or that would be)."""
    table = open_table(root)
    if table is None:
        return []
    # delta-rs lists them (a dry run) and the files are deleted here: its own vacuum also
    # commits `VACUUM START` and `VACUUM END` entries, two versions no run made and with no
    # change to the data, after which every reader's views looked behind the tables
    doomed: list[str] = table.vacuum(
        retention_hours=max(int(grace_hours), 0),
        dry_run=True,
        enforce_retention_duration=False,
        full=True,
    )
    if not dry_run:
        base = root.resolve()
        for name in doomed:
            path = (root / name).resolve()
            if base in path.parents:  # a listed path never leads out of the table
                path.unlink(missing_ok=True)
    return doomed


def version_at(root: Path, as_of: AsOf | None = None) -> int | None:
    table = open_table(root, as_of)
    return None if table is None else table.version()
