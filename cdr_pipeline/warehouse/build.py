"""`cdr build`: create `cdr.duckdb` (views, and the marts kept as tables) and connect to it.

The database is built in a temporary file in the warehouse folder and renamed into place:
an analyst holding the old `cdr.duckdb` open read-only keeps reading the old file (and the
table versions it names) and is never blocked, and the build never waits for them. The views
read the files of the latest version of each table, so the file holds no data but the marts'
tables (`materialize.py`, from the same versions; `analyst_marts`). `connect_as_of` builds
the same views, in memory, over the versions current at an earlier moment (time travel)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.state.files import apply_file_mode
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.state.whole_build import whole_build_done, whole_build_due
from cdr_pipeline.text import lit
from cdr_pipeline.warehouse.analyst import (
    create_analyst_views,
    create_map_view,
    pseudonym_rows,
)
from cdr_pipeline.warehouse.catalog import (
    MACROS_FILE,
    ViewError,
    ViewSpec,
    create_view_sql,
    order_views,
    read_macros,
    read_sql_dir,
    view_build_error,
)
from cdr_pipeline.warehouse.comments import comment_views
from cdr_pipeline.warehouse.damage import naming_damage
from cdr_pipeline.warehouse.database import Unusable, new_database, one_build_at_a_time, open_views
from cdr_pipeline.warehouse.marts import (
    DEVICE_LEVEL,
    PER_BUILD,
    analyst_tables,
)
from cdr_pipeline.warehouse.materialize import (
    Keeper,
    Materialized,
    keep_analyst_device_level,
    materialize,
    materialized_specs,
)
from cdr_pipeline.warehouse.personal_values import personal_tables, write_map
from cdr_pipeline.warehouse.signature import (
    behind_note,
    build_record,
    build_signature,
    check_built_here,
    record_build,
    signature_note,
    stored_signature,
)
from cdr_pipeline.warehouse.snapshots import AsOfArg, resolve_time, table_snapshots, versions_text
from cdr_pipeline.warehouse.staging import generated_views
from cdr_pipeline.warehouse.tiers import use_tier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltView:
    name: str
    layer: str
    origin: str
    grain: str
    key: tuple[str, ...]


@dataclass
class BuildResult:
    path: Path
    views: list[BuiltView]
    seconds: float
    empty_tables: list[str] = field(default_factory=list)
    """Raw tables (and ledger tables) with no file at build time: their views are empty
    until the next build after data arrives."""
    versions: str = ""
    """The table versions the views read: `call_legs=12,device_events=3`."""
    materialized: list[Materialized] = field(default_factory=list)
    """What became of each materialized view's table."""
    full: bool = True
    """Every view was created (a build), not only moved to new table versions (a refresh)."""

    def names(self) -> list[str]:
        return [v.name for v in self.views]

    def describe(self) -> str:
        """`34 views into PATH` (a build) or what a refresh moved and recomputed, on one line
        (a stage of the nightly's table)."""
        if self.full:
            return f"{len(self.views)} views into {self.path}"
        return f"{self.path}, " + "; ".join(self.refreshed())

    def refreshed(self) -> list[str]:
        """What a refresh did, a line each: the table versions the views moved to, then each
        kept mart (the device-level tables together: computed whole or kept together; the
        ledger's, `PER_BUILD`, not: every refresh computes them)."""
        versions = (self.versions or "no table yet").replace(",", ", ")
        lines = [f"views moved to {versions}"]
        kept = [m for m in self.materialized if m.name not in (*DEVICE_LEVEL, *PER_BUILD)]
        lines += [m.summary() for m in kept]
        device = {m.mode for m in self.materialized if m.name in DEVICE_LEVEL}
        if device:
            state = "unchanged" if device == {"unchanged"} else "computed whole"
            lines.append(f"device-level views: {state}")
        return lines


def _check_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    try:
        con.execute(f"select timezone({lit(settings.reporting_timezone)}, now())").fetchall()
    except duckdb.Error as exc:
        raise ConfigError(
            f"reporting_timezone {settings.reporting_timezone!r} is not a time zone DuckDB knows",
            hint="use an IANA name such as 'UTC' or 'Europe/Paris'",
        ) from exc


def create_views(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    sql_dir: Path | None = None,
    snapshots: Mapping[str, Snapshot] | None = None,
    analyst: str | None = None,
    as_of: datetime | None = None,
    keeper: Keeper | None = None,
) -> tuple[list[ViewSpec], list[str]]:
    """Create every view (generated and `sql/`) on `con`, in dependency order, over the
    table versions `snapshots` (default: the latest); return them and the raw tables that
    had no file. `analyst` adds the analyst tier (`warehouse/analyst.py`) with its pseudonym
    map written to `state/` (`"file"`) or held in a table of an in-memory `con`
    (`"memory"`). `as_of` (time travel) reads the ledger as it was then, as `snapshots`
    read the tables. `keeper` keeps each materialized view's table as its view is created
    (a whole build), so the views after it bind over the table, not the chain it reads."""
    _check_settings(con, settings)
    if snapshots is None:
        snapshots = table_snapshots(settings)
    folder = sql_dir or default_sql_dir()
    for statement in con.extract_statements(read_macros(folder)):
        try:
            con.execute(statement)
        except duckdb.Error as exc:
            raise ViewError(
                f"sql/{MACROS_FILE}: a macro does not build: {exc}",
                hint="fix the macro; `cdr build` keeps the previous cdr.duckdb in place",
            ) from exc
    generated, empty = generated_views(con, settings, snapshots, as_of)
    specs = order_views([*generated, *read_sql_dir(folder)])
    if keeper is not None:
        keeper.start(specs)
    created: list[ViewSpec] = []
    for spec in specs:
        try:
            con.execute(create_view_sql(spec))
        except duckdb.Error as exc:
            raise view_build_error(spec, exc) from exc
        created.append(spec)
        if keeper is not None:
            keeper.keep(spec)
    comment_views(con, created, folder / "README.md")
    if analyst is not None:
        _create_analyst_tier(con, settings, created, analyst, snapshots)
    return created, empty


def _create_analyst_tier(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    created: list[ViewSpec],
    mode: str,
    snapshots: Mapping[str, Snapshot],
) -> None:
    tables = personal_tables()
    if mode == "file":
        source = write_map(con, settings, snapshots, whole=True)
    else:
        con.register("__pseudonym_rows", pseudonym_rows(con, settings, tables))
        con.execute("create table main.__pseudonyms as select * from __pseudonym_rows")
        con.unregister("__pseudonym_rows")
        source = create_map_view(con, "main.__pseudonyms")
    try:
        views = [(s.name, s.sql) for s in created]
        marts = analyst_tables(con, created)  # the marts it reads from the full tier
        create_analyst_views(con, views, tables, source, DEVICE_LEVEL, marts)
    except duckdb.Error as exc:
        raise ViewError(
            f"the analyst tier does not build: {exc}",
            hint="a view's SQL may use a column the analyst tier drops; `cdr build` keeps "
            "the previous cdr.duckdb in place",
        ) from exc


def build_warehouse(settings: Settings, sql_dir: Path | None = None) -> BuildResult:
    """(Re)create `<warehouse>/cdr.duckdb` with every view, atomically, one build at a time.
    Raises `ViewError` (exit 3) naming the file when a view is malformed; the previous
    database stays. Files it writes get `file_mode` (as `ingest_paths`): `cdr.duckdb` holds
    the full tier, and a library caller's umask is no warehouse's."""
    apply_file_mode(settings.file_mode)
    with one_build_at_a_time(settings.layout, "cdr build"):
        mark = whole_build_due(settings.layout)  # before the snapshots it covers
        snapshots = table_snapshots(settings)
        with naming_damage(snapshots.values, settings.layout):  # a damaged file: exit 6
            return _build_whole(settings, sql_dir, snapshots, mark)


def _build_whole(
    settings: Settings,
    sql_dir: Path | None,
    snapshots: Mapping[str, Snapshot],
    mark: str | None,
) -> BuildResult:
    t0 = time.monotonic()
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    target = settings.layout.duckdb
    with new_database(target, settings.build_memory_mb) as con:
        keeper = Keeper(con, snapshots, whole=True)
        created, empty = create_views(con, settings, sql_dir, snapshots, "file", keeper=keeper)
        materialized = keeper.finish()
        record_build(
            con, build_signature(settings, sql_dir), versions_text(snapshots), settings.warehouse
        )
    whole_build_done(settings.layout, mark)  # the new file holds nothing a commit took away
    seconds = time.monotonic() - t0
    views = [BuiltView(s.name, s.layer, s.origin, s.grain, s.key) for s in created]
    log.info(
        "built %d views into %s in %.2fs (%s)",
        len(views),
        target,
        seconds,
        versions_text(snapshots) or "no table yet",
        extra={"seconds": round(seconds, 3)},
    )
    if empty:
        log.info("no data yet for: %s (their views are empty)", ", ".join(empty))
    return BuildResult(target, views, seconds, empty, versions_text(snapshots), materialized)


def refresh_warehouse(settings: Settings, sql_dir: Path | None = None) -> BuildResult:
    """Move `cdr.duckdb`'s views to the latest table versions after an ingest: the same
    result as `build_warehouse`, faster. A copy of the current file gets new generated `stg_`
    views (the file lists of the new versions) and a new pseudonym map; every other view
    reads them by name, so it stays as it was. After a commit took data away (the mark of
    `state/whole_build.py`) the copy's live rows go into a new file. Falls back to the whole
    build when there is no file yet or anything else a view depends on changed (the
    signature: `sql/`, settings, key, code). One build at a time; files get `file_mode`."""
    apply_file_mode(settings.file_mode)
    with one_build_at_a_time(settings.layout, "cdr build (refresh)"):
        mark = whole_build_due(settings.layout)
        snapshots = table_snapshots(settings)
        with naming_damage(snapshots.values, settings.layout):
            return _refresh(settings, sql_dir, snapshots, mark)


def _refresh(
    settings: Settings,
    sql_dir: Path | None,
    snapshots: Mapping[str, Snapshot],
    mark: str | None,
) -> BuildResult:
    target = settings.layout.duckdb
    if not target.is_file():
        return _build_whole(settings, sql_dir, snapshots, mark)
    t0 = time.monotonic()
    signature = build_signature(settings, sql_dir)
    compact = mark is not None  # a commit took data away: the copy's freed pages keep it
    try:
        with new_database(target, settings.build_memory_mb, target, compact) as con:
            if stored_signature(con) != signature:
                raise Unusable("the build inputs changed since the last build")
            generated, empty = generated_views(con, settings, snapshots)
            have = {
                str(r[0])
                for r in con.execute(
                    "select view_name from duckdb_views() where schema_name = 'main'"
                ).fetchall()
            }
            if not {spec.name for spec in generated} <= have:
                raise Unusable("a generated view is missing")  # no build of ours
            for spec in generated:
                con.execute(create_view_sql(spec))
            folder = sql_dir or default_sql_dir()
            specs = materialized_specs(folder, generated)
            materialized = materialize(con, specs, snapshots, whole=False)
            # the generated views and the marts' views, replaced, get their comments again
            comment_views(con, [*generated, *specs], folder / "README.md")
            write_map(con, settings, snapshots, whole=False)
            keep_analyst_device_level(con, specs, materialized)  # over the new map
            record_build(con, signature, versions_text(snapshots), settings.warehouse)
    except Unusable as why:
        log.info("views: %s; building all", why)
        return _build_whole(settings, sql_dir, snapshots, mark)
    whole_build_done(settings.layout, mark)  # the file holds nothing a commit took away
    seconds = time.monotonic() - t0
    # the views it created: the generated ones (the others are kept as they were)
    views = [BuiltView(s.name, s.layer, s.origin, s.grain, s.key) for s in generated]
    log.info(
        "views moved to %s in %.2fs (%d generated views replaced%s)",
        versions_text(snapshots) or "no table yet",
        seconds,
        len(generated),
        ", live rows copied into a new file" if compact else "",
        extra={"seconds": round(seconds, 3)},
    )
    return BuildResult(
        target, views, seconds, empty, versions_text(snapshots), materialized, full=False
    )


def connect(
    settings: Settings, read_only: bool = True, tier: str = "full"
) -> duckdb.DuckDBPyConnection:
    """Open `cdr.duckdb`. Read-only by default, which never blocks `cdr build` or `cdr ingest`.
    Timestamps display in UTC (the session time zone) whatever the machine's zone.
    `tier="analyst"` reads the pseudonymised views (`warehouse/analyst.py`). Logs a warning
    when the tables hold versions the views do not read yet, or the views are of another
    version of the code or settings (`signature`: `behind_note`, `signature_note`)."""
    path = settings.layout.duckdb
    if not settings.layout.is_warehouse():  # a typo: `cdr build` would refuse it too
        raise ConfigError(
            f"{settings.warehouse.absolute()} is not a warehouse (no state/, tables/ or "
            "cdr.duckdb in it)",
            hint="check the folder: the one `cdr ingest` and `cdr build` wrote",
        )
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist",
            hint="run `cdr build` (after `cdr ingest`) to create the views",
        )
    try:
        con = open_views(path, read_only)
    except duckdb.IOException as exc:  # damaged, truncated, or another DuckDB's format
        raise ConfigError(
            f"{path} does not open: {exc}",
            hint="run `cdr build`: it holds only views and is written again from the tables",
        ) from exc
    con.execute("set TimeZone = 'UTC'")
    try:
        record = build_record(con)
        check_built_here(record, settings)
        use_tier(con, tier)
        notes = [behind_note(record, settings), signature_note(record, settings)]
    except BaseException:
        con.close()
        raise
    for note in filter(None, notes):  # a reader would otherwise take them for the latest
        log.warning(note)
    return con


def connect_as_of(
    settings: Settings, as_of: AsOfArg, sql_dir: Path | None = None, tier: str = "full"
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every view over the tables as they were at `as_of` (a
    call_legs version number or a moment; see `warehouse/snapshots.py`), read in `tier`."""
    when = resolve_time(settings, as_of)
    return connect_snapshots(settings, table_snapshots(settings, when), when, sql_dir, tier)


def connect_snapshots(
    settings: Settings,
    snapshots: Mapping[str, Snapshot],
    as_of: datetime | None = None,
    sql_dir: Path | None = None,
    tier: str = "full",
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every view over the table versions `snapshots` (the ledger
    as it was `as_of`), read in `tier`: a database made for one question, which keeps the
    device-level and ledger marts as tables (`materialize.Keeper`), the call-level as views."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        create_views(
            con,
            settings,
            sql_dir,
            snapshots,
            analyst="memory" if tier == "analyst" else None,
            as_of=as_of,
            keeper=Keeper(con, snapshots, whole=True, only=(*DEVICE_LEVEL, *PER_BUILD)),
        )
        use_tier(con, tier)
    except BaseException:
        con.close()
        raise
    return con
