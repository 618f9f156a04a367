"""`cdr report restatements` totals money per currency and never totals a price or the
month's covered days. Hand-built world through the real pipeline (ingest, build, close,
late data); expected figures worked out by hand."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.close import close_month, reopen_month
from cdr_pipeline.reports.export import to_csv, to_text_table
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
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
    settings = w.ingest(tmp_path)
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
    refresh_warehouse(settings)  # the views moved to the new versions, as `cdr ingest` does

    rows = [r for r in restatements(settings).table.to_pylist() if r["report"] == "reconciliation"]
    got = {(r["measure"], r["currency"]): (r["closed_total"], r["current_total"]) for r in rows}
    assert got == {
        ("entitled_units", None): (5.0, 7.0),
        ("entitled_month_end", None): (5.0, 7.0),
        ("variance_units", None): (3.0, 5.0),
        ("unassigned_units", None): (3.0, 5.0),
        ("unassigned_cost", "EUR"): (20.0, 30.0),
        ("unassigned_cost", "USD"): (20.0, 40.0),
        ("idle_cost", "EUR"): (20.0, 30.0),
    }
    assert all(r["rows_changed"] == 2 for r in rows)

    # counts read as counts (5, not 5.0) in a table and a CSV; money keeps its cents
    result = restatements(settings)
    table_lines = to_text_table(result, wide=True).splitlines()
    units = next(x for x in table_lines if "entitled_units" in x).split()
    assert units[-5:-2] == ["5", "7", "2"], units
    cost = next(x for x in table_lines if "unassigned_cost" in x and "USD" in x).split()
    assert cost[-5:-2] == ["20.00", "40.00", "20.00"], cost
    csv_rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    entitled = next(r for r in csv_rows if r["measure"] == "entitled_units")
    assert (entitled["closed_total"], entitled["change"]) == ("5", "2")


def _reconciliation(settings: Settings) -> dict[tuple[str, str | None], tuple[object, ...]]:
    rows = [r for r in restatements(settings).table.to_pylist() if r["report"] == "reconciliation"]
    return {
        (r["measure"], r["currency"]): (
            r["closed_total"],
            r["current_total"],
            r["change"],
            r["closed_unknown_rows"],
            r["current_unknown_rows"],
        )
        for r in rows
        if r["measure"] in ("idle_licences", "idle_cost")
    }


def test_unknown_figures_are_restated_as_unknown_never_as_zero(tmp_path: Path) -> None:
    """Idle figures of a month without full call coverage, and a cost in mixed currencies,
    are unknown: a restatement says so (NULL total and change, a count of unknown rows), not
    that they were 0 or fell to 0."""
    w = World()
    w.held_through_september([("D1", U1, "+15550001", "Sub-1")])  # idle all September
    w.entitlements.append(f"Sub-1,{BYOD},1,2026-01-01,,10.00,USD")
    # the export covers 09-05 onwards: coverage partial, idle figures unknown
    w.leg(
        "calls_2026-09-05_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", U3, "+1555", 30, go=False
    )
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    close_month(settings, "2026-09", force=True, reason="partial coverage, known")

    first_days = tmp_path / "late" / "calls_2026-09-01_2026-09-05.csv"
    first_days.parent.mkdir()
    first_days.write_text(
        "Report ID,Start time,Correlation ID,Direction,Call type\n"
        "EARLY,2026-09-02T10:00:00Z,corr-early,ORIGINATING,SIP_NATIONAL\n",
        encoding="utf-8",
    )
    assert ingest_paths(settings, [first_days]).exit_code == 0
    refresh_warehouse(settings)  # the views moved to the new versions, as `cdr ingest` does
    assert _reconciliation(settings) == {
        ("idle_licences", None): (None, 1.0, None, 1, 0),
        ("idle_cost", "USD"): (None, 10.0, None, 1, 0),
    }

    # closed again with the full month (USD 10 idle); then a EUR price for the same units
    # makes the row's currency mixed: its cost is unknown, not USD 0
    reopen_month(settings, "2026-09", reason="coverage now full")
    close_month(settings, "2026-09")
    eur = tmp_path / "late" / "entitlements_eur.csv"
    eur.write_text(f"{HEADER}\nSub-1,{BYOD},1,2026-09-01,,9.00,EUR\n", encoding="utf-8")
    assert ingest_paths(settings, [eur]).exit_code == 0
    refresh_warehouse(settings)
    assert _reconciliation(settings) == {
        ("idle_cost", "USD"): (10.0, 0.0, -10.0, 0, 0),
        ("idle_cost", None): (0.0, None, None, 0, 1),
    }
