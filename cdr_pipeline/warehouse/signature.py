"""The build signature: what a `cdr.duckdb`'s views depend on besides the table versions.

`cdr build` records it, with the table versions its views read, in the view `cdr_meta.build`;
the refresh that ends `cdr ingest` compares it with the current one and builds everything
again when they differ (`warehouse/build.py: refresh_warehouse`).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from deltalake.exceptions import DeltaError

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import CdrError, ConfigError, WarehouseDamaged
from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.state.lock import running_writer
from cdr_pipeline.state.secret import key_id, load_key
from cdr_pipeline.text import lit
from cdr_pipeline.warehouse.database import BUILD_LOCK, open_views
from cdr_pipeline.warehouse.snapshots import format_versions, latest_versions

log = logging.getLogger(__name__)

META_SCHEMA = "cdr_meta"
BUILD_VIEW = f"{META_SCHEMA}.build"
_VIEW_CODE = ("schema", "warehouse")
"""The packages whose code shapes the views (with sql/, the settings and the key: the
build signature)."""


def build_signature(settings: Settings, sql_dir: Path | None = None) -> str:
    """A digest of everything a view's SQL depends on except the table versions: the
    package's view-generating code, every file of `sql/`, the settings the views use, the
    pseudonym key, DuckDB's version and the warehouse folder. Two builds with one signature
    differ only in the files the generated `stg_` views list, which is what
    `refresh_warehouse` replaces."""
    import cdr_pipeline

    digest = hashlib.sha256()
    package = Path(cdr_pipeline.__file__).parent
    folder = sql_dir or default_sql_dir()
    sources = [p for sub in _VIEW_CODE for p in sorted((package / sub).rglob("*.py"))]
    sources += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(
        repr(
            (
                cdr_pipeline.__version__,
                duckdb.__version__,
                settings.reporting_timezone,
                settings.code_expiry_days,
                settings.idle_days,
                settings.privacy_prefix_digits,
                key_id(load_key(settings.layout)),
                # views hold absolute paths: a moved warehouse is built whole
                str(settings.warehouse.resolve()),
            )
        ).encode()
    )
    return digest.hexdigest()


def record_build(con: duckdb.DuckDBPyConnection, signature: str, versions: str, root: Path) -> None:
    """`cdr_meta.build`: the signature and the table versions this file's views read, and
    the warehouse folder whose files they list (`root`, resolved)."""
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(
        f"create or replace view {BUILD_VIEW} as select {lit(signature)} as signature, "
        f"{lit(versions)} as table_versions, "
        f"{lit(datetime.now(UTC).isoformat(timespec='seconds'))}::timestamptz as built_at, "
        f"{lit(str(root.resolve()))} as warehouse"
    )
    con.execute(
        f"comment on view {BUILD_VIEW} is 'the table versions the views of this file read, "
        "and the signature of what else they depend on (cdr build)'"
    )


def build_record(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """`cdr_meta.build` of the file `con` has open, by column; {} when there is none (a file
    built before the record, or no build of ours). Files built before a column existed
    lack it."""
    try:
        cur = con.execute(f"select * from {BUILD_VIEW}")
        rows = cur.fetchall()
    except duckdb.Error:
        return {}
    names = [d[0] for d in cur.description or ()]
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def stored_signature(con: duckdb.DuckDBPyConnection) -> str | None:
    signature = build_record(con).get("signature")
    return None if signature is None else str(signature)


def built_versions(path: Path) -> str | None:
    """The table versions the views of the `cdr.duckdb` at `path` read (`cdr_meta.build`);
    None when there is no such file, it does not open, or it has no record of them."""
    if not path.is_file():
        return None
    try:
        con = open_views(path)  # the file there now, not one this process has open
    except duckdb.Error:
        return None
    try:
        versions = build_record(con).get("table_versions")
    finally:
        con.close()
    return None if versions is None else str(versions)


def views_behind(settings: Settings) -> bool:
    """The tables hold versions that `cdr.duckdb`'s views do not read: a command committed
    them and the refresh at its end failed (a full disk, a build out of memory), or there
    is no `cdr.duckdb` yet."""
    try:
        latest = format_versions(latest_versions(settings))
    except (WarehouseDamaged, DeltaError, OSError) as exc:  # what reads the tables says so
        log.warning("cannot tell whether the views are behind the tables: %s", exc)
        return False
    return bool(latest) and built_versions(settings.layout.duckdb) != latest


def behind_note(record: dict[str, Any], settings: Settings) -> str | None:
    """What a reader of a `cdr.duckdb` whose `build_record` is `record` should be told when
    the tables hold versions its views do not read yet; None when they read the latest. A
    refresh under way says so; otherwise the one after the last load did not finish
    (interrupted, or failed), and until `cdr build` every answer leaves that load out."""
    if "table_versions" not in record:
        return None  # no record of the versions
    try:
        latest = format_versions(latest_versions(settings))
    except (WarehouseDamaged, DeltaError, OSError):
        return None  # a table that does not read: said where it is read
    built = str(record["table_versions"] or "")
    if not latest or built == latest:
        return None
    # a nightly holds neither the writer's nor the build's lock between its load and its
    # build stage (while it validates), only its own for the whole night
    locks = ("writer.lock", "nightly.lock", BUILD_LOCK)
    holder = next(filter(None, (running_writer(settings.layout, name) for name in locks)), None)
    why = (
        f"a writer is bringing them up to date ({holder})"
        if holder
        else "the refresh after the last load did not finish; run cdr build"
    )
    return (
        f"the views read {built or 'no table'}, the tables hold {latest}: answers leave the "
        f"newer data out ({why})"
    )


def signature_note(record: dict[str, Any], settings: Settings) -> str | None:
    """What a reader of a `cdr.duckdb` whose `build_record` is `record` should be told when
    its views were built from other inputs than the current ones (`build_signature`):
    another version of the code (an upgrade, `pip install -U`, before any build) or other
    settings. Their answers are that build's SQL over that build's settings until `cdr
    build`; None when the signatures agree or cannot be compared. A file without the record
    (`{}`) was built by a version before it existed."""
    stored = record.get("signature")
    if stored is not None:
        if not settings.layout.pseudonym_key.is_file():
            return None  # a missing key is said by what reads it; a reader makes none
        try:
            if str(stored) == build_signature(settings):
                return None
        except (CdrError, OSError) as exc:  # a key this reader may not read: said where it is
            log.debug("cannot tell whether the views are of this version: %s", exc)
            return None
    return (
        "the views were built by another version of cdr-pipeline or with other settings "
        "(sql/, reporting_timezone, code_expiry_days, idle_days, [privacy] prefix_digits, "
        "the pseudonym key): answers are that build's, not this version's, until the "
        "views are built again; run cdr build (an ingest or a nightly also builds them)"
    )


def check_built_here(record: dict[str, Any], settings: Settings) -> None:
    """Raise `ConfigError` when the views of a `cdr.duckdb` whose `build_record` is `record`
    list the files of another warehouse folder: a copied, moved or restored warehouse whose
    `cdr.duckdb` was built at the old place. Its views hold absolute paths: they would read
    the original's files while it exists (the copy's own changes unseen, without a word) and
    fail once it is gone."""
    built_for = record.get("warehouse")  # None: built before the folder was recorded
    here = str(settings.warehouse.resolve())
    if built_for is not None and str(built_for) != here:
        raise ConfigError(
            f"{settings.layout.duckdb} was built for the warehouse at {built_for}, not "
            f"this one ({here}): a copied or moved warehouse",
            hint="run `cdr build` here: its views then read this folder's files",
        )


def check_views_here(settings: Settings) -> None:
    """`check_built_here` for a reader that computes over the tables without the views of
    `cdr.duckdb` (the finance pack and summary): a copied or moved warehouse refuses every
    read of its current data alike until `cdr build` has run in its new place (README,
    "refuses reads (exit 3)"), rather than one report answering where the others refuse.
    A missing or unreadable file is left to what reads it."""
    path = settings.layout.duckdb
    if not path.is_file():
        return
    try:
        con = open_views(path)
    except duckdb.Error:
        return
    try:
        record = build_record(con)
    finally:
        con.close()
    check_built_here(record, settings)
