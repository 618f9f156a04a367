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
from cdr_pipeline.reports.frozen import read_close, read_frozen
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
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


def test_the_end_the_close_checks_is_the_months_end_in_the_views(tmp_path: Path) -> None:
    """America/Havana shows 00:00-01:00 of 2020-11-01 twice (CDT, UTC-4, then CST, UTC-5):
    October ends at the first of those midnights, 04:00Z, in every view (`month_end_at`), so
    device data up to 04:30Z reaches past its end and its month-end figures are October's.
    The close checked against DuckDB's own reading of the wall clock, the second midnight
    (05:00Z), and refused the month as 'device data ends at 04:30, before the month ends at
    05:00'."""
    w = World()
    w.event("2020-09-10T12:00:00Z", "D1", "PROVISIONED", user(1), "+5370001")
    w.event("2020-09-10T13:00:00Z", "D1", "ACTIVATED", user(1), "+5370001")
    w.snapshot("2020-11-01T04:30:00Z", "D1", user(1), "+5370001")  # Nov 1 00:30 CDT
    w.entitlements.append(f"Sub-1,{BYOD},2,2020-01-01,,10.00,USD")
    w.calls["calls_2020-09-01_2020-11-02.csv"] = []  # UTC days: Havana's October whole
    settings = Settings(warehouse=tmp_path / "wh", reporting_timezone="America/Havana")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    close = close_month(settings, "2020-10", today=date(2020, 11, 2)).close
    assert not close.forced and close.call_coverage == "full"
    (row,) = read_frozen(settings.layout, close, "reconciliation").to_pylist()
    # D1 held from September to past October's end: 1 held at month end, 2 bought
    assert (row["consumed_month_end"], row["entitled_units"], row["unassigned_units"]) == (1, 2, 1)


def test_a_refusal_for_device_data_names_no_loaded_calls_as_missing(tmp_path: Path) -> None:
    """D1 held from August; the latest device data is a snapshot of 2026-09-20 06:00Z, so
    coverage stops at the 20th. With calls missing for 09-05..09-07, the refusal named
    09-21..09-30 too ("17 of 30 days have call data"), whose calls are loaded; with those
    three days loaded, it read "call coverage is partial (20 of 30 days have call data;
    none for 2026-09-21..09-30)" and sent finance to load calls that were there: what is
    missing is the device data."""
    w = World()
    w.event("2026-08-10T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.event("2026-08-10T01:00:00Z", "D1", "ACTIVATED", user(1), "+15550001")
    w.snapshot("2026-09-20T06:00:00Z", "D1", user(1), "+15550001")
    w.entitlements.append(f"Sub-1,{BYOD},2,2026-01-01,,10.00,USD")
    for name in ("calls_2026-08-01_2026-09-05.csv", "calls_2026-09-08_2026-10-02.csv"):
        w.calls[name] = []
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    today = date(2026, 10, 5)
    with pytest.raises(CloseRefused) as refused:
        close_month(settings, "2026-09", today=today)
    message, hint = refused.value.message, refused.value.hint or ""
    assert "(27 of 30 days have call data; none for 2026-09-05..09-07)" in message
    assert "device data ends at 2026-09-20 06:00 UTC" in message
    assert "missing call data" in hint and "device snapshots or events" in hint

    gap = tmp_path / "gap" / "calls_2026-09-05_2026-09-08.csv"
    gap.parent.mkdir()
    gap.write_text((tmp_path / "in" / "calls_2026-08-01_2026-09-05.csv").read_text())
    assert ingest_paths(settings, [gap]).exit_code == 0
    refresh_warehouse(settings)  # the views moved to the new versions, as `cdr ingest` does
    with pytest.raises(CloseRefused) as refused:
        close_month(settings, "2026-09", today=today)
    message, hint = refused.value.message, refused.value.hint or ""
    assert "device data ends at 2026-09-20 06:00 UTC" in message
    assert "call coverage" not in message and "call data" not in hint
    assert "load the device snapshots or events" in hint
