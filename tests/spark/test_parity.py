"""Parity: every view built by Spark (local[2]) from the emitted Spark SQL equals the view
`cdr build` creates in DuckDB: over the demo plus the hand-built device lifecycle, with a
reporting time zone that has daylight saving (Europe/Paris: the samples cross the change of
2026-10-25). One Spark build: each takes a minute or more of both cores."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.spark.views import emit_views
from cdr_pipeline.warehouse import create_views
from cdr_pipeline.warehouse.materialize import Keeper
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.devices.helpers import EVENT_HEADER, SNAPSHOT_HEADER, ingest, write_csv
from tests.devices.test_lifecycle import EVENTS, SNAPSHOTS
from tests.spark.parity import compare_view
from tests.warehouse.finance_world import user
from tests.warehouse.test_device_match_keys import number_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_and_lifecycle_wh(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The demo samples plus the hand-built device lifecycle (its edge cases: reappearing
    deleted devices, out-of-order events, superseded and expired codes, shared numbers) and
    numbers that change hands, with legs matched by number (test_device_match_keys)."""
    root = tmp_path_factory.mktemp("spark_lifecycle")
    inputs = root / "inputs"
    write_csv(inputs / "snapshots.csv", SNAPSHOT_HEADER, SNAPSHOTS)
    write_csv(inputs / "events.csv", EVENT_HEADER, EVENTS)
    ingest(root / "wh", samples_dir)
    ingest(root / "wh", inputs)
    numbers = number_world()
    # a Webex Go leg without a Duration, the only leg of its group's month: its minutes are
    # unknown (NULL) in both engines, not 0
    numbers.leg(
        "calls_2026-10-01_2026-10-02.csv", "L12", "2026-10-01T03:00:00Z", user(1), "+15550009", None
    )
    ingest(root / "wh", numbers.write(root / "numbers"))
    return root / "wh"


NON_EMPTY = (
    "fct_call_legs",
    "fct_calls",
    "fct_webex_go_calls",
    "fct_device_status_history",
    "fct_activation_codes",
    "fct_licence_days",
    "rpt_licence_usage_monthly",
    "rpt_licence_reconciliation",
    "rpt_webex_go_anomalies",
)
"""Views that must hold rows on these data, or their comparison would prove little."""


def _compare_all(settings: Settings, target: Path) -> list[str]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    # the marts kept as tables, as `cdr build` keeps them (each query of a view over the
    # device-level chain computed it again: three queries per view)
    snapshots = table_snapshots(settings)
    keeper = Keeper(con, snapshots, whole=True)
    created, _ = create_views(con, settings, snapshots=snapshots, keeper=keeper)
    views = emit_views(settings, "spark")
    assert {s.name for s in created} == {v.name for v in views}
    problems: list[str] = []
    for view in views:
        problems += compare_view(con, view.name, target / view.name)
    for name in NON_EMPTY:
        count = con.execute(f"select count(*) from {name}").fetchone()
        assert count and count[0] > 0, f"{name} is empty"
    unknown = con.execute(
        "select count(*) from rpt_licence_usage_monthly "
        "where webex_go_legs > 0 and webex_go_minutes is null and webex_go_device_minutes is null"
    ).fetchone()
    assert unknown and unknown[0] > 0, "no row of Webex Go minutes unknown to compare"
    return problems


def test_views_equal_duckdb_built_by_the_entry_point_with_daylight_saving(
    spark: object, demo_and_lifecycle_wh: Path, tmp_path: Path
) -> None:
    """Built through the entry point `python -m cdr_pipeline.spark build` (in-process: it
    takes the running session), which also writes the run record. Europe/Paris left summer
    time on 2026-10-25, inside the samples' months; a 7-day code expiry makes codes of the
    lifecycle expire before the data horizon. (A second build, over the demo alone with the
    reporting zone UTC, took another minute of both cores: UTC, a zone without daylight
    saving, is the simple case of the same SQL.)"""
    from cdr_pipeline.spark.__main__ import main

    settings = Settings(
        warehouse=demo_and_lifecycle_wh, reporting_timezone="Europe/Paris", code_expiry_days=7
    )
    config = tmp_path / "cdr.toml"
    config.write_text('reporting_timezone = "Europe/Paris"\ncode_expiry_days = 7\n')
    target = tmp_path / "spark"
    argv = ["build", "--warehouse", str(demo_and_lifecycle_wh), "--config", str(config)]
    assert main([*argv, "--target", str(target), "--format", "files"]) == 0
    records = [
        json.loads(line)
        for f in sorted((target / "_cdr_runs").glob("*.json"))
        for line in f.read_text().splitlines()
    ]
    assert len(records) == 1 and records[0]["source"] == "files"
    assert [v["name"] for v in json.loads(records[0]["views"])] == [
        v.name for v in emit_views(settings, "spark")
    ]
    assert _compare_all(settings, target) == []
