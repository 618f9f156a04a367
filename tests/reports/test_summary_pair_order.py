"""The finance summary shows licences bought and held in one order everywhere: its chart read
"bought / held" per subscription while its headline read "held (peak) / bought", so 5 / 3
in one place was 3 / 5 in the other. Bought comes first, as in the reconciliation's
columns (`entitled_units` before `consumed_peak`, variance = bought − held)."""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa

from cdr_pipeline.reports.figures import MonthFigures
from cdr_pipeline.reports.summary import render_summary

BYOD = "Webex Go (Bring Your Own Device)"


def _page() -> str:
    """Sub-1 bought 5 as September ends and held 3 at its peak (1 at month end)."""
    recon = pa.Table.from_pylist(
        [
            {
                "month": date(2026, 9, 1),
                "subscription_id": "Sub-1",
                "licence_type": BYOD,
                "entitled_units": 5,
                "entitled_month_end": 5,
                "consumed_peak": 3,
                "consumed_month_end": 1,
                "variance_units": 2,
                "idle_licences": 0,
                "unit_price": 10.0,
                "currency": "USD",
                "idle_cost": 0.0,
                "unassigned_cost": 40.0,
                "status": "under",
            }
        ]
    )
    empty = pa.Table.from_pylist([])
    figures = MonthFigures(
        month=date(2026, 9, 1),
        tables={"reconciliation": recon, "reclaim-candidates": empty, "anomalies": empty},
        versions={},
        call_coverage="full",
        covered_days=30,
        days_in_month=30,
        licences_held_peak=3,
    )
    return " ".join(render_summary(figures).split())


def test_bought_comes_before_held_in_the_headline_chart_title_and_table() -> None:
    page = _page()
    # the headline: figures and label in the same order
    assert "<b>5 / 3</b><span>licences bought / held (peak)</span>" in page
    # the chart's figures per subscription, and its legend: bought, then held
    assert ">5 / 3</text>" in page
    legend = re.findall(r"<text [^>]*>(bought|held)[^<]*</text>", page)
    assert legend == ["bought", "held"]
    assert "<h2>Bought vs held per subscription</h2>" in page
    # the table per subscription: the bought column, then the held ones
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers[2:5] == ["bought (month end)", "held (peak)", "held (month end)"]
    # nowhere the other order
    assert "held (peak) / bought" not in page and "Held vs bought" not in page
