"""A close freezes the month's end: units held when the month ends, what is unassigned then.
Device data that stops on the month's last day (the latest snapshot of 30 September at
06:00) can say nothing of the rest of that day, yet every day is 'covered' (the horizon's
day counts), so the month closed unforced with its month-end figures as of 06:00: a device
deleted at 10:00 stayed held at the end of the frozen month."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.close import CloseRefused, close_month
from cdr_pipeline.reports.frozen import read_close
from cdr_pipeline.warehouse import build_warehouse
from tests.warehouse.finance_world import BYOD, World, user


def test_a_month_whose_device_data_ends_before_its_end_is_refused(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-10T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.event("2026-08-10T01:00:00Z", "D1", "ACTIVATED", user(1), "+15550001")
    w.snapshot("2026-09-30T06:00:00Z", "D1", user(1), "+15550001")  # the latest device data
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,10.00,USD")
    w.leg("calls_2026-08-01_2026-10-02.csv", "X", "2026-09-15T10:00:00Z", user(9), "+1", 30)
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    today = date(2026, 10, 1)
    with pytest.raises(CloseRefused, match=r"device data ends at 2026-09-30 06:00 UTC"):
        close_month(settings, "2026-09", today=today)
    assert read_close(settings.layout, date(2026, 9, 1)) is None
