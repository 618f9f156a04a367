"""The private DuckDB file a build writes, renamed over `cdr.duckdb` only when complete."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cdr_pipeline.errors import BuildOutOfMemory


class Unusable(Exception):
    """The current `cdr.duckdb` cannot be refreshed: build it whole."""


@contextmanager
def new_database(
    target: Path, memory_mb: int, copy_of: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a private file next to `target` (empty, or a copy of `copy_of`), in
    one transaction, DuckDB's memory capped at `memory_mb` MiB. On a clean exit it commits,
    checkpoints and is renamed over `target`; on an error it is deleted and `target` stays.
    Raises `Unusable` when the copy is no DuckDB file."""
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
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
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(tmp.with_name(tmp.name + ".tmp"), ignore_errors=True)  # what it spilled
