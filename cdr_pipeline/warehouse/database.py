"""The private DuckDB file a build writes, renamed over `cdr.duckdb` only when complete."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cdr_pipeline.errors import BuildOutOfMemory
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.lock import running_writer, writer_lock
from cdr_pipeline.text import lit

log = logging.getLogger(__name__)


class Unusable(Exception):
    """The current `cdr.duckdb` cannot be refreshed: build it whole."""


def open_views(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the `cdr.duckdb` at `path`, in a database of its own that attaches
    the file. DuckDB keeps one database per path in a process: opened by path, a connection
    still open (a notebook's earlier cell) made a new one answer from the file a build had
    since replaced. Spills go where they went, beside the file."""
    con = duckdb.connect(config={"temp_directory": f"{path}.tmp"})
    try:
        mode = " (read_only)" if read_only else ""
        con.execute(f"attach {lit(path)} as cdr{mode}")
        con.execute("use cdr")
    except BaseException:
        con.close()
        raise
    return con


BUILD_LOCK = "build.lock"
BUILD_LOCK_WAIT_SECONDS = 3600.0
"""How long a build waits for another to finish: builds take seconds to a minute or two,
and a holder that dies releases the lock at once (flock)."""


@contextmanager
def one_build_at_a_time(layout: Layout, command: str) -> Iterator[None]:
    """Hold `state/build.lock` for the block: builds of `cdr.duckdb` one after another.
    Each reads the latest table versions once it holds the lock, so the last to rename its
    file into place read the newest ones. Two at once (a `cdr build` during an ingest's
    closing refresh) left the views on the older versions when the build that read them
    finished last. Not reentrant: hold it once per build."""
    holder = running_writer(layout, BUILD_LOCK)
    if holder:
        log.info("waiting for another build of cdr.duckdb to finish (%s)", holder)
    with writer_lock(layout, command, BUILD_LOCK_WAIT_SECONDS, name=BUILD_LOCK):
        yield


@contextmanager
def new_database(
    target: Path, memory_mb: int, copy_of: Path | None = None, compact: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a private file next to `target` (empty, or a copy of `copy_of`), in
    one transaction, DuckDB's memory capped at `memory_mb` MiB. On a clean exit it commits,
    checkpoints and is renamed over `target`; on an error it is deleted and `target` stays.
    Raises `Unusable` when the copy is no DuckDB file. `compact`: what is renamed over
    `target` is a second private file the first is copied into (`COPY FROM DATABASE`), which
    holds only live rows: the freed pages of a copy keep what its edits deleted."""
    remove_stale_builds(target)
    tmp, fresh = _private(target), _private(target)  # fresh: a private file as well, so
    # `remove_stale_builds` deletes it after a kill during the copy
    claim = _claim(tmp)
    fresh_claim = _claim(fresh) if compact else None
    try:
        if copy_of is not None:
            # a finished build leaves no WAL (it checkpoints before the rename) and is never
            # written in place, so the copy is whole
            shutil.copyfile(copy_of, tmp)
        try:
            con = duckdb.connect(str(tmp))
        except duckdb.Error as exc:  # damaged, or written by another DuckDB version
            raise Unusable(f"{copy_of} does not open ({exc})") from exc
        try:
            # every view binding reads the footers of the files its staging views list: once
            con.execute("set parquet_metadata_cache = true")
            # memory follows the limit, not the warehouse: without it, the by-call steps of
            # `fct_calls` took a 5M-leg ingest to 2.6 GB (DuckDB keeps what it allocated)
            con.execute(f"set memory_limit = '{memory_mb}MiB'")
            # and freed memory goes back to the OS: DuckDB keeps up to 512 MiB freed in bulk
            # and 128 MiB after each task by default, over the limit (a 5M-leg re-delivery's
            # refresh averaged 930 MiB RSS with them, 750 without)
            con.execute("set allocator_flush_threshold = '32MiB'")
            con.execute("set allocator_bulk_deallocation_flush_threshold = '64MiB'")
            con.execute("set allocator_background_threads = true")
            # one transaction: a statement of its own would commit, and fsync the WAL, once
            # per view and per column comment (hundreds of syncs, seconds on a busy disk);
            # the file is private until the rename, so nothing is gained by the syncs
            con.execute("begin transaction")
            try:
                yield con
            except duckdb.OutOfMemoryException as exc:
                raise BuildOutOfMemory(
                    f"building {target.name} needed more than build_memory_mb = {memory_mb} "
                    f"MiB ({str(exc).splitlines()[0]})",
                    hint="raise build_memory_mb in cdr.toml (or CDR_BUILD_MEMORY_MB) and run "
                    "cdr build; the previous cdr.duckdb and the tables are unchanged",
                ) from exc
            con.execute("commit")
            con.execute("checkpoint")
            if compact:
                _copy_live_rows(con, fresh)
        finally:
            con.close()
        os.replace(fresh if compact else tmp, target)
    finally:
        _remove(tmp)
        os.close(claim)
        if fresh_claim is not None:
            _remove(fresh)
            os.close(fresh_claim)


def _copy_live_rows(con: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """Copy the database of `con` (schemas, tables, views, macros, comments) into the new
    file `fresh`, live rows only, and checkpoint it."""
    (name,) = con.execute("select current_database()").fetchone() or ("",)
    con.execute(f"attach {lit(fresh)} as compact")
    con.execute(f'copy from database "{name}" to compact')
    con.execute("checkpoint compact")
    con.execute("detach compact")


def _private(target: Path) -> Path:
    """A new private file's name beside `target` (`remove_stale_builds` knows the form)."""
    return target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")


def _claim(tmp: Path) -> int:
    """A lock file for the private file `tmp`, created and locked (flock) before `tmp`
    exists and held until it is gone: `remove_stale_builds` of another build leaves a
    private file alone while its lock is held."""
    fd = os.open(_lock_of(tmp), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _lock_of(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".lock")


def _remove(tmp: Path) -> None:
    """A private file and what comes with it: its WAL, what it spilled, its lock file."""
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(tmp.with_name(tmp.name + ".tmp"), ignore_errors=True)
    _lock_of(tmp).unlink(missing_ok=True)


def remove_stale_builds(target: Path, orphan_age: float = 600.0) -> int:
    """Delete the private files of builds that were killed (kill -9, a power cut) beside
    `target`, with their WAL, spill folder and lock: at 10M legs each is hundreds of MB,
    and nothing else would ever delete them. A private file is a running build's while its
    lock is held (the lock is taken before the file is made); a lock, WAL or spill folder
    without its file goes once it is `orphan_age` seconds old (a build creates its lock
    just before its file, and deletes its lock just after). Returns how many were removed."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-[0-9a-f]{{8}}")
    removed = 0
    for path in target.parent.glob(f".{target.name}.tmp-*"):
        name = path.name.removesuffix(".lock").removesuffix(".wal").removesuffix(".tmp")
        if not pattern.fullmatch(name):
            continue
        base = path.with_name(name)
        if path != base:  # a lock, WAL or spill folder: judged with its file, if any
            if base.exists() or not _older(path, orphan_age) or _locked(path):
                continue
        elif _locked(_lock_of(base)):
            continue  # a build running now
        _remove(base)
        removed += 1
    return removed


def _older(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def _locked(lock: Path) -> bool:
    """Some process holds `lock` (flock); False when it is not held or does not exist."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
