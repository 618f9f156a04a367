"""Headline figures for the demo and the nightly summary."""

from __future__ import annotations

from typing import Any

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect


def headline_figures(settings: Settings) -> dict[str, Any]:
    """Webex Go share of calls, and licences held vs bought, for the last month with data.

    Keys: month (YYYY-MM or None), calls, webex_go_calls, webex_go_share (0..1 or None),
    licences_held_peak, licences_held_month_end, licences_bought, idle_licences, idle_cost
    (by currency)."""
    con = connect(settings, read_only=True)
    try:
        # fetchall, not fetchone: DuckDB 2 keeps a half-read result open on the connection.
        month = con.execute("select max(report_month) from fct_calls").fetchall()[0][0]
        calls = go = 0
        if month is not None:
            counts = con.execute(
                "select count(*), count(*) filter (where has_webex_go_leg) from fct_calls "
                "where report_month = $m",
                {"m": month},
            ).fetchall()[0]
            calls, go = int(counts[0]), int(counts[1])
        rec = con.execute(
            "select coalesce(sum(consumed_peak), 0), coalesce(sum(consumed_month_end), 0), "
            "coalesce(sum(entitled_units), 0), coalesce(sum(idle_licences), 0) "
            "from rpt_licence_reconciliation where month = $m",
            {"m": month},
        ).fetchall()[0]
        costs = con.execute(
            "select currency, round(sum(idle_cost), 2) from rpt_licence_reconciliation "
            "where month = $m and currency is not null group by currency order by currency",
            {"m": month},
        ).fetchall()
    finally:
        con.close()
    peak, month_end, bought, idle = (int(v) for v in rec)
    return {
        "month": month.strftime("%Y-%m") if month is not None else None,
        "calls": calls,
        "webex_go_calls": go,
        "webex_go_share": round(go / calls, 4) if calls else None,
        "licences_held_peak": peak,
        "licences_held_month_end": month_end,
        "licences_bought": bought,
        "idle_licences": idle,
        "idle_cost": {str(cur): float(v) for cur, v in costs},
    }
