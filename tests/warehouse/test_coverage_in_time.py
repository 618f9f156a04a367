"""The licence figures as call data comes and goes: call coverage as of an earlier moment
counts only the files loaded by then, retention uncovers the days whose legs it dropped, and a
device without a deployment (so without a licence type) keeps every figure under `(none)`."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.ingest.retention import apply_retention
from cdr_pipeline.reports.figures import pinned_connection
from cdr_pipeline.warehouse import build_warehouse, connect_as_of, connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.warehouse.finance_world import BYOD, CALL_HEADER, World, records, user

FIRST = "dch_2026-09-01_2026-09-16.csv"
SECOND = "dch_2026-09-16_2026-10-02.csv"
SEPTEMBER = "select * from rpt_licence_reconciliation where month = date '2026-09-01'"


def _world() -> World:
    """Two devices held all September; one calls on 09-05 (first export), the other on
    09-20 (second export, loaded later)."""
    w = World()
    w.held_through_september(
        [("D1", user(1), "+15550001", "Sub-1"), ("D2", user(2), "+15550002", "Sub-1")]
    )
    w.entitle("Sub-1", BYOD, 2, "10.00")
    w.leg(FIRST, "r1", "2026-09-05T10:00:00.000Z", user(1), "+15550001", 60)
    return w


def _second_export(root: Path) -> Path:
    w = World()
    w.leg(SECOND, "r2", "2026-09-20T10:00:00.000Z", user(2), "+15550002", 60)
    path = root / SECOND
    path.write_text(CALL_HEADER + "\n" + w.calls[SECOND][0] + "\n", encoding="utf-8")
    return path


def _views(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Every view over the tables' latest versions, made as a report makes them for a
    question (`connect_snapshots`: the device-level marts kept as tables of their SQL)."""
    return connect_snapshots(settings, table_snapshots(settings))


def _september(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    (row,) = records(con, SEPTEMBER)
    return row


def test_coverage_as_of_a_moment_counts_only_the_files_loaded_by_then(tmp_path: Path) -> None:
    _world().build(tmp_path).close()
    settings = Settings(warehouse=tmp_path / "wh")
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    assert ingest_paths(settings, [_second_export(tmp_path)]).exit_code == 0

    now = _views(settings)
    latest = _september(now)
    assert (latest["call_coverage"], latest["covered_days"]) == ("full", 30)
    assert latest["licences_used"] == 2 and latest["idle_licences"] == 0

    # then only 1-15 September was loaded: partial, and no licence is called idle
    for then in (connect_as_of(settings, moment), pinned_connection(settings, moment)[0]):
        earlier = _september(then)
        assert (earlier["call_coverage"], earlier["covered_days"]) == ("partial", 15)
        assert earlier["licences_used"] == 1 and earlier["idle_licences"] is None
        assert earlier["idle_cost"] is None


def test_coverage_counts_no_file_whose_calls_the_views_do_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run records a file `loaded` before it commits: views made meanwhile (a report during
    the run, or after a kill -9 before the commit), a `cdr.duckdb` held open through a later
    run, and `--as-of` a moment in the middle of a run read the second export's coverage
    without its call, and the licence that called in it read as idle (idle cost 10.00)."""
    _world().build(tmp_path).close()
    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)
    held = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    during: list[tuple[datetime, dict[str, object]]] = []
    commit = PendingTables.commit

    def commit_later(self: PendingTables) -> dict[str, int]:
        con = _views(settings)
        during.append((datetime.now(UTC), _september(con)))
        time.sleep(0.01)
        return commit(self)

    monkeypatch.setattr(PendingTables, "commit", commit_later)
    assert ingest_paths(settings, [_second_export(tmp_path)]).exit_code == 0
    ((moment, mid_run),) = during
    for row in (mid_run, _september(held), _september(connect_as_of(settings, moment))):
        assert (row["call_coverage"], row["covered_days"]) == ("partial", 15)
        assert row["licences_used"] == 1 and row["idle_cost"] is None
    now = _views(settings)
    latest = _september(now)
    assert (latest["call_coverage"], latest["licences_used"]) == ("full", 2)


def test_days_retention_dropped_are_no_longer_covered(tmp_path: Path) -> None:
    w = _world()
    w.leg(SECOND, "r2", "2026-09-20T10:00:00.000Z", user(2), "+15550002", 60)
    w.build(tmp_path).close()
    settings = Settings(warehouse=tmp_path / "wh")
    before = datetime.now(UTC)
    time.sleep(0.01)
    # 70 days before 2026-12-03: the legs of 2026-09-23 and earlier are dropped
    dropped = apply_retention(settings, 70, "retention-run", today=date(2026, 12, 3))
    assert dropped.cutoff == date(2026, 9, 24) and dropped.rows == 2

    con = _views(settings)
    after = _september(con)
    # the calls of 09-05 and 09-20 are gone, not absent: the idle figures are unknown
    assert (after["call_coverage"], after["covered_days"]) == ("partial", 7)
    assert after["idle_licences"] is None and after["idle_cost"] is None
    earlier = _september(connect_as_of(settings, before))
    assert (earlier["call_coverage"], earlier["licences_used"]) == ("full", 2)


def test_a_device_without_deployment_counts_under_licence_type_none(tmp_path: Path) -> None:
    w = World()
    w.snapshot("2026-09-01T06:00:00Z", "E1", user(1), "+15550001", deployment="")
    w.snapshot("2026-10-05T06:00:00Z", "E1", user(1), "+15550001", deployment="")
    w.leg(
        "dch_2026-09-01_2026-10-06.csv", "r1", "2026-09-10T10:00:00.000Z", user(1), "+15550001", 60
    )
    con = w.build(tmp_path)
    rows = records(
        con,
        "select * from rpt_licence_usage_monthly where month = date '2026-09-01'",
    )
    assert [r["licence_type"] for r in rows] == ["(none)"]
    (row,) = rows
    assert row["licences_held_peak"] == 1 and row["licences_held_month_end"] == 1
    assert row["licence_days"] == 30 and row["licences_used"] == 1
    assert row["webex_go_calls"] == 1
    (rec,) = records(con, SEPTEMBER)
    assert rec["licence_type"] == "(none)"
    assert (rec["consumed_peak"], rec["consumed_month_end"], rec["licence_days"]) == (1, 1, 30)


def test_an_entitlement_row_without_currency_is_not_priced_in_another(tmp_path: Path) -> None:
    w = _world()
    w.entitlements.append(f"Sub-1,{BYOD},1,2026-09-01,,30.00,")  # a top-up, no currency
    con = w.build(tmp_path)
    row = _september(con)
    assert row["status"] == "mixed_currency"
    assert row["unit_price"] is None and row["currency"] is None
    assert row["entitled_units"] == 3
