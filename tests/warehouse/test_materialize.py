"""The materialized marts (`warehouse/materialize.py`): after any sequence of loads,
re-deliveries, device data and retention, the table a refresh keeps day by day equals the
view's SQL computed whole over the same table versions, and equals what a whole build
writes."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.retention import apply_retention
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from cdr_pipeline.warehouse.analyst import KEPT_SCHEMA
from cdr_pipeline.warehouse.build import BuildResult
from cdr_pipeline.warehouse.catalog import read_sql_file
from cdr_pipeline.warehouse.materialize import DEVICE_LEVEL, MATERIALIZED, SCHEMA

NAME = "fct_webex_go_leg_devices"


def _check_parity(settings: Settings) -> str:
    """The materialized table equals its view's SQL run now (both ways, with duplicates),
    and is not empty; returns a digest of its rows."""
    spec = read_sql_file(sql_dir() / f"{NAME}.sql")
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        table = f"{SCHEMA}.{NAME}"
        view = f"main.{NAME}"
        assert con.execute(f"select count(*) from {table}").fetchall()[0][0] > 0
        for a, b in ((f"({spec.sql})", table), (table, f"({spec.sql})")):
            extra = con.execute(f"select count(*) from (from {a} except all from {b})").fetchall()
            assert extra[0][0] == 0, f"{a[:30]} has rows {b[:30]} lacks"
        # the analyst tier's version of the view, computed from its own (pseudonymised)
        # views, has the same rows: so it reads the table too
        con.execute("set search_path = 'analyst_base,main'")
        for a, b in ((f"({spec.sql})", table), (table, f"({spec.sql})")):
            extra = con.execute(f"select count(*) from (from {a} except all from {b})").fetchall()
            assert extra[0][0] == 0, f"analyst tier: {a[:30]} has rows {b[:30]} lacks"
        con.execute("reset search_path")
        # the views read the table
        for name in (view, f"analyst_base.{NAME}", f"analyst.{NAME}"):
            plan = con.execute(f"explain select * from {name}").fetchall()[0][1]
            assert "READ_PARQUET" not in plan.upper(), name
        rows = con.execute(f"select * from {view} order by all").fetchall()
    finally:
        con.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _whole_build_digest(settings: Settings) -> str:
    build_warehouse(settings)
    return _check_parity(settings)


def _mode_of(result: BuildResult) -> tuple[str, int]:
    (m,) = [m for m in result.materialized if m.name == NAME]
    return m.mode, m.days


def _refresh(settings: Settings) -> tuple[str, int]:
    return _mode_of(refresh_warehouse(settings))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse=tmp_path / "wh")


def test_refreshed_by_day_equals_computed_whole_through_a_sequence(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """One sequence checks both kinds of kept marts (they once had a test each, each
    loading and building the same data):

    - `fct_webex_go_leg_devices`, kept by day: after each load, re-delivery, move across
      midnight, device change and retention, the refreshed table equals its SQL and a
      whole build; only the changed days are recomputed, nothing when nothing is new, all
      of it when device data moved;
    - the device-level views (`DEVICE_LEVEL`), kept whole: a load of call legs leaves them
      unchanged (and equal to what they were), device events compute them whole (other
      rows than before) and equal to a whole build; every refresh keeps them equal to
      their SQL, the analyst tier's kept copies to theirs."""
    assert NAME in MATERIALIZED
    assert set(DEVICE_LEVEL) <= set(MATERIALIZED)
    assert not any(MATERIALIZED[n].legs for n in DEVICE_LEVEL)
    september = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    assert ingest_paths(settings, [september, samples_dir / "device_snapshots.csv"]).exit_code == 0
    assert _modes(build_warehouse(settings)) == {"full"}
    _check_parity(settings)
    devices_before = _device_level_parity(settings)

    # new days and an overlap with days held: only the changed days are recomputed; the
    # device-level tables (no call legs read) stay as they were
    october = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"
    assert ingest_paths(settings, [october]).exit_code == 0
    result = refresh_warehouse(settings)
    mode, days = _mode_of(result)
    assert mode == "days" and 28 <= days <= 33
    assert _modes(result) == {"unchanged"}
    assert _device_level_parity(settings) == devices_before
    refreshed = _check_parity(settings)
    assert refreshed == _whole_build_digest(settings)

    # re-delivered and updated records (the API page): the days they touch
    assert ingest_paths(settings, [samples_dir / "cdr_feed_2026-10-29.json"]).exit_code == 0
    mode, days = _refresh(settings)
    assert mode == "days" and 1 <= days < 10
    assert _check_parity(settings) == _whole_build_digest(settings)

    # a Webex Go record re-delivered with its start moved past UTC midnight: it leaves one day
    # and lands on the next, and both days are recomputed (else it would be there twice)
    moved, day_from = _moved_webex_go_leg(october, tmp_path / "moved.csv")
    assert ingest_paths(settings, [tmp_path / "moved.csv"]).exit_code == 0
    mode, days = _refresh(settings)
    assert mode == "days" and days == 2
    assert _check_parity(settings) == _whole_build_digest(settings)
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        where = f"from {SCHEMA}.{NAME} where report_id = ?"
        rows = con.execute(f"select call_date {where}", [moved]).fetchall()
    finally:
        con.close()
    assert rows == [(day_from + timedelta(days=1),)]

    # nothing new: nothing recomputed
    assert _refresh(settings) == ("unchanged", 0)

    # device data moved: every leg may match another device, so the table is computed
    # whole; the device-level tables too, and the same as a whole build
    assert ingest_paths(settings, [samples_dir / "activation_events.csv"]).exit_code == 0
    result = refresh_warehouse(settings)
    assert _mode_of(result) == ("full", 0)
    assert _modes(result) == {"full"}
    devices_refreshed = _device_level_parity(settings)
    assert devices_refreshed != devices_before  # the events moved codes, statuses, segments
    assert _check_parity(settings) == _whole_build_digest(settings)
    assert _device_level_parity(settings) == devices_refreshed

    # retention drops the oldest days: their rows leave the table, by day (the refreshed
    # copy's live rows then go into a new file, tests/batch/test_retention_views.py)
    before = _count(settings)
    result = apply_retention(settings, 50, "test-retention", today=date(2026, 11, 5))
    assert result.dropped
    assert _refresh(settings) == ("days", len(result.dropped))
    assert 0 < _count(settings) < before
    assert _check_parity(settings) == _whole_build_digest(settings)


def _moved_webex_go_leg(export: Path, out: Path) -> tuple[str, date]:
    """Write to `out` one Webex Go leg of `export` again, reported later, its start moved to
    just after the next UTC midnight; returns its Report ID and the day it started on."""
    legs = pl.read_csv(export, infer_schema=False)
    go = legs.filter(pl.col("Sub client type").str.to_uppercase() == "MOBILE_NETWORK")
    leg = go.filter(pl.col("Start time").str.slice(0, 10) > "2026-09-30").head(1)
    start = date.fromisoformat(leg["Start time"][0][:10])
    leg.with_columns(
        pl.lit(f"{start + timedelta(days=1)}T00:00:00.100Z").alias("Start time"),
        pl.lit("2026-11-02T00:00:00.000Z").alias("Report time"),
    ).write_csv(out)
    return str(leg["Report ID"][0]), start


def _count(settings: Settings) -> int:
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        return int(con.execute(f"select count(*) from {SCHEMA}.{NAME}").fetchall()[0][0])
    finally:
        con.close()


def _device_level_parity(settings: Settings) -> dict[str, str]:
    """Each device-level table equals its view's SQL run now (both ways); the public view
    reads the table and the analyst tier's does not (the table holds raw personal values),
    but its own table, equal to its SQL over its pseudonymised views; returns each table's
    rows' digest."""
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    digests: dict[str, str] = {}
    try:
        for name in DEVICE_LEVEL:
            spec = read_sql_file(sql_dir() / f"{name}.sql")
            table = f"{SCHEMA}.{name}"
            for a, b in ((f"({spec.sql})", table), (table, f"({spec.sql})")):
                extra = con.execute(f"select count(*) from (from {a} except all from {b})")
                assert extra.fetchall()[0][0] == 0, f"{name}: {a[:30]} has rows {b[:30]} lacks"
            plan = con.execute(f"explain select * from main.{name}").fetchall()[0][1]
            assert "READ_PARQUET" not in plan.upper(), name
            plan = con.execute(f"explain select * from analyst.{name}").fetchall()[0][1]
            assert SCHEMA not in plan, name
            # the analyst tier keeps its own, computed from its pseudonymised views (each
            # over the kept tables before it): equal to its SQL now, read as a table
            kept = f"{KEPT_SCHEMA}.{name}"
            con.execute("set search_path = 'analyst_base,main'")
            for a, b in ((f"({spec.sql})", kept), (kept, f"({spec.sql})")):
                extra = con.execute(f"select count(*) from (from {a} except all from {b})")
                assert extra.fetchall()[0][0] == 0, f"analyst {name}: {a[:30]} has rows {b[:30]}"
            con.execute("reset search_path")
            plan = con.execute(f"explain select * from analyst_base.{name}").fetchall()[0][1]
            assert "READ_PARQUET" not in plan.upper(), name  # no data file: the table
            for key, source in ((name, table), (f"analyst {name}", kept)):
                rows = con.execute(f"select * from {source} order by all").fetchall()
                digests[key] = hashlib.sha256(repr(rows).encode()).hexdigest()
        for name in ("dim_webex_go_devices", "fct_licence_segments", "fct_licence_days"):
            assert con.execute(f"select count(*) from {SCHEMA}.{name}").fetchall()[0][0], name
    finally:
        con.close()
    return digests


def _modes(result: BuildResult) -> set[str]:
    return {m.mode for m in result.materialized if m.name in DEVICE_LEVEL}
