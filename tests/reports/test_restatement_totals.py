"""`cdr report restatements` totals money per currency and never totals a price or the
month's covered days. Hand-built world through the real pipeline (ingest, build, close,
late data); expected figures worked out by hand."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.warehouse import build_warehouse
from tests.warehouse.finance_world import BYOD, World, user

U1, U2, U3 = user(1), user(2), user(3)
HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency"


def test_money_is_restated_per_currency_and_prices_are_not_totalled(tmp_path: Path) -> None:
    w = World()
    # one activated device per subscription, held all September, no Webex Go call
    w.held_through_september([("D1", U1, "+15550001", "Sub-1"), ("D2", U2, "+15550002", "Sub-2")])
    w.entitlements += [
        f"Sub-1,{BYOD},3,2026-01-01,,10.00,USD",
        f"Sub-2,{BYOD},2,2026-01-01,,20.00,EUR",
    ]
    w.leg(
        "calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+1555", 30, go=False
    )
    w.build(tmp_path).close()
    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)
    # closed: Sub-1 unassigned 2 x 10 = USD 20, idle 1 x 10 = USD 10;
    #         Sub-2 unassigned 1 x 20 = EUR 20, idle 1 x 20 = EUR 20
    close_month(settings, "2026-09")

    # late corrections (same keys): Sub-1 bought 5 units (unassigned 4 x 10 = USD 40),
    # Sub-2's price is 30 (unassigned 1 x 30 = EUR 30, idle 1 x 30 = EUR 30)
    late = tmp_path / "late" / "entitlements_correction.csv"
    late.parent.mkdir()
    late.write_text(
        f"{HEADER}\nSub-1,{BYOD},5,2026-01-01,,10.00,USD\nSub-2,{BYOD},2,2026-01-01,,30.00,EUR\n",
        encoding="utf-8",
    )
    assert ingest_paths(settings, [late]).exit_code == 0
    build_warehouse(settings)

    rows = [r for r in restatements(settings).table.to_pylist() if r["report"] == "reconciliation"]
    got = {(r["measure"], r["currency"]): (r["closed_total"], r["current_total"]) for r in rows}
    assert got == {
        ("entitled_units", None): (5.0, 7.0),
        ("variance_units", None): (3.0, 5.0),
        ("unassigned_units", None): (3.0, 5.0),
        ("unassigned_cost", "EUR"): (20.0, 30.0),
        ("unassigned_cost", "USD"): (20.0, 40.0),
        ("idle_cost", "EUR"): (20.0, 30.0),
    }
    assert all(r["rows_changed"] == 2 for r in rows)
