"""The finance headline "licences held (peak)" is the most licences held at one instant
over the whole org, not the sum of the subscriptions' peaks (which fall at different
instants, and count a device moved between subscriptions twice). Hand-built world,
expected figures worked out by hand (reporting time zone UTC)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import headline_figures
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.finance import finance_summary
from cdr_pipeline.warehouse import build_warehouse
from tests.warehouse.finance_world import BYOD, World, records, user

U1, U2, U3 = user(1), user(2), user(3)


def _world() -> World:
    """D1 and D2 held in Sub-1 all September; D1 moves to Sub-2 on 09-15 06:00. Sub-1's
    peak is 2 (before the move), Sub-2's is 1 (after it): their sum, 3, was never held."""
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.event("2026-08-15T00:00:00Z", "D2", "PROVISIONED", U2, "+15550002")
    w.snapshot("2026-09-01T06:00:00Z", "D1", U1, "+15550001")
    w.snapshot("2026-09-01T06:00:00Z", "D2", U2, "+15550002")
    w.snapshot("2026-09-15T06:00:00Z", "D1", U1, "+15550001", subscription="Sub-2")
    w.snapshot("2026-09-15T06:00:00Z", "D2", U2, "+15550002")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001", subscription="Sub-2")
    w.snapshot("2026-10-01T06:00:00Z", "D2", U2, "+15550002")
    w.entitle("Sub-1", BYOD, 2, "10.00")
    w.entitle("Sub-2", BYOD, 1, "10.00")
    # a September export (declared range) with one desk-phone leg: full coverage
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+1555", 30, go=False
    )
    return w


def test_the_headline_peak_is_held_at_one_instant(tmp_path: Path) -> None:
    con = _world().build(tmp_path)
    peaks = records(
        con,
        "select subscription_id, consumed_peak from rpt_licence_reconciliation "
        "where month = date '2026-09-01' order by subscription_id",
    )
    assert [(p["subscription_id"], p["consumed_peak"]) for p in peaks] == [
        ("Sub-1", 2),
        ("Sub-2", 1),
    ]
    org = records(con, "select * from rpt_licence_peak_monthly where month = date '2026-09-01'")
    assert org == [{"month": date(2026, 9, 1), "licences_held_peak": 2}]
    con.close()

    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)
    headline = headline_figures(settings)
    assert headline["month"] == "2026-09"
    assert (headline["licences_held_peak"], headline["licences_bought"]) == (2, 3)

    html, figures = finance_summary(settings, "2026-09")
    assert figures.licences_held_peak == 2
    assert "<b>2 / 3</b>" in html
    # the close keeps the peak, and the summary of the closed month reads it from there
    close = close_month(settings, "2026-09")
    manifest = settings.layout.closed_month("2026-09") / "close.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["licences_held_peak"] == 2
    assert close.close.licences_held_peak == 2
    html, figures = finance_summary(settings, "2026-09")
    assert figures.close is not None and "<b>2 / 3</b>" in html
