"""Headline figures for the demo and the nightly summary."""

from __future__ import annotations

import math
from typing import Any

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.figures import org_peak
from cdr_pipeline.reports.licence_span import licence_data, outside_text
from cdr_pipeline.reports.summary import NO_CURRENCY
from cdr_pipeline.warehouse import connect


def headline_figures(settings: Settings) -> dict[str, Any]:
    """Webex Go share of calls, and licences bought vs held, for the last month with data.

    Keys: month (YYYY-MM or None), calls, webex_go_calls, webex_go_share (0..1 or None),
    licences_held_peak (the most held at one instant, over all subscriptions and licence
    types), licences_held_month_end, licences_bought (units bought as the month ends: a
    purchase moved to another subscription mid-month counts once), idle_licences, idle_cost
    (by currency; the cost of rows priced without a currency under "(no currency)", as the
    finance summary shows it; cost_note says which rows no currency's total holds:
    entitlements in force without a unit_price or in several currencies, else "").
    idle_licences and a currency's idle_cost are None when the
    month does not have call data for every day (the idle figures are unknown then). Of a
    month outside the
    device data (calls loaded past its horizon), the licence figures are None and
    licence_note says why: nothing held or bought is known then, not 0."""
    con = connect(settings, read_only=True)
    try:
        # One pass over each view (both are computed on every read). fetchall, not fetchone:
        # DuckDB 2 keeps a half-read result open on the connection.
        last_month = con.execute(
            "select report_month, count(*), count(*) filter (where has_webex_go_leg) "
            "from fct_calls where report_month is not null "
            "group by report_month order by report_month desc limit 1"
        ).fetchall()
        month, calls, go = last_month[0] if last_month else (None, 0, 0)
        # a row priced without a currency is costed apart, as the finance summary shows it:
        # grouped with the rows of no currency at all (no price), its cost was dropped
        by_currency = con.execute(
            "select case when currency is null and unit_price is not null then $none "
            "else currency end as money_in, "
            "sum(consumed_month_end), sum(entitled_month_end), sum(idle_licences), "
            "round(sum(idle_cost), 2) "
            "from rpt_licence_reconciliation where month = $m group by money_in order by money_in",
            {"m": month, "none": NO_CURRENCY},
        ).fetchall()
        # rows whose cost no currency's total holds though units were bought: entitlements
        # in force without a unit_price, or in several currencies (the summary's notes)
        ((unpriced, mixed),) = con.execute(
            "select count(*) filter (where unit_price is null and status <> 'mixed_currency' "
            "and coalesce(entitled_units, 0) <> 0), "
            "count(*) filter (where status = 'mixed_currency') "
            "from rpt_licence_reconciliation where month = $m",
            {"m": month},
        ).fetchall()
        # the org's peak at one instant, not the sum of the subscriptions' peaks
        peak: int | None = org_peak(con, month) if month is not None else 0
        note = outside_text(month, licence_data(con)) if month is not None else ""
    finally:
        con.close()
    month_end, bought, idle = (_total([r[i] for r in by_currency]) for i in range(1, 4))
    if note:  # the licence reports have no row of the month: unknown, not 0 held or bought
        peak = month_end = bought = idle = None
    return {
        "month": month.strftime("%Y-%m") if month is not None else None,
        "calls": int(calls),
        "webex_go_calls": int(go),
        "webex_go_share": share(go, calls),
        "licences_held_peak": peak,
        "licences_held_month_end": month_end,
        "licences_bought": bought,
        "idle_licences": idle,
        # None when the month lacks call data for some day: its idle figures are unknown
        "idle_cost": {
            str(r[0]): (float(r[4]) if r[4] is not None else None)
            for r in by_currency
            if r[0] is not None
        },
        "licence_note": note,
        "cost_note": _cost_note(int(unpriced), int(mixed)),
    }


def _cost_note(unpriced: int, mixed: int) -> str:
    """Why idle_cost leaves bought units out, as the finance summary's notes say: without
    it a currency's total read as the month's whole idle cost."""
    notes = []
    if unpriced:
        notes.append(
            f"{unpriced:,} subscription row(s) have entitlements in force without a unit "
            "price: their idle cost is not in idle_cost; load their unit_price"
        )
    if mixed:
        notes.append(
            f"{mixed:,} subscription row(s) have entitlements in more than one currency in "
            "force: their idle cost is not in idle_cost; correct the entitlements"
        )
    return "; ".join(notes)


def _total(values: list[Any]) -> int | None:
    """Sum of the values, or None when one is unknown (NULL)."""
    if any(v is None for v in values):
        return None
    return sum(int(v) for v in values)


def share(part: int, whole: int) -> float | None:
    """`part / whole` rounded half up to four decimals, as by hand and as the
    webex-go-adoption report rounds it: 3 of 160 is 0.0188. Python's round(0.01875, 4) gives
    0.0187 (the double nearest 0.01875 lies below it); part * 10000 / whole is a tie only
    when it is exactly k + 0.5, which a double holds."""
    return math.floor(part * 10000 / whole + 0.5) / 10000 if whole else None
