"""The ledger stays fast with many runs: a folder past `COMPACT_AT` record files is folded
into one file; readers (the library and the `stg_ledger_*` views) keep each record's latest
write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.state import ledger as ledger_module
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import COMPACT_AT, RUNS_SCHEMA, Ledger
from cdr_pipeline.state.ledger_files import live_files, split_names
from cdr_pipeline.warehouse import build_warehouse


def _run(i: int, status: str) -> dict[str, object]:
    return {"run_id": f"r{i:05d}", "status": status, "started_at": datetime.now(UTC)}


def test_compaction_keeps_every_record_and_its_latest_write(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    n = COMPACT_AT * 3 + 5
    for i in range(n):
        ledger.write("runs", f"r{i:05d}", [_run(i, "running")], RUNS_SCHEMA)
    for i in (0, n - 1):  # rewritten after their record was compacted, and not
        ledger.write("runs", f"r{i:05d}", [_run(i, "ok")], RUNS_SCHEMA)
    folder = ledger.folder("runs")
    files = live_files(folder)
    assert len(files) <= COMPACT_AT + 1
    compacted = [f for f in files if f.name.startswith("_compacted-")]
    assert len(compacted) == 1
    assert pq.read_schema(compacted[0]).field("run_id").type == pa.string()
    runs = ledger.runs()
    assert runs.height == n and runs["run_id"].is_unique().all()
    ok = runs.filter(runs["status"] == "ok")["run_id"].to_list()
    assert sorted(ok) == ["r00000", f"r{n - 1:05d}"]
    # the views read the same records
    build_warehouse(Settings(warehouse=wh))
    con = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    got = con.execute(
        "select count(*), count(distinct run_id), count(*) filter (where status = 'ok') "
        "from stg_ledger_runs"
    ).fetchone()
    assert got == (n, n, 2)


def test_a_write_never_replaces_a_file_a_reader_may_have_open(tmp_path: Path) -> None:
    """DuckDB opens a Parquet file more than once per query: a record rewritten in place
    under a query of the ledger views failed it ("TProtocolException: Invalid data")."""
    ledger = Ledger(Layout(tmp_path / "wh"))
    first = ledger.write("runs", "r00001", [_run(1, "running")], RUNS_SCHEMA)
    before = (first.stat().st_ino, first.read_bytes())
    second = ledger.write("runs", "r00001", [_run(1, "ok")], RUNS_SCHEMA)
    assert second != first and (first.stat().st_ino, first.read_bytes()) == before
    assert ledger.runs()["status"].to_list() == ["ok"]


def test_a_held_reader_of_the_ledger_views_never_fails_while_records_are_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run records rewritten (status running -> ok, as every run does) under a read-only
    connection held open: every query answers, also while compactions fold the folder
    (here every 8 files). A compaction deleted the files it folded in, and a query that had
    listed the folder just before failed ("Cannot open file": 3 of 327 queries through
    `connect()` during ingests)."""
    import threading

    monkeypatch.setattr(ledger_module, "COMPACT_AT", 8)
    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    records = 20
    for i in range(records):
        ledger.write("runs", f"r{i:05d}", [_run(i, "running")], RUNS_SCHEMA)
    build_warehouse(Settings(warehouse=wh))
    con = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    failures: list[str] = []
    answers = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal answers
        while not stop.is_set():
            try:
                con.cursor().execute("select count(*) from stg_ledger_runs").fetchall()
                answers += 1
            except duckdb.Error as exc:
                failures.append(str(exc).splitlines()[0])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for status in ("loading", "ok"):
            for i in range(records):
                ledger.write("runs", f"r{i:05d}", [_run(i, status)], RUNS_SCHEMA)
    finally:
        stop.set()
        reader.join()
        con.close()
    live, superseded = split_names(ledger.folder("runs"))
    assert len(live) <= 9 and len(superseded) > 3 * records  # compacted, nothing deleted
    assert answers > 10 and failures == []
    assert set(ledger.runs()["status"].to_list()) == {"ok"}


def test_a_compaction_deletes_no_file_the_views_list_and_vacuum_does_after_the_grace(
    tmp_path: Path,
) -> None:
    """The `stg_ledger_*` views list the live files when they are built; a compaction then
    deleted what it folded in, under every connection to that `cdr.duckdb` (a notebook's,
    `cdr report`'s). The files stay until `cdr vacuum`, after the grace period."""
    wh = tmp_path / "wh"
    settings = Settings(warehouse=wh)
    ledger = Ledger(Layout(wh))
    for i in range(5):
        ledger.write("runs", f"r{i:05d}", [_run(i, "ok")], RUNS_SCHEMA)
    build_warehouse(settings)
    con = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    listed = con.execute(
        "select sql from duckdb_views() "
        "where view_name = 'stg_ledger_runs' and schema_name = 'main'"
    )
    text = listed.fetchone()[0]  # type: ignore[index]
    before = live_files(ledger.folder("runs"))
    assert before and all(str(f.resolve()) in text for f in before)
    ledger.compact("runs")
    assert all(f.exists() for f in before)
    assert con.execute("select count(*) from stg_ledger_runs").fetchone() == (5,)
    con.close()
    assert next(f.name for f in live_files(ledger.folder("runs"))).startswith("_compacted-")
    assert ledger.runs().height == 5
    assert "ledger" not in vacuum_tables(settings).deleted  # within the 24 hours
    assert all(f.exists() for f in before)
    gone = vacuum_tables(settings, grace_hours=0).deleted["ledger"]
    assert sorted(gone) == sorted(f"runs/{f.name}" for f in before)
    assert not any(f.exists() for f in before) and ledger.runs().height == 5


def test_vacuum_deletes_the_temp_file_of_a_ledger_write_killed_long_ago(tmp_path: Path) -> None:
    """Every ledger record is written to a hidden temp file renamed into place: a writer
    killed between the two (kill -9 of `cdr keys rotate`, an ingest, a power cut) left it
    in `state/ledger/<table>/` for good. `cdr vacuum` deletes one older than an hour; a
    younger one may be a write under way (`cdr validate` takes no lock) and stays."""
    import os
    import time

    wh = tmp_path / "wh"
    settings = Settings(warehouse=wh)
    ledger = Ledger(Layout(wh))
    ledger.write("runs", "r00000", [_run(0, "ok")], RUNS_SCHEMA)
    folder = ledger.folder("runs")
    old = folder / ".r00001@1796477770573570713.parquet.tmp-10518e44"
    fresh = folder / ".r00002@1796477770573570714.parquet.tmp-20518e44"
    for left in (old, fresh):
        left.write_bytes(b"PAR1 half written")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    deleted = vacuum_tables(settings).deleted["ledger"]
    assert deleted == [f"runs/{old.name}"]
    assert not old.exists() and fresh.exists() and ledger.runs().height == 1


def test_a_compaction_the_disk_has_no_room_for_fails_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Compaction is housekeeping after the record is on disk: a disk full then failed the
    command (exit 6) and left its run `running`. The write returns, says so, and the next
    write compacts once there is room."""
    import errno

    monkeypatch.setattr(ledger_module, "COMPACT_AT", 4)
    write = ledger_module.atomic_write_table
    full = True

    def no_room_to_compact(table: pa.Table, path: Path) -> None:
        if full and path.name.startswith("_compacted-"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write(table, path)

    monkeypatch.setattr(ledger_module, "atomic_write_table", no_room_to_compact)
    ledger = Ledger(Layout(tmp_path / "wh"))
    for i in range(6):
        ledger.write("runs", f"r{i:05d}", [_run(i, "ok")], RUNS_SCHEMA)
    assert "ledger runs not compacted" in caplog.text and "No space left" in caplog.text
    assert ledger.runs().height == 6
    assert not split_names(ledger.folder("runs"))[1]  # nothing superseded yet
    full = False
    ledger.write("runs", "r00006", [_run(6, "ok")], RUNS_SCHEMA)
    live = live_files(ledger.folder("runs"))
    assert [f.name.startswith("_compacted-") for f in live] == [True]
    assert ledger.runs().height == 7
