"""Retention dropping a closed month's call legs is not a restatement: the frozen figures
are the month's, and recomputing from what retention left would lose them. Real pipeline
(ingest, build, close, retention)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.retention import apply_retention
from cdr_pipeline.reports.close import CloseRefused, close_month, reopen_month
from cdr_pipeline.reports.frozen import read_close
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from tests.warehouse.finance_world import BYOD, World, user

U1 = user(1)


def test_a_closed_month_retention_dropped_is_not_restated(tmp_path: Path) -> None:
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.entitle("Sub-1", BYOD, 2, "10.00")
    w.leg("calls_2026-09-01_2026-10-01.csv", "GO1", "2026-09-15T10:00:00Z", U1, "+15550001", 60)
    w.leg("calls_2026-09-01_2026-10-01.csv", "GO2", "2026-09-25T10:00:00Z", U1, "+15550001", 90)
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    close_month(settings, "2026-09")
    assert restatements(settings).table.num_rows == 0

    # a year on, `retain_days` drops the September days one night after another
    dropped = apply_retention(settings, 30, "retention-run", today=date(2026, 10, 20))
    assert dropped.dropped  # 2026-09-15 went, 2026-09-25 is still there
    refresh_warehouse(settings)  # as the nightly does after its retention step

    assert restatements(settings).table.num_rows == 0


def _september_with_one_call(tmp_path: Path) -> Settings:
    """A warehouse of one licence held through September and one call on the 15th."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])
    w.entitle("Sub-1", BYOD, 2, "10.00")
    w.leg("calls_2026-09-01_2026-10-01.csv", "GO1", "2026-09-15T10:00:00Z", U1, "+15550001", 60)
    w.ingest(tmp_path)
    return Settings(warehouse=tmp_path / "wh")


def test_a_closed_month_retention_dropped_is_not_reopened(tmp_path: Path) -> None:
    # its frozen figures are the only full record left: recomputed, its calls are gone
    # (idle unknown, coverage none) and it could never be closed again unforced
    settings = _september_with_one_call(tmp_path)
    close_month(settings, "2026-09")
    apply_retention(settings, 30, "retention-run", today=date(2026, 10, 20))

    with pytest.raises(CloseRefused) as refused:
        reopen_month(settings, "2026-09", "late calls")
    assert refused.value.exit_code == 3
    assert "retention (retain_days) dropped" in refused.value.message
    assert read_close(settings.layout, date(2026, 9, 1)) is not None  # still closed


def test_a_month_retention_cut_into_before_its_close_says_so(tmp_path: Path) -> None:
    # retain_days shorter than close_after_days + a month: the nightly's close finds days
    # the ledger will skip if re-sent and coverage ignores before the cutoff
    settings = _september_with_one_call(tmp_path)
    apply_retention(settings, 30, "retention-run", today=date(2026, 10, 20))

    with pytest.raises(CloseRefused) as refused:
        close_month(settings, "2026-09", today=date(2026, 10, 20))
    assert "call coverage is partial (11 of 30 days" in refused.value.message
    assert "retention (retain_days) dropped its call legs before 2026-09-20" in (
        refused.value.message
    )
    assert "raise retain_days" in str(refused.value.hint)
