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
