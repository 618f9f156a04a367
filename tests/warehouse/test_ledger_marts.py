"""The marts of the ingest ledger (`marts.PER_BUILD`: call coverage, the licence months) are
kept as tables that every refresh computes whole: a change to the ledger alone (a header-only
export, which loads no row and moves no table) shows in them at the next refresh, and each
equals its view's SQL over that build's ledger, in both tiers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from cdr_pipeline.warehouse.catalog import read_sql_file
from cdr_pipeline.warehouse.marts import MATERIALIZED, PER_BUILD, SCHEMA


def _parity(settings: Settings) -> set[date]:
    """Each ledger mart's table equals its SQL run now (both ways), the public and analyst
    views read the table, not the ledger's files; returns the covered days."""
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        for name in PER_BUILD:
            spec = read_sql_file(sql_dir() / f"{name}.sql")
            table = f"{SCHEMA}.{name}"
            assert con.execute(f"select count(*) from {table}").fetchall()[0][0] > 0, name
            for a, b in ((f"({spec.sql})", table), (table, f"({spec.sql})")):
                extra = con.execute(f"select count(*) from (from {a} except all from {b})")
                assert extra.fetchall()[0][0] == 0, f"{name}: {a[:30]} has rows {b[:30]} lacks"
            for view in (f"main.{name}", f"analyst.{name}"):
                plan = con.execute(f"explain select * from {view}").fetchall()[0][1]
                assert "READ_PARQUET" not in plan.upper(), view
        rows = con.execute("select covered_day from analyst.int_call_coverage").fetchall()
        assert {r[0] for r in rows} == {
            r[0] for r in con.execute("select covered_day from int_call_coverage").fetchall()
        }
        return {r[0] for r in rows}
    finally:
        con.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse=tmp_path / "wh")


def test_a_ledger_change_alone_shows_at_the_next_refresh(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    assert all(MATERIALIZED[name].every_build for name in PER_BUILD)
    september = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    paths = [september, samples_dir / "device_snapshots.csv", samples_dir / "entitlements.csv"]
    assert ingest_paths(settings, paths).exit_code == 0
    build_warehouse(settings)
    before = _parity(settings)
    assert date(2026, 9, 15) in before and date(2026, 11, 5) not in before

    # the header alone of an export of 2026-11-01..07: no row, no table moved, but the
    # ledger records the file, and its declared days are covered from now on
    described = duckdb.execute(
        "describe select * from read_csv(?, all_varchar = true)",
        [str(samples_dir / "dch_export_2026-09-30_2026-10-31.csv")],
    ).fetchall()
    empty = tmp_path / "calling_detailed_call_history_2026-11-01_2026-11-08.csv"
    empty.write_text(",".join(f'"{d[0]}"' for d in described) + "\r\n", encoding="utf-8")
    assert ingest_paths(settings, [empty]).exit_code == 0
    refresh_warehouse(settings)
    after = _parity(settings)
    # whole days of the reporting time zone inside 2026-11-01..07 UTC
    assert date(2026, 11, 3) in after - before
    assert before <= after and all(d.month == 11 and d.day < 8 for d in after - before)
