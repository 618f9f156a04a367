"""A build gives DuckDB `build_memory_mb`: past what spills, it exits 6 naming the setting,
and the previous `cdr.duckdb` stays (no "report it", no leftover files)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_ENVIRONMENT, BuildOutOfMemory
from cdr_pipeline.warehouse import build_warehouse

# a materialized view's name, so the build computes it into a table; a list aggregate of
# 30 million numbers (240 MB) does not spill
HUNGRY = "select 'x' as correlation_id, list(i) as l from range(30000000) as t(i)"


def _sql(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fct_calls.sql").write_text(f"-- grain: one row\n-- key: correlation_id\n{body}\n")
    return folder


def test_a_build_past_its_memory_exits_6_and_keeps_the_previous_database(
    tmp_path: Path,
) -> None:
    wh = tmp_path / "wh"
    sql = _sql(tmp_path / "sql", "select 'x' as correlation_id, 1 as l")
    build_warehouse(Settings(warehouse=wh, build_memory_mb=64), sql_dir=sql)
    _sql(sql, HUNGRY)
    with pytest.raises(BuildOutOfMemory, match="build_memory_mb = 64 MiB") as caught:
        build_warehouse(Settings(warehouse=wh, build_memory_mb=64), sql_dir=sql)
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    assert "raise build_memory_mb" in (caught.value.hint or "")
    # the previous database answers; nothing of the failed build is left beside it
    con = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    try:
        assert con.execute("select l from fct_calls").fetchall() == [(1,)]
    finally:
        con.close()
    assert sorted(p.name for p in wh.iterdir() if p.name.startswith(".cdr.duckdb")) == []
    # with room, the same SQL builds
    build_warehouse(Settings(warehouse=wh, build_memory_mb=1024), sql_dir=sql)
