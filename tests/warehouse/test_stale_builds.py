"""A build killed mid-way (kill -9) leaves its private copy of `cdr.duckdb` beside it; the
next build deletes it, and never the file of a build that is still running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import build_warehouse
from cdr_pipeline.warehouse.database import remove_stale_builds

# a materialized view's name, so the build computes it into its private file; counting
# billions of numbers keeps it busy for many seconds
SLOW = "select 'x' as correlation_id, count(*) as l from range(200000000000) as t(i)"
QUICK = "select 'x' as correlation_id, 1 as l"
BUILD = """
import sys
from pathlib import Path
from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import build_warehouse
build_warehouse(Settings(warehouse=Path(sys.argv[1])), sql_dir=Path(sys.argv[2]))
"""


def _sql(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fct_calls.sql").write_text(f"-- grain: one row\n-- key: correlation_id\n{body}\n")
    return folder


def _private(wh: Path) -> list[str]:
    return sorted(p.name for p in wh.iterdir() if p.name.startswith(".cdr.duckdb.tmp-"))


def _start_slow_build(wh: Path, sql: Path) -> subprocess.Popen[bytes]:
    """A build in another process, returned once its private file exists."""
    _sql(sql, SLOW)
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(wh), str(sql)])
    deadline = time.monotonic() + 60
    while not any(not n.endswith(".lock") for n in _private(wh)):
        assert proc.poll() is None, "the slow build ended before it was caught running"
        assert time.monotonic() < deadline, "the slow build made no private file"
        time.sleep(0.05)
    return proc


def test_a_killed_build_leaves_files_the_next_build_deletes(tmp_path: Path) -> None:
    wh, sql = tmp_path / "wh", tmp_path / "sql"
    build_warehouse(Settings(warehouse=wh), sql_dir=_sql(sql, QUICK))
    proc = _start_slow_build(wh, sql)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _private(wh)
    assert any(n.endswith(".lock") for n in left)
    assert any(re.fullmatch(r"\.cdr\.duckdb\.tmp-[0-9a-f]{8}", n) for n in left)
    build_warehouse(Settings(warehouse=wh), sql_dir=_sql(sql, QUICK))
    assert _private(wh) == []
    # a private file of an earlier version (no lock at all) goes as well
    (wh / ".cdr.duckdb.tmp-0123abcd").write_bytes(b"x" * 1024)
    assert remove_stale_builds(wh / "cdr.duckdb") == 1
    assert _private(wh) == []


def test_the_file_of_a_running_build_is_left_alone(tmp_path: Path) -> None:
    wh, sql = tmp_path / "wh", tmp_path / "sql"
    build_warehouse(Settings(warehouse=wh), sql_dir=_sql(sql, QUICK))
    proc = _start_slow_build(wh, sql)
    try:
        running = _private(wh)
        assert remove_stale_builds(wh / "cdr.duckdb", orphan_age=0) == 0
        assert _private(wh) == running
        assert proc.poll() is None  # still building
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_without_its_file_goes_only_once_old(tmp_path: Path) -> None:
    """A build creates its lock just before its file: a young lock alone is a build
    starting, an old one a build killed in between."""
    wh = tmp_path / "wh"
    wh.mkdir()
    lock = wh / ".cdr.duckdb.tmp-89abcdef.lock"
    lock.touch()
    assert remove_stale_builds(wh / "cdr.duckdb") == 0
    assert lock.exists()
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert remove_stale_builds(wh / "cdr.duckdb") == 1
    assert not lock.exists()
    # names that are not a build's private files are never touched
    other = wh / ".cdr.duckdb.tmp-notours"
    other.touch()
    os.utime(other, (old, old))
    assert remove_stale_builds(wh / "cdr.duckdb") == 0
    assert other.exists()


KILLED_COMPACTION = """
import os, signal, sys
from pathlib import Path
from cdr_pipeline.config import Settings
from cdr_pipeline.state.whole_build import mark_whole_build
from cdr_pipeline.warehouse import database, refresh_warehouse

copy = database._copy_live_rows
def copy_then_die(con, fresh):
    copy(con, fresh)
    os.kill(os.getpid(), signal.SIGKILL)  # the new file written, not yet renamed
database._copy_live_rows = copy_then_die
settings = Settings(warehouse=Path(sys.argv[1]))
mark_whole_build(settings.layout)
refresh_warehouse(settings)
"""


def test_a_refresh_killed_while_copying_live_rows_leaves_files_the_next_build_deletes(
    tmp_path: Path, samples_dir: Path
) -> None:
    """After a commit that took data away, a refresh copies its copy's live rows into a
    second private file. That file was named apart (`-compact`), a form the clean-up did not
    know: a kill -9 during the copy left it, a whole `cdr.duckdb` with personal values,
    for good."""
    from cdr_pipeline.ingest import ingest_paths

    settings = Settings(warehouse=tmp_path / "wh")
    assert (
        ingest_paths(settings, [samples_dir / "dch_export_2026-09-30_2026-10-31.csv"]).exit_code
        == 0
    )
    build_warehouse(settings)
    killed = subprocess.run([sys.executable, "-c", KILLED_COMPACTION, str(settings.warehouse)])
    assert killed.returncode == -signal.SIGKILL
    left = [n for n in _private(settings.warehouse) if not n.endswith(".lock")]
    assert len(left) == 2  # the refreshed copy and the file of its live rows
    build_warehouse(settings)
    assert _private(settings.warehouse) == []
