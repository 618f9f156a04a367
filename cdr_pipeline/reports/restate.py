"""`cdr report restatements`: for every closed month, what would change if its finance
reports were recomputed now (late call records, device moves, new entitlements).

Rows are matched on each report's key (a subscription id without regard to case, as the
views match it). A report of a month with a difference gets one row
per numeric column whose total changed (`measure`, `closed_total`, `current_total`,
`change`; money columns per `currency`, never added across currencies), or one row with
`measure` NULL when only rows changed (added, removed, or a text column changed). A total
is of the values known; an unknown value (idle figures of a month without full call
coverage, a cost in mixed currencies) is counted in `closed_unknown_rows` /
`current_unknown_rows`, never added as 0, and a total of unknowns only is NULL, as is its
`change`. Prices
and the month's covered days are not totalled: a sum of them means nothing (a changed
price still shows as a changed row). Unchanged reports give no row. The reclaim list is left out: it
describes the devices as of the latest device data, so a recomputation always moves its
horizon; it is not a figure of the month. The org's peak of licences held at one instant,
which the close keeps for the summary's headline, gets a row of its own (report
`finance-summary`, measure `licences_held_peak`) when it would change: late data can move it
without changing a row of the reports (two subscriptions' units found to overlap). A closed
month whose entitlement rows overlap otherwise than its close noted (`close.json`'s
`overlaps`) is named in the result's note, with the rows that overlap now.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.export import AMOUNT_COLUMNS
from cdr_pipeline.reports.figures import org_peak
from cdr_pipeline.reports.frozen import (
    FINANCE_REPORTS,
    ClosedMonth,
    list_closed,
    read_frozen,
)
from cdr_pipeline.reports.overlaps import overlap_change, overlap_note
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import ReportResult, figure_settings, query_report
from cdr_pipeline.state.ledger import RETENTION_SCHEMA, Ledger
from cdr_pipeline.text import ascii_upper_sql
from cdr_pipeline.warehouse import connect
from cdr_pipeline.warehouse.damage import built_snapshots, naming_damage

log = logging.getLogger(__name__)

RESTATED_REPORTS = tuple(n for n in FINANCE_REPORTS if REPORTS[n].monthly)

SCHEMA = pa.schema(
    [
        ("month", pa.date32()),
        ("report", pa.string()),
        ("closed_at", pa.timestamp("s", tz="UTC")),
        ("rows_closed", pa.int64()),
        ("rows_now", pa.int64()),
        ("rows_added", pa.int64()),
        ("rows_removed", pa.int64()),
        ("rows_changed", pa.int64()),
        ("measure", pa.string()),
        ("currency", pa.string()),
        ("closed_total", pa.float64()),
        ("current_total", pa.float64()),
        ("change", pa.float64()),
        ("closed_unknown_rows", pa.int64()),
        ("current_unknown_rows", pa.int64()),
    ]
)


NOT_TOTALLED = frozenset({"unit_price", "covered_days"})
"""Numeric columns whose total means nothing: a price per licence, and the month's covered
days (the same on every row)."""

Measure = tuple[str, str | None, float | None, float | None, int, int]
"""(column, currency or None, closed total, current total, rows whose value was unknown
when closed, rows whose value is unknown now). A total is of the known values; None when
every row's value is unknown (idle figures without full call coverage, a cost in mixed
currencies): unknown, not zero. A currency without rows totals 0."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


CASE_FOLDED_KEYS = frozenset({"subscription_id"})
"""Key columns the views match without regard to case: a subscription id in any case is one
subscription, spelled as the device data spells it, else as the entitlements do. A spelling
changed by later data (a row of the sheet typed `SUB-9` beside `Sub-9`, which now spells
every month) is the same row, not one removed and one added."""


def _same_key(column: str) -> str:
    f, c = f"f.{_q(column)}", f"c.{_q(column)}"
    if column in CASE_FOLDED_KEYS:
        f, c = ascii_upper_sql(f), ascii_upper_sql(c)
    return f"{f} is not distinct from {c}"


def compare_tables(
    frozen: pa.Table, current: pa.Table, key: tuple[str, ...]
) -> tuple[dict[str, int], list[Measure]]:
    """Row counts (added, removed, changed) and numeric columns whose totals differ (money
    per currency)."""
    common = [c for c in frozen.column_names if c in current.column_names]
    keys = [k for k in key if k in common]
    others = [c for c in common if c not in keys]
    con = duckdb.connect()
    try:
        con.register("frozen_rows", frozen.select(common))
        con.register("current_rows", current.select(common))
        on = " and ".join(_same_key(k) for k in keys) or "false"
        differs = " or ".join(f"f.{_q(c)} is distinct from c.{_q(c)}" for c in others) or "false"
        added, removed, changed = con.execute(
            f"""
            select
                count(*) filter (where f.__present is null),
                count(*) filter (where c.__present is null),
                count(*) filter (where f.__present and c.__present and ({differs}))
            from (select *, true as __present from frozen_rows) as f
            full outer join (select *, true as __present from current_rows) as c on {on}
            """
        ).fetchall()[0]
        numeric = [
            c
            for c in others
            if c not in NOT_TOTALLED
            and (
                pa.types.is_integer(frozen.schema.field(c).type)
                or pa.types.is_floating(frozen.schema.field(c).type)
            )
        ]
        money = [c for c in numeric if c in AMOUNT_COLUMNS] if "currency" in common else []
        measures: list[Measure] = []
        # one query per table and grouping: money per currency, the other columns whole
        for columns, by in (([c for c in numeric if c not in money], "null"), (money, "currency")):
            if not columns:
                continue
            sums = ", ".join(f"sum({_q(c)})::double, count(*) - count({_q(c)})" for c in columns)
            sql = f"select {by}, {sums} from {{}} group by 1"
            before = {r[0]: r[1:] for r in con.execute(sql.format("frozen_rows")).fetchall()}
            after = {r[0]: r[1:] for r in con.execute(sql.format("current_rows")).fetchall()}
            for j, column in enumerate(columns):
                for currency in sorted(before.keys() | after.keys(), key=lambda c: (c is None, c)):
                    old, old_unknown = _total(before.get(currency), j)
                    new, new_unknown = _total(after.get(currency), j)
                    if old != new or old_unknown != new_unknown:
                        measures.append((column, currency, old, new, old_unknown, new_unknown))
        measures.sort(key=lambda m: numeric.index(m[0]))  # in the report's column order
    finally:
        con.close()
    return {"added": added, "removed": removed, "changed": changed}, measures


def _total(group: tuple[Any, ...] | None, j: int) -> tuple[float | None, int]:
    """Column `j`'s total of the known values (None when there are rows but none is known;
    0 without rows) and its count of unknown values, from one row of the totals query."""
    if group is None:
        return 0.0, 0
    total, unknown = group[2 * j], int(group[2 * j + 1])
    return (None if total is None else round(float(total), 6)), unknown


def restatements(settings: Settings, month: date | None = None) -> ReportResult:
    """Per closed month (of `month` only, when given) and finance report, the rows and
    totals a recomputation would change (empty when every such month still holds)."""
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    closes = [c for c in list_closed(settings.layout) if month in (None, c.first_day)]
    con = connect(settings, read_only=True) if closes else None
    try:
        basis = figure_settings(con) if con is not None else {}
        dropped = retention_drops(settings)
        for close in closes:
            if dropped_since_close(dropped, close):
                log.info(
                    "%s: retention dropped call legs of it since its close; its frozen "
                    "figures stand and are not compared",
                    close.month,
                    extra={"month": close.month},
                )
                continue
            if close.settings is not None and close.settings != basis:
                now = ", ".join(f"{k}={v}" for k, v in basis.items())
                log.warning(
                    "%s was closed with %s; the views now use %s: its restatements "
                    "include what the settings move, not only late data",
                    close.month,
                    close.settings_text(),
                    now,
                    extra={"month": close.month},
                )
            for name in RESTATED_REPORTS:
                frozen = read_frozen(settings.layout, close, name)
                assert con is not None
                with naming_damage(lambda: built_snapshots(settings), settings.layout):
                    current = query_report(con, REPORTS[name], close.first_day)
                counts, measures = compare_tables(frozen, current, REPORTS[name].key)
                base = _base(close.first_day, name, close.closed_at, frozen, current, counts)
                if measures:
                    rows.extend(
                        base
                        | {
                            "measure": m,
                            "currency": currency,
                            "closed_total": old,
                            "current_total": new,
                            "change": None if old is None or new is None else round(new - old, 6),
                            "closed_unknown_rows": old_unknown,
                            "current_unknown_rows": new_unknown,
                        }
                        for m, currency, old, new, old_unknown, new_unknown in measures
                    )
                elif any(counts.values()):
                    rows.append(base)
            assert con is not None
            with naming_damage(lambda: built_snapshots(settings), settings.layout):
                peak = _peak_row(con, close)
                overlaps = overlap_change(
                    close.overlaps, overlap_note(con, close.first_day), close.first_day
                )
            if peak is not None:
                rows.append(peak)
            if overlaps:  # a renewal typed as a new row adds units as a top-up does
                notes.append(overlaps)
    finally:
        if con is not None:
            con.close()
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    note = "\n".join(notes)  # a line per month
    return ReportResult("restatements", None, table, time.monotonic() - t0, note=note)


def retention_drops(settings: Settings) -> list[tuple[date, datetime]]:
    """(day, when dropped) of every call-leg partition retention dropped."""
    ledger = Ledger(settings.layout).read("retention", RETENTION_SCHEMA)
    return [
        (date.fromisoformat(part.partition("=")[2]), when)
        for part, when in zip(ledger["partition"], ledger["dropped_at"], strict=True)
    ]


def dropped_since_close(dropped: list[tuple[date, datetime]], close: ClosedMonth) -> bool:
    """Whether retention dropped a day of the closed month after its close (the day before
    its first too: a reporting time zone east of UTC starts the month in it). Recomputed
    from what is left, the month would lose what retention took: not a restatement."""
    first = close.first_day - timedelta(days=1)
    return any(day >= first and when >= close.closed_at for day, when in dropped)


def _peak_row(con: duckdb.DuckDBPyConnection, close: ClosedMonth) -> dict[str, Any] | None:
    """The restatement of the org's peak the close kept (`close.json`, the summary's
    headline), or None when it still holds or the close predates it."""
    if close.licences_held_peak is None:
        return None
    now = org_peak(con, close.first_day)
    if now == close.licences_held_peak:
        return None
    return {
        "month": close.first_day,
        "report": "finance-summary",
        "closed_at": close.closed_at,
        "rows_closed": 1,
        "rows_now": 1,
        "rows_added": 0,
        "rows_removed": 0,
        "rows_changed": 1,
        "measure": "licences_held_peak",
        "currency": None,
        "closed_total": float(close.licences_held_peak),
        "current_total": float(now),
        "change": float(now - close.licences_held_peak),
        "closed_unknown_rows": 0,
        "current_unknown_rows": 0,
    }


def _base(
    month: date,
    name: str,
    closed_at: Any,
    frozen: pa.Table,
    current: pa.Table,
    counts: dict[str, int],
) -> dict[str, Any]:
    return {
        "month": month,
        "report": name,
        "closed_at": closed_at,
        "rows_closed": frozen.num_rows,
        "rows_now": current.num_rows,
        "rows_added": counts["added"],
        "rows_removed": counts["removed"],
        "rows_changed": counts["changed"],
        "measure": None,
        "currency": None,
        "closed_total": None,
        "current_total": None,
        "change": None,
        "closed_unknown_rows": None,
        "current_unknown_rows": None,
    }
