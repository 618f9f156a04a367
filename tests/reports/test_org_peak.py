"""The finance headline "licences held (peak)" is the most licences held at one instant
over the whole org, not the sum of the subscriptions' peaks (which fall at different
instants, and count a device moved between subscriptions twice). Hand-built world,
expected figures worked out by hand (reporting time zone UTC)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports import headline_figures
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.finance import finance_summary
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
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
    assert "<b>3 / 2</b>" in html
    # the close keeps the peak, and the summary of the closed month reads it from there
    close = close_month(settings, "2026-09")
    manifest = settings.layout.closed_month("2026-09") / "close.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["licences_held_peak"] == 2
    assert close.close.licences_held_peak == 2
    html, figures = finance_summary(settings, "2026-09")
    assert figures.close is not None and "<b>3 / 2</b>" in html


def test_restatements_show_a_late_change_of_the_closed_headline_peak(tmp_path: Path) -> None:
    """The close keeps the org's peak for the summary's headline; late data that moves it
    is a restatement, even when no row of the four reports changes. DA (Sub-1) is held
    until 09-05 13:00 and DB (Sub-2), first seen in a snapshot at 15:00, from then on: one
    licence at a time. A late PROVISIONED event dates DB from 12:00, an hour with both:
    the org's peak goes from 1 to 2, while each subscription's peak stays 1 and every
    licence-day stays on the same day."""
    w = World()
    w.snapshot("2026-09-01T12:00:00Z", "DA", U1, "+15550001")
    w.event("2026-09-05T13:00:00Z", "DA", "DELETED", U1, "+15550001")
    w.snapshot("2026-09-05T15:00:00Z", "DB", U2, "+15550002", subscription="Sub-2")
    w.snapshot("2026-10-02T12:00:00Z", "DB", U2, "+15550002", subscription="Sub-2")
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+1555", 30, go=False
    )
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    assert close_month(settings, "2026-09").close.licences_held_peak == 1

    late = World()
    late.event("2026-09-05T12:00:00Z", "DB", "PROVISIONED", U2, "+15550002", subscription="Sub-2")
    assert ingest_paths(settings, [late.write(tmp_path / "late")]).exit_code == 0
    refresh_warehouse(settings)  # the views moved to the new versions, as `cdr ingest` does

    rows = restatements(settings).rows()
    peak = [r for r in rows if r["measure"] == "licences_held_peak"]
    assert len(peak) == 1, rows
    assert peak[0]["month"] == date(2026, 9, 1) and peak[0]["report"] == "finance-summary"
    assert (peak[0]["closed_total"], peak[0]["current_total"], peak[0]["change"]) == (1, 2, 1)
    # the four reports themselves do not move
    assert {r["report"] for r in rows} == {"finance-summary"}


def test_a_purchase_moved_between_subscriptions_is_bought_once(tmp_path: Path) -> None:
    """Sub-A bought 2 units to 09-15 and Sub-B 2 from 09-16; D1 and D2 move from one to
    the other at midnight between. Each row reads 2 units bought (Sub-A on its last day in
    force), but the org never bought more than 2 at once: the headline's "bought" is what
    was bought as the month ends, 2. Adding the rows' entitled_units said 4."""
    w = World()
    w.entitlements.append(f"Sub-A,{BYOD},2,2026-01-01,2026-09-15,10.00,USD")
    w.entitlements.append(f"Sub-B,{BYOD},2,2026-09-16,,10.00,USD")
    for device, uid, number in (("D1", U1, "+15550001"), ("D2", U2, "+15550002")):
        w.event("2026-08-15T00:00:00Z", device, "PROVISIONED", uid, number, subscription="Sub-A")
        w.snapshot("2026-09-01T00:00:00Z", device, uid, number, subscription="Sub-A")
        w.snapshot("2026-09-16T00:00:00Z", device, uid, number, subscription="Sub-B")
        w.snapshot("2026-10-01T06:00:00Z", device, uid, number, subscription="Sub-B")
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+1555", 30, go=False
    )
    con = w.build(tmp_path)
    rows = records(
        con,
        "select subscription_id, entitled_units, entitled_month_end "
        "from rpt_licence_reconciliation where month = date '2026-09-01' order by 1",
    )
    assert rows == [
        {"subscription_id": "Sub-A", "entitled_units": 2, "entitled_month_end": 0},
        {"subscription_id": "Sub-B", "entitled_units": 2, "entitled_month_end": 2},
    ]
    con.close()

    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)
    headline = headline_figures(settings)
    assert (headline["licences_held_peak"], headline["licences_bought"]) == (2, 2)
    html, _ = finance_summary(settings, "2026-09")
    assert "<b>2 / 2</b>" in html
    # the chart and the table per subscription tell the headline's story: bought as the
    # month ends (Sub-A 0, Sub-B 2: 2 in all), Sub-A's 2 until the 15th said as ended, and
    # neither red (matched: never more held than bought); they showed 2 and 2 bought
    assert '">0 / 2</text>' in html and '">2 / 2</text>' in html
    assert "#c0392b" not in html
    assert '<td class="n">0 (2 ended)</td>' in html
    close_month(settings, "2026-09")
    html, figures = finance_summary(settings, "2026-09")
    assert figures.close is not None and "<b>2 / 2</b>" in html
