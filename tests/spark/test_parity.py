"""Parity: every view built by Spark (local[2]) from the emitted Spark SQL equals the view
`cdr build` creates in DuckDB, over the demo warehouse and over the hand-built device
lifecycle, with the reporting time zone UTC and with one that has daylight saving
(Europe/Paris: the samples cross the change of 2026-10-25)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.spark.tables import register_tables, table_files
from cdr_pipeline.spark.views import emit_views
from cdr_pipeline.warehouse import create_views
from tests.devices.helpers import EVENT_HEADER, SNAPSHOT_HEADER, ingest, write_csv
from tests.devices.test_lifecycle import EVENTS, SNAPSHOTS
from tests.spark.parity import compare_view

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifecycle_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark_lifecycle")
    inputs = root / "inputs"
    write_csv(inputs / "snapshots.csv", SNAPSHOT_HEADER, SNAPSHOTS)
    write_csv(inputs / "events.csv", EVENT_HEADER, EVENTS)
    ingest(root / "wh", inputs)
    return root / "wh"


def _check_parity(spark: object, settings: Settings, target: Path) -> list[str]:
    from cdr_pipeline.spark.session import materialise

    register_tables(spark, table_files(settings))  # type: ignore[arg-type]
    views = emit_views(settings, "spark")
    built = materialise(spark, views, target)  # type: ignore[arg-type]
    assert [b.name for b in built] == [v.name for v in views]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    created, _ = create_views(con, settings)
    assert {s.name for s in created} == {v.name for v in views}
    problems: list[str] = []
    for view in views:
        problems += compare_view(con, view.name, target / view.name)
    return problems


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_demo_warehouse_views_equal_duckdb(
    spark: object, sample_wh: Settings, zone: str, tmp_path: Path
) -> None:
    settings = Settings(warehouse=sample_wh.warehouse, reporting_timezone=zone)
    problems = _check_parity(spark, settings, tmp_path / "spark")
    assert problems == []


@pytest.mark.parametrize(("zone", "expiry"), [("UTC", 7), ("America/New_York", 90)])
def test_lifecycle_views_equal_duckdb(
    spark: object, lifecycle_wh: Path, zone: str, expiry: int, tmp_path: Path
) -> None:
    settings = Settings(warehouse=lifecycle_wh, reporting_timezone=zone, code_expiry_days=expiry)
    problems = _check_parity(spark, settings, tmp_path / "spark")
    assert problems == []
