"""Run a named report over `cdr.duckdb` and get a `ReportResult` back."""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_USAGE, CdrError, InputError
from cdr_pipeline.reports.frozen import (
    FINANCE_REPORTS,
    closes_recomputed,
    list_closed,
    read_close,
    read_frozen,
)
from cdr_pipeline.reports.frozen_tier import frozen_for_tier, frozen_spellings
from cdr_pipeline.reports.licence_span import licence_data, outside_text
from cdr_pipeline.reports.overlaps import overlap_note, stored_overlap_note
from cdr_pipeline.reports.registry import REPORTS, Report
from cdr_pipeline.reports.unknown_minutes import UNKNOWN_GO_RECORDS, unknown_go_note
from cdr_pipeline.warehouse import connect, connect_as_of, resolve_tier
from cdr_pipeline.warehouse.damage import built_snapshots, naming_damage
from cdr_pipeline.warehouse.snapshots import AsOfArg, table_snapshots

log = logging.getLogger(__name__)

LICENCE_REPORTS = ("licence-usage", "reconciliation")
"""The reports with a row per month of the licence data only (`fct_licence_months`)."""
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ReportUsageError(CdrError):
    """A report was asked for in a way it cannot be run (unknown name, month not applicable)."""

    exit_code = EXIT_USAGE


@dataclass
class ReportResult:
    name: str
    month: date | None
    table: pa.Table
    seconds: float
    closed_at: datetime | None = None
    """When the month was closed, for an answer from its frozen figures (else None)."""
    versions: dict[str, int] = field(default_factory=dict)
    """The table versions of the frozen figures (empty for a computed answer)."""
    frozen_months: tuple[str, ...] = ()
    """Of a finance report of every month: the closed months (`YYYY-MM`) whose rows are
    their frozen figures, not computed now."""
    note: str = ""
    """What `cdr report` says of the result on stderr (`_note`; of a closed month's
    reconciliation, the overlap note its close stored)."""
    computed_closes: dict[str, datetime] = field(default_factory=dict)
    """Of a finance report computed with `current` or `as_of`: the closed months (`YYYY-MM`
    -> when closed) it answers for whose rows are computed, not their frozen figures."""

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)

    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "month": self.month,
            "columns": self.columns,
            "row_count": self.row_count,
            "seconds": self.seconds,
            "closed_at": self.closed_at,
            "versions": self.versions,
            "frozen_months": list(self.frozen_months),
            "note": self.note,
            "computed_closes": self.computed_closes,
            "rows": self.rows(),
        }


def parse_month(text: str | date | None) -> date | None:
    """`YYYY-MM` -> first day of that month. Raises InputError (exit 3) on anything else.
    A date or a datetime gives its month's first day: a datetime kept its time of day, and
    the month variable set to that instant left the month's earlier legs out."""
    if text is None:
        return None
    if isinstance(text, date):
        year, number = text.year, text.month
    else:
        match = _MONTH_RE.match(text.strip())
        if not match:
            raise InputError(
                f"bad month {text!r}: expected YYYY-MM",
                hint="for example 2026-10 (October 2026)",
            )
        year, number = int(match.group(1)), int(match.group(2))
    if not 1 <= year <= 9999 or (year, number) == (9999, 12):
        # a month is cut up to the first day of the next: year 0 is no calendar year and
        # 9999-12 ends on a day no date reaches (both ended in an unexpected error, exit 1)
        raise InputError(
            f"bad month {text!r}: expected YYYY-MM from 0001-01 to 9999-11",
            hint="for example 2026-10 (October 2026)",
        )
    return date(year, number, 1)


FINANCE_OUTPUTS = {
    "restatements": "reports.restate.restatements(settings)",
    "finance-pack": "reports.finance.finance_pack(settings, month, out)",
    "finance-summary": "reports.finance.finance_summary(settings, month)",
}
"""Names `cdr report` answers besides the registry's (finance outputs of their own), and
the function that makes each from Python."""


def find_report(name: str) -> Report:
    """The named report, or a usage error that suggests the closest name."""
    report = REPORTS.get(name)
    if name in FINANCE_OUTPUTS:  # listed by `cdr report --list`, but not one query
        raise ReportUsageError(
            f"{name!r} is not a table report: run_report answers the others of cdr report --list",
            hint=f"from Python: cdr_pipeline.{FINANCE_OUTPUTS[name]}; from the shell: "
            f"cdr report {name}",
        )
    if report is None:
        names = [*REPORTS, *FINANCE_OUTPUTS]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        raise ReportUsageError(
            f"unknown report {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
            hint=f"one of: {', '.join(names)} (cdr report --list)",
        )
    return report


REPORT_MONTH_VARIABLE = "cdr_report_month"
"""The DuckDB session variable naming the month a report is run for (`in_report_days` in
`sql/_macros.sql`): the views that read call legs then read that month's days only."""
CALL_DAYS_VARIABLES = ("cdr_report_legs_from", "cdr_report_legs_to")
"""The first and last UTC day holding a leg of a call of that month: what a report that
reads legs by their call (webex-go-adoption) reads."""


@contextmanager
def month_scope(
    con: duckdb.DuckDBPyConnection, first_day: date | None, *, call_days: bool = False
) -> Iterator[None]:
    """Within the block, the views and reports on `con` read only the call legs a report of
    the month starting `first_day` needs (every month when None): DuckDB folds the variables
    into each plan, so the scans skip the other months' files. `call_days` sets the days of
    the month's calls as well (a query on `fct_calls`, which a time-travel connection
    computes whole: only for a report that reads legs by their call)."""
    if first_day is None:
        yield
        return
    values = {REPORT_MONTH_VARIABLE: first_day}
    if call_days:
        values.update(zip(CALL_DAYS_VARIABLES, _calls_days(con, first_day), strict=True))
    try:
        for name, value in values.items():
            con.execute(f"set variable {name} = date '{value.isoformat()}'")
        yield
    finally:
        for name in values:
            con.execute(f"reset variable {name}")


def _calls_days(con: duckdb.DuckDBPyConnection, first_day: date) -> tuple[date, date]:
    """The first and last UTC day holding a leg of a call of the month (a leg starts between
    its call's first start and last release); an empty range when the month has no call."""
    ((low, high),) = con.execute(
        """select
            min(cast(timezone('UTC', first_start_time) as date)),
            max(cast(timezone('UTC', last_release_time) as date))
        from fct_calls where report_month = $month""",
        {"month": first_day},
    ).fetchall()
    if low is None:
        return first_day, first_day - timedelta(days=1)
    return low, high


def report_statement(
    report: Report, first_day: date | None, tier: str = "full"
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters that run `report` for `first_day`'s month (all months when
    None), sorted by the report's key."""
    order = ", ".join(f"{c} nulls first" for c in report.key)
    query = report.sql_for(tier)
    params: dict[str, Any] = {"month": first_day} if "$month" in query else {}
    return f"select * from ({query}) as report order by {order}", params


def query_report(
    con: duckdb.DuckDBPyConnection, report: Report, first_day: date | None, tier: str = "full"
) -> pa.Table:
    """Run `report` on a connection that has the views of `tier`, sorted by the report's
    key; a monthly report of one month reads only the call legs that month needs."""
    month = first_day if report.monthly else None
    try:
        sql, params = report_statement(report, month, tier)
        with month_scope(con, month, call_days=CALL_DAYS_VARIABLES[0] in sql):
            return con.sql(sql, params=params).to_arrow_table()
    except duckdb.CatalogException as exc:
        raise InputError(
            f"report {report.name!r} needs a view the warehouse does not have: {exc}",
            hint="run `cdr build` to recreate the views",
        ) from exc


def unknown_talk_note(con: duckdb.DuckDBPyConnection, calls: str, first_day: date | None) -> str:
    """Says how many of the calls a report's talk minutes sum (`calls`, of the month or of
    every month) have answered legs without a Duration: the sums leave them out (unknown,
    never 0; docs/webex-dch.md), and a reader would take them for complete."""
    with month_scope(con, first_day, call_days=False):
        count = con.execute(
            f"select count(*) from fct_calls where has_unknown_talk and ({calls}) "
            "and ($month::date is null or report_month = $month::date)",
            {"month": first_day},
        ).fetchone()
    unknown = int(count[0]) if count else 0
    if not unknown:
        return ""
    return (
        f"talk_minutes leaves out {unknown:,} answered call(s) with a leg of unknown "
        "duration (no Duration in the data): the figures are the known talk time only"
    )


def _note(con: duckdb.DuckDBPyConnection, report: Report, first_day: date | None, rows: int) -> str:
    """What `cdr report` says of the result on stderr: why a licence report of a month has
    no row, that entitlement rows overlap, or that talk or Webex Go minutes leave out calls
    or records of unknown duration."""
    if first_day is not None and rows == 0 and report.name in LICENCE_REPORTS:
        return outside_text(first_day, licence_data(con))
    if report.name == "reconciliation":  # entitlement rows whose units add up
        return overlap_note(con, first_day)
    if report.name in UNKNOWN_GO_RECORDS:
        by_call = CALL_DAYS_VARIABLES[0] in UNKNOWN_GO_RECORDS[report.name]
        with month_scope(con, first_day, call_days=by_call):
            return unknown_go_note(con, report.name, first_day)
    if report.talk_of is not None:
        return unknown_talk_note(con, report.talk_of, first_day)
    return ""


def run_report(
    settings: Settings,
    name: str,
    month: str | date | None = None,
    *,
    as_of: AsOfArg | None = None,
    current: bool = False,
) -> ReportResult:
    """Run report `name` (see `REPORTS`), optionally for one month (`YYYY-MM`). For a closed
    month (`cdr close`) a finance report answers from the figures frozen at the close
    (`closed_at` says when) unless `current` asks to recompute; of every month (no
    `month`), its closed months' rows are their frozen figures (`frozen_months`). `as_of`
    (a call_legs version or a moment) answers from the tables as they were then, through
    views built in memory over that version's files; by default the report reads
    `cdr.duckdb`."""
    report = find_report(name)
    first_day = parse_month(month)
    t0 = time.monotonic()
    recomputed = as_of is not None or current
    computed_closes = closes_recomputed(
        settings.layout, report.name, report.monthly, first_day, recomputed
    )
    if first_day is not None and as_of is None and not current and name in FINANCE_REPORTS:
        close = read_close(settings.layout, first_day)
        if close is not None:
            tier = resolve_tier(report.tier, warehouse=settings.warehouse)
            table = frozen_for_tier(settings, read_frozen(settings.layout, close, name), tier)
            seconds = time.monotonic() - t0
            when = close.closed_at.isoformat()
            log.info("report %s for %s: frozen at the close of %s", name, close.month, when)
            # the note its close stored, as the open month's is shown (rows that overlap)
            note = (
                stored_overlap_note(close.overlaps, first_day) if name == "reconciliation" else ""
            )
            return ReportResult(
                name, first_day, table, seconds, close.closed_at, close.versions, note=note
            )
    if first_day is not None and not report.monthly:
        if current:
            first_day = None  # --current of a closed month's frozen list: the list now
        elif as_of is not None and read_close(settings.layout, first_day) is not None:
            first_day = None  # as_of computes, as --current does: the list then
    if first_day is not None and not report.monthly:
        raise ReportUsageError(
            f"report {name!r} is not monthly: it describes the data as of its latest "
            "observation, so --month does not apply (except to a closed month, whose "
            "frozen list it shows)",
            hint=f"run `cdr report {name}` without --month",
        )
    tier = resolve_tier(report.tier, warehouse=settings.warehouse)
    # a table file the views read that was overwritten in place: exit 6 naming it
    with naming_damage(
        (lambda: built_snapshots(settings))
        if as_of is None
        else (lambda: table_snapshots(settings, as_of).values()),
        settings.layout,
    ):
        if as_of is None:
            con = connect(settings, read_only=True, tier=tier)
        else:
            con = connect_as_of(settings, as_of, tier=tier)
        with_frozen = first_day is None and as_of is None and not current
        with_frozen = with_frozen and name in FINANCE_REPORTS and report.monthly
        note = ""
        try:
            table = query_report(con, report, first_day, tier)
            basis = figure_settings(con) if with_frozen else {}
            # on this connection: a second one would repeat its warnings (views behind)
            note = _note(con, report, first_day, table.num_rows)
        finally:
            con.close()
    frozen: tuple[str, ...] = ()
    if with_frozen:
        table, frozen = _with_frozen_months(settings, report, table, basis, tier)
    seconds = time.monotonic() - t0
    log.info(
        "report %s%s: %d rows in %.2fs",
        name,
        f" for {first_day:%Y-%m}" if first_day else "",
        table.num_rows,
        seconds,
        extra={
            "report": name,
            "month": f"{first_day:%Y-%m}" if first_day else None,
            "rows_read": table.num_rows,
            "seconds": round(seconds, 3),
        },
    )
    return ReportResult(
        name,
        first_day,
        table,
        seconds,
        frozen_months=frozen,
        note=note,
        computed_closes=computed_closes,
    )


def figure_settings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The settings the views on `con` compute the figures with (`cfg_settings`)."""
    cur = con.execute("select reporting_timezone, code_expiry_days, idle_days from cfg_settings")
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone() or (), strict=True))


def _with_frozen_months(
    settings: Settings, report: Report, table: pa.Table, basis: dict[str, Any], tier: str
) -> tuple[pa.Table, tuple[str, ...]]:
    """`table` (a monthly finance report of every month, computed now with the settings
    `basis`) with the rows of each closed month replaced by its frozen figures, sorted by the
    report's key as the query sorts (nulls first): a closed month says the same with or
    without --month. Closed months cut with other settings (the reporting time zone changed
    since) are named in a warning: their rows and the computed ones do not add up."""
    closes = list_closed(settings.layout)
    if not closes:
        return table, ()
    other = [c for c in closes if c.settings is not None and c.settings != basis]
    for cut_with in sorted({c.settings_text() for c in other}):
        months = [c.month for c in other if c.settings_text() == cut_with]
        log.warning(
            "%s: %s closed with %s; the other months are computed with %s: months cut "
            "with different settings do not add up (days at their boundaries count in "
            "both or in neither); reopen and close them again, or build with their settings",
            report.name,
            ", ".join(months),
            cut_with,
            ", ".join(f"{k}={v}" for k, v in basis.items()),
        )
    closed_days = pa.array([c.first_day for c in closes], pa.date32())
    keep = pc.invert(pc.is_in(table.column("month"), value_set=closed_days))
    frozen = [
        frozen_for_tier(settings, read_frozen(settings.layout, c, report.name), tier)
        for c in closes
    ]
    computed = frozen_spellings(table.filter(pc.fill_null(keep, True)), frozen)
    merged = pa.concat_tables([computed, *frozen], promote_options="permissive")
    order = pc.sort_indices(merged, sort_keys=[(k, "ascending", "at_start") for k in report.key])
    return merged.take(order), tuple(c.month for c in closes)
