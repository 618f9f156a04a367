"""`refresh_warehouse` (what `cdr ingest` and `cdr fetch` run at their end) gives the file a
whole `cdr build` gives, and falls back to that build when anything but the table versions
changed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from cdr_pipeline.warehouse.signature import BUILD_VIEW
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.warehouse.sample_warehouse import small_export

# the views compared: raw, ledger and call-level, in both tiers
VIEWS = [
    "stg_call_legs",
    "stg_device_snapshots",
    "stg_ledger_runs",
    "fct_calls",
    "fct_webex_go_calls",
]


def _digest(path: Path) -> dict[str, str]:
    """View -> a digest of its sorted rows, in the full and the analyst tier."""
    out: dict[str, str] = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for schema in ("main", "analyst"):
            for view in VIEWS:
                rows = con.execute(f"select * from {schema}.{view} order by all").fetchall()
                out[f"{schema}.{view}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
                assert rows or view == "stg_ledger_runs", f"{schema}.{view} is empty"
    finally:
        con.close()
    return out


def _versions(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(f"select table_versions from {BUILD_VIEW}").fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


@pytest.fixture
def loaded_once(tmp_path: Path, samples_dir: Path) -> Settings:
    """A warehouse holding the September export, built."""
    settings = Settings(warehouse=tmp_path / "wh")
    first = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    assert ingest_paths(settings, [first, samples_dir / "device_snapshots.csv"]).exit_code == 0
    build_warehouse(settings)
    return settings


@pytest.fixture
def loaded_small(tmp_path: Path, samples_dir: Path) -> Settings:
    """A warehouse holding a few calls and the device snapshots, built: for the cases that
    only need a built warehouse with calls (what is rebuilt, not from how much data)."""
    settings = Settings(warehouse=tmp_path / "wh")
    calls = small_export(tmp_path / "calls.csv")
    assert ingest_paths(settings, [calls, samples_dir / "device_snapshots.csv"]).exit_code == 0
    build_warehouse(settings)
    return settings


def test_refresh_after_an_ingest_equals_a_whole_build(
    loaded_once: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    settings = loaded_once
    before = _digest(settings.layout.duckdb)
    later = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"
    assert ingest_paths(settings, [later]).exit_code == 0

    result = refresh_warehouse(settings)
    assert {v.name for v in result.views} >= {"stg_call_legs", "stg_ledger_runs"}
    assert "fct_calls" not in {v.name for v in result.views}  # kept, not rebuilt
    refreshed = _digest(settings.layout.duckdb)
    versions = _versions(settings.layout.duckdb)
    assert refreshed != before  # the views moved to the new data, the analyst tier with them
    assert versions == result.versions and "call_legs=1" in versions
    # each file of the new versions' columns kept, read from the footer of a new one only
    snapshots = table_snapshots(settings)
    files = {str(f.resolve()) for snap in snapshots.values() for f in snap.all_files()}
    assert _file_columns(settings).keys() == files

    kept = tmp_path / "refreshed.duckdb"
    shutil.copyfile(settings.layout.duckdb, kept)
    build_warehouse(settings)
    assert _digest(settings.layout.duckdb) == refreshed
    assert _versions(settings.layout.duckdb) == versions


def test_refresh_builds_everything_when_sql_changed(loaded_small: Settings, tmp_path: Path) -> None:
    settings = loaded_small
    from cdr_pipeline.resources import sql_dir

    edited = tmp_path / "sql"
    shutil.copytree(sql_dir(), edited)
    (edited / "rpt_extra.sql").write_text(
        "-- grain: one row\n-- key: n\nselect count(*) as n from fct_calls\n", encoding="utf-8"
    )
    result = refresh_warehouse(settings, edited)
    assert "rpt_extra" in {v.name for v in result.views}  # the whole build ran
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        n = con.execute("select n from rpt_extra").fetchone()
        assert n is not None and n[0] > 0
        assert con.execute("select count(*) from analyst.rpt_extra").fetchone() == (1,)
    finally:
        con.close()
    # and with nothing changed since, the next refresh replaces only the generated views
    again = refresh_warehouse(settings, edited)
    assert "rpt_extra" not in {v.name for v in again.views}
    assert all(v.origin == "generated" for v in again.views)


def test_refresh_after_a_settings_change_builds_everything(loaded_small: Settings) -> None:
    changed = Settings(warehouse=loaded_small.warehouse, idle_days=loaded_small.idle_days + 7)
    result = refresh_warehouse(changed)
    assert "fct_calls" in {v.name for v in result.views}
    con = duckdb.connect(str(changed.layout.duckdb), read_only=True)
    try:
        assert con.execute("select idle_days from cfg_settings").fetchone() == (
            loaded_small.idle_days + 7,
        )
    finally:
        con.close()


def test_a_damaged_database_file_is_built_again(loaded_small: Settings) -> None:
    loaded_small.layout.duckdb.write_bytes(b"not a duckdb file\n" * 100)
    result = refresh_warehouse(loaded_small)
    assert "fct_calls" in {v.name for v in result.views}
    assert _versions(loaded_small.layout.duckdb) == result.versions


def test_a_damaged_database_file_is_a_clear_error_for_readers(loaded_small: Settings) -> None:
    from cdr_pipeline.errors import EXIT_BAD_INPUT, ConfigError
    from cdr_pipeline.warehouse import connect

    loaded_small.layout.duckdb.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="does not open") as info:
        connect(loaded_small)
    assert info.value.exit_code == EXIT_BAD_INPUT and "cdr build" in str(info.value.hint)
    build_warehouse(loaded_small)
    con = connect(loaded_small)
    try:
        assert con.execute("select count(*) from fct_calls").fetchone() != (0,)
    finally:
        con.close()


def _file_columns(settings: Settings) -> dict[str, list[list[str]]]:
    """`cdr_meta.file_columns` of the warehouse's `cdr.duckdb`: path -> [column, type]."""
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        rows = con.execute("select path, columns from cdr_meta.file_columns").fetchall()
    finally:
        con.close()
    return {str(path): json.loads(columns) for path, columns in rows}


def test_a_refresh_reads_no_footer_a_build_read(loaded_once: Settings) -> None:
    """`cdr_meta.file_columns` keeps each data file's columns (a file never changes once
    written), so a refresh reads only the footers of files new since. Shown with a file whose
    bytes a disk fault replaced (same size): the refresh does not read it, a whole build
    does and names it."""
    from cdr_pipeline.errors import WarehouseDamaged

    settings = loaded_once
    old = table_snapshots(settings)["call_legs"].files["2026-09-10"][0]
    assert _file_columns(settings)[str(old.resolve())] == sorted(
        [f.name, str(f.type)] for f in pq.read_schema(old)
    )
    old.write_bytes(b"\0" * old.stat().st_size)
    assert not refresh_warehouse(settings).full
    with pytest.raises(WarehouseDamaged, match=old.name):
        build_warehouse(settings)
