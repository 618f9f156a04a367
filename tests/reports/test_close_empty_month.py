"""A month in which no licence was held and nothing was bought, worked out by hand: its
reports have no rows, but its call coverage is known (fct_licence_months), and a close and
the one-page summary must state it, not 'none'."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.frozen import read_close
from cdr_pipeline.reports.run import parse_month
from cdr_pipeline.warehouse import build_warehouse
from tests.reports.finance_helpers import cdr
from tests.warehouse.finance_world import World, user


def test_a_month_without_licences_but_with_every_day_of_calls_closes(tmp_path: Path) -> None:
    """D1 is held in August (deleted at September's first instant), D2 from October 5; no
    entitlement. September has call data on all 30 days (an export declaring 09-01..10-01)
    and no unit held: every report is empty, its coverage is full (30 of 30 days), so it
    closes without --force. Before, the close read the coverage from the reconciliation's
    first row and, with none, refused: 'call coverage is none (0 of 30 days)'."""
    w = World()
    w.event("2026-08-01T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.event("2026-09-01T00:00:00Z", "D1", "DELETED", user(1), "+15550001")
    w.event("2026-10-05T00:00:00Z", "D2", "PROVISIONED", user(2), "+15550002")
    w.snapshot("2026-10-20T00:00:00Z", "D2", user(2), "+15550002")
    w.leg("calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", user(1), "+1", 30)
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    code, out, err = cdr(settings, "close", "2026-09")
    assert code == 0, err
    assert "call coverage: full (30 of 30 days)" in out
    close = read_close(settings.layout, parse_month("2026-09"))  # type: ignore[arg-type]
    assert close is not None
    assert (close.call_coverage, close.covered_days, close.licences_held_peak) == ("full", 30, 0)
    summary = tmp_path / "s.html"
    code, _, err = cdr(
        settings, "report", "finance-summary", "--month", "2026-09", "--out", str(summary)
    )
    assert code == 0, err
    assert "full (30 of\n30 days)" in summary.read_text(encoding="utf-8")


def test_a_month_before_the_device_data_is_refused_naming_the_licence_months(
    tmp_path: Path,
) -> None:
    """August holds a call on every day it declares, but the device data begins in October:
    the licence figures have no August. The close said "call coverage is none (0 of 31 days
    have call data)" and sent the user to load call data that was loaded; it now says the
    month lies outside the licence figures, which months they cover, and what to load."""
    w = World()
    w.event("2026-10-05T00:00:00Z", "D2", "PROVISIONED", user(2), "+15550002")
    w.snapshot("2026-10-20T00:00:00Z", "D2", user(2), "+15550002")
    w.leg("calls_2026-08-01_2026-09-01.csv", "DESK", "2026-08-15T10:00:00Z", user(1), "+1", 30)
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    code, _, err = cdr(settings, "close", "2026-08")
    assert code == EXIT_BAD_INPUT, err
    assert "no licence figures: they run from 2026-10 to 2026-10" in err
    assert "load the device snapshots and activation events" in err
    assert "call data" not in err.split("no licence figures")[0]
