"""An analyst holding `cdr.duckdb` open read-only (another process) is never blocked by
`cdr build` or `cdr ingest`, never blocks them, and keeps reading the table version its
file names (that version's files stay until `cdr vacuum`, after the grace period)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.reports import run_report
from cdr_pipeline.warehouse import connect
from tests.warehouse.sample_warehouse import SAMPLES

READER = r"""
import sys, time, duckdb
db, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
import os
con = duckdb.connect(db, read_only=True)
with open(log, "w") as out:
    out.write("open\n"); out.flush()
    while not os.path.exists(stop):
        n = con.execute("select count(*) from fct_call_legs").fetchone()[0]
        out.write(f"{n}\n"); out.flush()
        time.sleep(0.05)
    out.write("done\n")
"""


def _wait_for(path: Path, text: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"reader never wrote {text!r}")


def test_reader_is_never_blocked_by_build_or_ingest(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    runner = CliRunner()
    zipped = SAMPLES / "calling_detailed_call_history_2026-09-01_2026-10-01"
    second = SAMPLES / "dch_export_2026-09-30_2026-10-31.csv"
    assert runner.invoke(cli, ["--warehouse", str(wh), "ingest", str(zipped)]).exit_code == 0
    assert runner.invoke(cli, ["--warehouse", str(wh), "build"]).exit_code == 0

    log, stop = tmp_path / "reader.log", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(wh / "cdr.duckdb"), str(log), str(stop)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(log, "open")
        res_build = runner.invoke(cli, ["--warehouse", str(wh), "-q", "build"])
        assert res_build.exit_code == 0, res_build.output
        res_ingest = runner.invoke(cli, ["--warehouse", str(wh), "-q", "ingest", str(second)])
        assert res_ingest.exit_code == 0, res_ingest.output
        before = len(log.read_text().splitlines())
        time.sleep(0.5)
        assert len(log.read_text().splitlines()) > before, "the reader stopped reading"
    finally:
        stop.touch()
        _, err = reader.communicate(timeout=30)
    assert reader.returncode == 0, err
    counts = [int(x) for x in log.read_text().splitlines() if x.isdigit()]
    # The reader kept answering throughout, always from the version it opened (the ingest
    # committed a new one and rebuilt cdr.duckdb, which a new connection reads)
    assert len(counts) >= 5
    assert set(counts) == {counts[0]}
    fresh = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    (now,) = fresh.execute("select count(*) from fct_call_legs").fetchone()  # type: ignore[misc]
    assert now > counts[0]


def test_connect_to_a_folder_that_is_not_a_warehouse_says_so(tmp_path: Path) -> None:
    """`connect` and `run_report` from Python on a mistyped folder said '<path>/cdr.duckdb
    does not exist; run `cdr build`', which `cdr build` refuses for such a folder."""
    (tmp_path / "exports").mkdir()
    for folder in (tmp_path / "warehuose", tmp_path / "exports"):
        settings = Settings(warehouse=folder)
        for read in (connect, lambda s: run_report(s, "top-callers")):
            with pytest.raises(ConfigError, match="is not a warehouse") as failed:
                read(settings)
            assert "run `cdr build`" not in str(failed.value.hint), failed.value.hint
        assert not folder.exists() or not any(folder.iterdir())  # nothing was created


def _views_file(path: Path, build: int) -> None:
    """A `cdr.duckdb` of one table, `marker`, naming its build."""
    con = duckdb.connect(str(path))
    con.execute(f"create table marker as select {build} as build")
    con.close()


def test_connect_reads_the_file_a_build_installed_while_an_older_connection_is_open(
    tmp_path: Path,
) -> None:
    """DuckDB keeps one database per path in a process: `connect` in a notebook whose earlier
    connection was still open (an older cell's `con`) answered from the file the build had
    replaced, yesterday's figures, and warned that the refresh had not finished (run `cdr
    build`), which changed nothing. Each connection now opens the file the path names."""
    settings = Settings(warehouse=tmp_path / "wh")
    settings.layout.state.mkdir(parents=True)
    _views_file(settings.layout.duckdb, 1)
    older = connect(settings)
    assert older.execute("select build from marker").fetchall() == [(1,)]
    installed = tmp_path / "next.duckdb"  # a build writes a new file and renames it
    _views_file(installed, 2)
    installed.replace(settings.layout.duckdb)
    newer = connect(settings)
    try:
        assert newer.execute("select build from marker").fetchall() == [(2,)]
        assert older.execute("select build from marker").fetchall() == [(1,)]  # kept
    finally:
        newer.close()
        older.close()


def test_views_whose_build_was_vacuumed_are_told_to_build_not_to_ask_a_version(
    tmp_path: Path,
) -> None:
    """A report over a cdr.duckdb whose refresh did not finish, once vacuum had deleted the
    files its versions list, failed with the --as-of hint: 'ask for a later version or
    time', which a reader that gave no --as-of cannot follow; `cdr build` fixes it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cdr_pipeline.errors import InputError
    from cdr_pipeline.state import tables
    from cdr_pipeline.warehouse.damage import built_snapshots
    from cdr_pipeline.warehouse.database import open_views
    from cdr_pipeline.warehouse.signature import record_build

    settings = Settings(warehouse=tmp_path / "wh")
    root = settings.layout.table("device_events")  # not partitioned
    root.mkdir(parents=True)
    schema = pa.schema([("x", pa.int64())])
    for i in range(2):  # version 1 replaces version 0's file
        path = root / f"part-{i}.parquet"
        pq.write_table(pa.table({"x": [i]}, schema=schema), path)
        tables.commit(root, schema, None, {tables.UNPARTITIONED: [path]}, [], f"run-{i}")
    (root / "part-0.parquet").unlink()  # what cdr vacuum deletes after the grace period
    con = open_views(settings.layout.duckdb, read_only=False)
    record_build(con, "signature", "device_events=0", settings.warehouse)
    con.close()
    with pytest.raises(InputError) as caught:
        built_snapshots(settings)
    assert "device_events version 0 can no longer be read" in caught.value.message
    assert "the version the views of" in caught.value.message
    assert caught.value.hint is not None and "run `cdr build`" in caught.value.hint
    assert "ask for a later version" not in caught.value.hint
