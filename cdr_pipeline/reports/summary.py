"""The one-page monthly finance summary: a self-contained HTML file (inline CSS and one
inline SVG chart, no script, no font or image fetched from anywhere) that prints on one A4
page. Long lists are cut to what fits, and say how many rows the finance pack has.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from cdr_pipeline.reports.export import short_id
from cdr_pipeline.reports.figures import MonthFigures
from cdr_pipeline.reports.overlaps import stored_overlap_note

MAX_SUBSCRIPTION_ROWS = 10
MAX_RECLAIM_ROWS = 10
MAX_ANOMALY_TYPES = 6
NO_CURRENCY = "(no currency)"
"""Where the amounts of entitlements priced without a currency are shown."""

_CSS = """
@page { size: A4 portrait; margin: 12mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
@media screen { body { margin: 6mm; } }
body { font: 8.5pt/1.3 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b2430;
       width: 186mm; }
h1 { font-size: 15pt; margin: 0 0 1mm; }
h2 { font-size: 10pt; margin: 3.5mm 0 1mm; border-bottom: 0.3mm solid #9aa7b8; }
.meta { color: #4a5668; margin: 0 0 2mm; }
.kpis { display: flex; gap: 2mm; margin: 2mm 0; }
.kpi { flex: 1; border: 0.3mm solid #c5cfdc; border-radius: 1.5mm; padding: 1.5mm 2mm; }
.kpi b { display: block; font-size: 12pt; }
.kpi span { color: #4a5668; font-size: 7.5pt; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 0.6mm 1.2mm; border-bottom: 0.2mm solid #dde3ea; text-align: left;
         white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 50mm; }
th { background: #eef2f7; font-weight: 600; }
td.n, th.n { text-align: right; }
.more, .note { color: #4a5668; font-size: 7.5pt; margin: 0.8mm 0 0; }
.warn { color: #a33a00; }
svg text { font: 7pt "DejaVu Sans", Arial, sans-serif; fill: #1b2430; }
"""


def _fmt_int(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def _fmt_money(amounts: dict[str, float | None]) -> str:
    if not amounts:
        return "–"
    parts = []
    for currency, amount in sorted(amounts.items()):
        parts.append(f"{currency} {amount:,.2f}" if amount is not None else f"{currency} unknown")
    return " + ".join(parts)


def _money_by_currency(rows: list[dict[str, Any]], column: str) -> dict[str, float | None]:
    """Sum per currency; None when some row of the currency is unknown (NULL). A row without
    a price (mixed currencies, no entitlement, or entitlements loaded without a unit_price)
    has no cost: it is left out, and the page says so."""
    out: dict[str, float | None] = {}
    for row in rows:
        if row.get("unit_price") is None:
            continue
        # a price loaded without a currency has a cost all the same: kept apart, never
        # added to a currency's total, and the page names such rows
        currency = row.get("currency") or NO_CURRENCY
        value = row.get(column)
        if currency not in out:
            out[currency] = 0.0
        current = out[currency]
        out[currency] = None if value is None or current is None else current + float(value)
    return out


def _table(headers: list[tuple[str, bool]], rows: list[list[str]]) -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if headers[i][1] else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(rows: list[dict[str, Any]]) -> str:
    """Horizontal bars per subscription and licence type: bought as the month ends (what the
    headline adds up) vs held (peak), red where the row is `over` (more held than bought at
    some instant): a subscription whose rows ended in the month bought 0 by its end, and its
    phones held before then are no overrun."""
    rows = rows[:MAX_SUBSCRIPTION_ROWS]
    if not rows:
        return '<p class="note">No subscription held or bought licences this month.</p>'
    top = max(
        [
            1,
            *[_bought(r) for r in rows],
            *[int(r.get("consumed_peak") or 0) for r in rows],
        ]
    )
    label_w, bar_w, row_h = 250, 400, 22
    height = row_h * len(rows) + 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" '
        f'height="{height}" role="img" aria-label="Licences bought and held per subscription">'
    ]
    for i, r in enumerate(rows):
        y = i * row_h
        bought = _bought(r)
        held = int(r.get("consumed_peak") or 0)
        label = f"{r.get('subscription_id') or '(none)'} · {_short_type(r.get('licence_type'))}"
        parts.append(f'<text x="0" y="{y + 13}">{escape(label[:44])}</text>')
        wb = bar_w * bought / top
        wh = bar_w * held / top
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{wb:.1f}" height="8" fill="#9db4d3"/>'
        )
        # a mixed_currency row's status hides whether it was over: its peak against the
        # units it bought then says it
        over = r.get("status") == "over" or (
            r.get("status") == "mixed_currency" and held > int(r.get("entitled_units") or 0)
        )
        colour = "#c0392b" if over else "#2e6fb7"
        parts.append(
            f'<rect x="{label_w}" y="{y + 11}" width="{wh:.1f}" height="8" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{label_w + max(wb, wh) + 4:.1f}" y="{y + 14}">{bought:,} / {held:,}</text>'
        )
    y = row_h * len(rows) + 12
    parts.append(f'<rect x="{label_w}" y="{y - 7}" width="8" height="8" fill="#9db4d3"/>')
    parts.append(f'<text x="{label_w + 11}" y="{y}">bought (month end)</text>')
    parts.append(f'<rect x="{label_w + 100}" y="{y - 7}" width="8" height="8" fill="#2e6fb7"/>')
    parts.append(
        f'<text x="{label_w + 111}" y="{y}">held (peak; red: over, more held than bought '
        "at some instant)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _bought(row: dict[str, Any]) -> int:
    """Units of the row bought as the month ends (`entitled_month_end`): a subscription
    whose rows ended earlier in the month (its phones moved to another) has 0, where its
    `entitled_units` hold what it had until then, and the successor's too. A month closed
    before the report had `entitled_month_end` has only `entitled_units`."""
    column = "entitled_month_end" if "entitled_month_end" in row else "entitled_units"
    return int(row.get(column) or 0)


def _bought_at_month_end(recon: list[dict[str, Any]]) -> int:
    """Units bought as the month ends, over the org: the rows' `_bought` added up (their
    `entitled_units` counted a purchase moved mid-month in both subscriptions)."""
    return sum(_bought(r) for r in recon)


def _bought_text(row: dict[str, Any]) -> str:
    """The table's bought cell: as the month ends, and the units of rows that ended in the
    month before it (`2` bought to the 15th: `0 (2 ended)`)."""
    bought, until = _bought(row), int(row.get("entitled_units") or 0)
    return f"{bought:,}" if until <= bought else f"{bought:,} ({until:,} ended)"


def _short_type(licence_type: Any) -> str:
    text = str(licence_type or "(none)")
    if "Bring Your Own Device" in text:
        return "BYOD"
    if "Mobile" in text:
        return "Mobile"
    return text


def _more(shown: int, total: int, what: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="more">… and {total - shown:,} more {what} in the finance pack.</p>'


def render_summary(figures: MonthFigures) -> str:
    """The summary page of the month as one HTML document."""
    recon = sorted(
        figures.tables["reconciliation"].to_pylist(),
        key=lambda r: (-(r.get("consumed_peak") or 0), str(r.get("subscription_id"))),
    )
    reclaim = sorted(
        figures.tables["reclaim-candidates"].to_pylist(),
        key=lambda r: (-(r.get("days_since") or 0), str(r.get("device_id"))),
    )
    anomalies = figures.tables["anomalies"].to_pylist()
    month = f"{figures.month:%B %Y}"
    # the org's peak at one instant: the rows' peaks fall at different instants, and a unit
    # moved between subscriptions counts in both, so their sum can exceed what was ever held
    held = figures.licences_held_peak
    bought = _bought_at_month_end(recon)
    idle_cost = _money_by_currency(recon, "idle_cost")
    unassigned = _money_by_currency(recon, "unassigned_cost")
    # a subscription whose entitlements in force are in several currencies has no cost:
    # say so, or the totals per currency would leave it out without a word
    mixed = sum(1 for r in recon if r.get("status") == "mixed_currency")
    notes_html = (
        f'<p class="note warn">{mixed:,} subscription row(s) have entitlements in more than one '
        "currency in force (status mixed currency): their idle and unassigned cost are not "
        "in the totals. Correct the entitlements.</p>"
        if mixed
        else ""
    )
    # units held in a subscription nothing was bought for in the month have no price either
    # (in a month without call data too, whose status says no_call_data); their idle count
    # is unknown, never 0, without full call coverage. Such a subscription may have had
    # rows that ended before the month: "none loaded" misread those
    unbought = [r for r in recon if not r.get("entitled_units") and r.get("consumed_peak")]
    if unbought:
        peak = sum(int(r.get("consumed_peak") or 0) for r in unbought)
        idles = [r.get("idle_licences") for r in unbought]
        idle = "idle unknown" if None in idles else f"{sum(int(i or 0) for i in idles):,} idle"
        notes_html += (
            f'<p class="note warn">{len(unbought):,} subscription row(s) hold licences with '
            f"no entitlement in force on any day of the month ({peak:,} held at peak, "
            f"{idle}): without a price, their cost is not in the totals. Load their "
            "entitlements, or renew one that ended.</p>"
        )
    # entitlements in force loaded without a unit_price: bought, but at no known price
    unpriced = sum(
        1
        for r in recon
        if r.get("unit_price") is None
        and r.get("status") != "mixed_currency"
        and int(r.get("entitled_units") or 0) != 0
    )
    if unpriced:
        notes_html += (
            f'<p class="note warn">{unpriced:,} subscription row(s) have entitlements in force '
            "without a unit price: their idle and unassigned cost are not in the totals. Load "
            "their unit_price.</p>"
        )
    uncurrencied = sum(
        1 for r in recon if r.get("unit_price") is not None and not r.get("currency")
    )
    if uncurrencied:
        notes_html += (
            f'<p class="note warn">{uncurrencied:,} subscription row(s) have a unit price '
            f"without a currency: their cost is shown apart, as {NO_CURRENCY}. Load their "
            "currency.</p>"
        )
    overlaps = stored_overlap_note(figures.overlaps, figures.month)
    if overlaps:  # a renewal loaded beside the row it renews: bought twice
        text = overlaps[:1].upper() + overlaps[1:]
        notes_html += f'<p class="note warn">{escape(text)}.</p>'
    coverage_cls = "" if figures.call_coverage == "full" else ' class="warn"'
    outside = figures.outside_text
    if outside:
        # no row of the licence reports reaches the month: what was held or bought then
        # is unknown, not 0 (entitlements in force then are not shown either)
        notes_html = f'<p class="note warn">{escape(outside)}</p>' + notes_html
    kpis = [
        (
            "– / –" if outside else f"{bought:,} / {_fmt_int(held)}",
            "licences bought / held (peak)",
        ),
        (_fmt_money(idle_cost), "idle cost (held, not used)"),
        (_fmt_money(unassigned), "unassigned cost (bought, not held)"),
        (f"{len(reclaim):,}", "reclaim candidates"),
        (f"{len(anomalies):,}", "anomalies"),
    ]
    kpi_html = "".join(
        f"<div class='kpi'><b>{escape(v)}</b><span>{escape(t)}</span></div>" for v, t in kpis
    )
    sub_rows = [
        [
            str(r.get("subscription_id") or "(none)"),
            _short_type(r.get("licence_type")),
            _bought_text(r),
            _fmt_int(r.get("consumed_peak")),
            _fmt_int(r.get("consumed_month_end")),
            _fmt_int(r.get("variance_units")),
            _fmt_int(r.get("idle_licences")),
            _fmt_money({r.get("currency") or NO_CURRENCY: r.get("idle_cost")})
            if r.get("unit_price") is not None
            else "–",
            str(r.get("status") or ""),
        ]
        for r in recon[:MAX_SUBSCRIPTION_ROWS]
    ]
    reclaim_rows = [
        [
            str(short_id(r.get("device_id")) or ""),
            str(r.get("user_email") or r.get("phone_number") or ""),
            str(r.get("location_name") or ""),
            str(r.get("reason") or "").replace("_", " "),
            _fmt_int(r.get("days_since")),
        ]
        for r in reclaim[:MAX_RECLAIM_ROWS]
    ]
    by_type = Counter(str(r.get("anomaly_type")) for r in anomalies).most_common()
    anomaly_text = ", ".join(f"{t.replace('_', ' ')} {n:,}" for t, n in by_type[:MAX_ANOMALY_TYPES])
    horizon = reclaim[0].get("as_of_time") if reclaim else None
    if horizon is None and figures.licence_data is not None:
        # no candidate to read it from (an org without any): the views' own horizon
        horizon = figures.licence_data.horizon
    horizon_text = f" Device data up to {horizon:%Y-%m-%d %H:%M} UTC." if horizon else ""
    # the midnights that cut the month: its last evening is the next month's in UTC, or the
    # reverse
    zone = figures.reporting_timezone
    zone_text = f"month of {zone}" if zone else "time zone of the month not recorded"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Webex Go licences — {escape(month)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Webex Go licences — {escape(month)}</h1>
<p class="meta">{escape(figures.status_text)} · {escape(zone_text)} · call coverage
<span{coverage_cls}>{escape(figures.call_coverage)} ({figures.covered_days} of
{figures.days_in_month} days)</span> · table versions {escape(figures.versions_text() or "none")}
</p>
<div class="kpis">{kpi_html}</div>
{notes_html}
<h2>Bought vs held per subscription</h2>
{"" if outside else _chart(recon)}
{
        _table(
            [
                ("subscription", False),
                ("type", False),
                ("bought (month end)", True),
                ("held (peak)", True),
                ("held (month end)", True),
                ("variance", True),
                ("idle", True),
                ("idle cost", True),
                ("status", False),
            ],
            sub_rows,
        )
    }
{_more(len(sub_rows), len(recon), "subscription rows")}
<h2>Reclaim candidates</h2>
{
        _table(
            [
                ("device", False),
                ("user", False),
                ("location", False),
                ("reason", False),
                ("days", True),
            ],
            reclaim_rows,
        )
        if reclaim_rows
        else '<p class="note">None.</p>'
    }
{_more(len(reclaim_rows), len(reclaim), "candidates")}
<h2>Anomalies</h2>
<p>{len(anomalies):,} Webex Go anomalies this month{
        ": " + escape(anomaly_text) if by_type else "."
    }</p>
<p class="note">Licences held (peak): the most held at one instant of the month, over all
subscriptions{
        "" if held is not None else " (not recorded by this close: reopen and close again)"
    }. Idle figures need call data for every day of the month: with coverage other
than full they are unknown (–), not zero.{escape(horizon_text)} Reclaim candidates are judged
as of the latest device data at the time the figures were made. Definitions: README,
"For finance", and sql/README.md.</p>
</body></html>
"""
