"""The ledger stays fast with many runs: a folder past `COMPACT_AT` record files is folded
into one file; readers (the library and the `stg_ledger_*` views) keep each record's latest
write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.config import Settings
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import COMPACT_AT, RUNS_SCHEMA, Ledger
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
    files = sorted(folder.glob("*.parquet"))
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
    tmp_path: Path,
) -> None:
    """Run records rewritten (status running -> ok, as every run does) under a read-only
    connection held open: every query answers. Below `COMPACT_AT` files, so no compaction
    deletes a file a query has listed (that window stays open: see docs/limits.md)."""
    import threading

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
    assert len(list(ledger.folder("runs").glob("*.parquet"))) == 3 * records  # no compaction
    assert answers > 10 and failures == []
    assert set(ledger.runs()["status"].to_list()) == {"ok"}
