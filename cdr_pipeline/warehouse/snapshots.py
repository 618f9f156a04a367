"""Which version of each table the views read: the latest at build time, or the one current
at a point in time (`--as-of`).

`as_of` is a table version number or a timestamp. A version number names a version of
`call_legs` (the fact table every report reads); the other tables are taken as they were at
the time that version was committed, so every table is read as of one moment. A moment
is read as whole steps: one inside a run's commits reads the state before them, and so does
one after the commits of a step still running (the writer holding the lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import InputError
from cdr_pipeline.schema import CALL_LEGS, schemas_by_table
from cdr_pipeline.state import tables
from cdr_pipeline.state.lock import running_writer
from cdr_pipeline.state.tables import Snapshot, format_versions

AsOfArg = int | datetime | date | str
"""A version number, a datetime, a date (its midnight UTC, as `--as-of 2026-10-31`), or
text: digits for a version, else ISO-8601."""


def parse_as_of(text: AsOfArg) -> int | datetime:
    """`12` -> version 12; `2026-10-31`, `2026-10-31T18:00:00Z` -> a UTC datetime."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str):  # from Python: True would read as version 1
        raise _neither(text)
    value = text.strip()
    if value.isascii() and value.isdigit():  # '²' is a digit to str.isdigit, not to int()
        return int(value)
    try:
        if value[-1:] in ("Z", "z"):  # RFC 3339 allows a lower-case z; Python's parser not
            value = value[:-1] + "+00:00"
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _neither(text) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _neither(value: object) -> InputError:
    return InputError(
        f"--as-of {value!r} is neither a table version nor a timestamp",
        hint="give a version number (cdr runs --wide shows them) or a time like 2026-10-31T18:00Z",
    )


def resolve_time(settings: Settings, as_of: AsOfArg) -> datetime:
    """The moment `as_of` names (a version number: when the run that gave call_legs that
    version had committed all its tables)."""
    value = parse_as_of(as_of)
    if isinstance(value, datetime):
        if value > datetime.now(UTC):
            # not reproducible (later commits would change the answer), and most often a
            # local time written without its zone, which reads as UTC
            raise InputError(
                f"--as-of {value.isoformat()} is in the future",
                hint="leave --as-of out for the latest data; a time without a zone is UTC "
                "(add one: 2026-10-31T18:00+01:00)",
            )
        return value
    root = settings.layout.table(CALL_LEGS.name)
    when = tables.commit_time(root, value)
    if when is None:
        kept = tables.log_versions(root)
        if kept and 0 <= value < kept[0]:
            raise tables.history_gone(root, kept[0])
        latest = tables.version_at(root)
        hint = (
            f"versions go from 0 to {latest}"
            if latest is not None
            # device data may be loaded: a number names a version of call_legs only
            else "no call records are loaded yet, so call_legs has no version; to see the "
            "other tables as they were, give a time (2026-10-31T18:00Z)"
        )
        raise InputError(f"call_legs has no version {value}", hint=hint + _as_time(value))
    return _end_of_run(settings, value, when)


def _as_time(value: int) -> str:
    """For a number no version has that reads as a date (`20261031`, ISO-8601's basic
    form) or a Unix time (`1793437200`): how to write it so that it reads as a time."""
    text = str(value)
    try:
        if len(text) == 8:
            day = datetime.strptime(text, "%Y%m%d").date()
            return f"; for the date {day}, write it with dashes: --as-of {day}"
        if len(text) == 10:
            when = datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
            return f"; for a Unix time, write it as a timestamp: --as-of {when}"
    except ValueError:
        pass
    return ""


def _end_of_run(settings: Settings, version: int, when: datetime) -> datetime:
    """The latest commit time, from `when` on, of the step that committed `version` of
    call_legs (or of its run, for a commit that names no step). A run commits its tables
    one after the other, milliseconds apart: `--as-of VERSION` means the state that step
    left (`cdr runs` lists them together), not the tables it committed after call_legs
    left out (a demo's device data and entitlements, all of one run)."""
    group = _step_or_run(settings.layout.table(CALL_LEGS.name), version)
    if group is None:
        return when
    end = when
    for schema in schemas_by_table().values():
        root = settings.layout.table(schema.name)
        if schema.name == CALL_LEGS.name or not (root / "_delta_log").is_dir():
            continue
        before = tables.version_at_time(root, when)
        following = 0 if before is None else before + 1  # one commit per table and step
        if _step_or_run(root, following) == group:
            end = max(end, tables.commit_time(root, following) or end)
    return end


def table_snapshots(settings: Settings, as_of: AsOfArg | None = None) -> dict[str, Snapshot]:
    """One snapshot per registered table (latest, or as of a moment); a table that did not
    exist then has `version` None and no files."""
    when = resolve_time(settings, as_of) if as_of is not None else None
    versions = None if when is None else _whole_steps(settings, when)
    out: dict[str, Snapshot] = {}
    for schema in schemas_by_table().values():
        root = settings.layout.table(schema.name)
        if versions is None:
            out[schema.name] = tables.snapshot(root, schema.name, schema.partition_by)
        elif (version := versions.get(schema.name)) is None:
            out[schema.name] = Snapshot(schema.name, root, None, schema.partition_by)
        else:
            out[schema.name] = tables.snapshot(root, schema.name, schema.partition_by, version)
    if when is not None and all(snap.version is None for snap in out.values()):
        _nothing_then(settings, when)
    return out


def commit_step(root: Path, version: int) -> tuple[str, str] | None:
    """The run and step that committed `version` of the table (`tables.STEP_KEY`), None
    when the commit names no step (made before steps were recorded, or by another writer)."""
    info = tables.commit_info(root, version) or {}
    run_id, step = info.get(tables.RUN_ID_KEY), info.get(tables.STEP_KEY)
    return (run_id, step) if isinstance(run_id, str) and isinstance(step, str) else None


def _step_or_run(root: Path, version: int) -> tuple[str, str] | str | None:
    """The step that committed `version` of the table, else (a commit that names none) its
    run id: what commits made together share."""
    return commit_step(root, version) or tables.commit_run_id(root, version)


def _whole_steps(settings: Settings, when: datetime) -> dict[str, int | None]:
    """The version of each table at `when`, leaving out the commits of a step still
    committing then. A run's step (its ingest, an erasure's rewrite) commits its tables one
    after the other, milliseconds apart: a moment between two of them would read call_legs
    after the step and device_events before it, a state that never was. A step whose
    commit to some table came after `when` had not finished, so none of its commits count.
    Steps, not runs: a nightly's retention commits minutes after its ingest; a commit that
    names no step (made before steps were recorded) is grouped by its run, as then."""
    at: dict[str, tuple[Path, int | None]] = {}
    unfinished: set[tuple[str, str] | str] = set()
    writing = _writer_since(settings)
    for schema in schemas_by_table().values():
        root = settings.layout.table(schema.name)
        if not (root / "_delta_log").is_dir():
            continue
        version = tables.version_at_time(root, when)
        at[schema.name] = (root, version)
        following = _step_or_run(root, 0 if version is None else version + 1)
        if following is not None:
            unfinished.add(following)
        # a step still committing now has no later commit yet to tell: its commits are
        # those since the live writer took the lock
        mine = version
        while mine is not None and writing is not None:
            stamp = tables.commit_time(root, mine)
            if stamp is None or stamp < writing:
                break
            if (step := _step_or_run(root, mine)) is not None:
                unfinished.add(step)
            mine = mine - 1 if mine > 0 else None
    out: dict[str, int | None] = {}
    for name, (root, version) in at.items():
        while version is not None and _step_or_run(root, version) in unfinished:
            version = version - 1 if version > 0 else None
        out[name] = version
    return out


def _writer_since(settings: Settings) -> datetime | None:
    """When the writer holding the warehouse lock now took it (the lock file's change time,
    to the millisecond commit times have), None when no writer runs. Every table commit
    since then is the running writer's (one writer at a time)."""
    if running_writer(settings.layout) is None:
        return None
    try:
        changed = settings.layout.lock_file("writer.lock").stat().st_mtime_ns
    except OSError:
        return None
    return datetime.fromtimestamp(changed // 1_000_000 / 1000, tz=UTC)


def _nothing_then(settings: Settings, when: datetime) -> None:
    """No table had a version at `when`: every report would come out empty with exit 0,
    which a finance user reads as "no licences, no calls", not "too early"."""
    firsts: list[tuple[datetime, object]] = []  # (time, `_step_or_run`)
    for schema in schemas_by_table().values():
        root = settings.layout.table(schema.name)
        versions = tables.log_versions(root)
        stamp = tables.commit_time(root, versions[0]) if versions else None
        if stamp is not None:
            firsts.append((stamp, _step_or_run(root, versions[0])))
    if not firsts:
        hint = "nothing has been loaded yet: run cdr ingest first"
    else:
        # the first load ends with its last table's first commit: a moment before that is
        # inside it, which counts as not yet done (`_whole_steps`)
        first, run = min(firsts, key=lambda f: f[0])
        done = max(stamp for stamp, by in firsts if by == run) if run is not None else first
        hint = f"the first load was committed at {done.isoformat()}; ask for that time or later"
    raise InputError(
        f"--as-of {when.isoformat()}: nothing had been loaded into the warehouse yet", hint=hint
    )


def versions_text(snapshots: Mapping[str, Snapshot]) -> str:
    """`call_legs=12,device_events=3` for the tables that exist."""
    return format_versions({name: snap.version for name, snap in snapshots.items()})


def latest_versions(settings: Settings) -> dict[str, int | None]:
    """The latest version of every registered table (None: no such table yet), read from
    the logs alone: no file list, as `table_snapshots` builds."""
    return {
        schema.name: tables.version_at(settings.layout.table(schema.name))
        for schema in schemas_by_table().values()
    }
