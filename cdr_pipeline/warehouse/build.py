"""`cdr build`: create `cdr.duckdb` (views only) and connect to it.

The database is built in a temporary file in the warehouse folder and renamed into place:
an analyst holding the old `cdr.duckdb` open read-only keeps reading the old file (and the
table versions it names) and is never blocked, and the build never waits for them. The views
read the files of the latest version of each table, so the file holds no data and a rebuild
takes about a second. `connect_as_of` builds the same views, in memory, over the versions
current at an earlier moment (time travel).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit
from cdr_pipeline.warehouse.catalog import (
    MACROS_FILE,
    ViewError,
    ViewSpec,
    order_views,
    read_macros,
    read_sql_dir,
)
from cdr_pipeline.warehouse.comments import comment_views
from cdr_pipeline.warehouse.snapshots import AsOfArg, table_snapshots, versions_text
from cdr_pipeline.warehouse.staging import generated_views

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

    def names(self) -> list[str]:
        return [v.name for v in self.views]


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
) -> tuple[list[ViewSpec], list[str]]:
    """Create every view (generated and `sql/`) on `con`, in dependency order, over the
    table versions `snapshots` (default: the latest); return them and the raw tables that
    had no file."""
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
    generated, empty = generated_views(con, settings, snapshots)
    specs = order_views([*generated, *read_sql_dir(folder)])
    created: list[ViewSpec] = []
    for spec in specs:
        try:
            con.execute(f"create or replace view {spec.name} as\n{spec.sql}")
        except duckdb.Error as exc:
            raise ViewError(
                f"{spec.origin}: view {spec.name} does not build: {exc}",
                hint="fix the SQL; `cdr build` keeps the previous cdr.duckdb in place",
            ) from exc
        created.append(spec)
    comment_views(con, created, folder / "README.md")
    return created, empty


def build_warehouse(settings: Settings, sql_dir: Path | None = None) -> BuildResult:
    """(Re)create `<warehouse>/cdr.duckdb` with every view, atomically. Raises `ViewError`
    (exit 3) naming the file when a view is malformed; the previous database stays."""
    t0 = time.monotonic()
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    target = settings.layout.duckdb
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    snapshots = table_snapshots(settings)
    try:
        con = duckdb.connect(str(tmp))
        try:
            # one transaction: a statement of its own would commit, and fsync the WAL, once
            # per view and per column comment (hundreds of syncs, seconds on a busy disk);
            # the file is private until the rename, so nothing is gained by the syncs
            con.execute("begin transaction")
            created, empty = create_views(con, settings, sql_dir, snapshots)
            con.execute("commit")
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
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
    return BuildResult(target, views, seconds, empty, versions_text(snapshots))


def connect(settings: Settings, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open `cdr.duckdb`. Read-only by default, which never blocks `cdr build` or `cdr ingest`.
    Timestamps display in UTC (the session time zone) whatever the machine's zone."""
    path = settings.layout.duckdb
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist",
            hint="run `cdr build` (after `cdr ingest`) to create the views",
        )
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    return con


def connect_as_of(
    settings: Settings, as_of: AsOfArg, sql_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every view over the tables as they were at `as_of` (a
    call_legs version number or a moment; see `warehouse/snapshots.py`)."""
    snapshots = table_snapshots(settings, as_of)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        create_views(con, settings, sql_dir, snapshots)
    except BaseException:
        con.close()
        raise
    return con
