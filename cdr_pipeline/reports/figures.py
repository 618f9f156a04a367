"""The finance figures of one month, from one set of table versions: frozen (a closed
month) or computed now over pinned versions. The close, the workbook and the one-page
summary all read them here, so the three always agree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.close_hold import runs_text
from cdr_pipeline.reports.frozen import FINANCE_REPORTS, ClosedMonth, read_close, read_frozen
from cdr_pipeline.reports.frozen_tier import frozen_for_tier
from cdr_pipeline.reports.licence_span import LicenceData, licence_data, outside_text
from cdr_pipeline.reports.overlaps import overlap_note
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import figure_settings, parse_month, query_report
from cdr_pipeline.warehouse import connect, connect_snapshots, resolve_tier
from cdr_pipeline.warehouse.damage import naming_damage, version_snapshots
from cdr_pipeline.warehouse.signature import check_views_here
from cdr_pipeline.warehouse.snapshots import AsOfArg, resolve_time, table_snapshots


@dataclass
class MonthFigures:
    month: date
    """First day of the month."""
    tables: dict[str, pa.Table]
    """Finance report name -> its rows for the month (reclaim: the list as of the data)."""
    versions: dict[str, int]
    call_coverage: str
    covered_days: int
    days_in_month: int
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    close: ClosedMonth | None = None
    """The close the figures come from (None: computed at `made_at`)."""
    recomputed: ClosedMonth | None = None
    """The close of a closed month whose figures were recomputed (`current`, or `as_of` a
    moment): computed, they are not the frozen figures, and the month is closed all the
    same."""
    licences_held_peak: int | None = None
    """Most licence units of the org held at one instant of the month
    (`rpt_licence_peak_monthly`); None for a month closed before closes recorded it."""
    as_of: datetime | None = None
    """The moment whose table versions the figures were computed from (`--as-of`); None:
    the latest versions, or the close."""
    settings: dict[str, Any] | None = None
    """The settings the figures were cut with (`cfg_settings`; of a closed month, those its
    close recorded); None for a month closed before closes recorded them."""
    licence_data: LicenceData | None = None
    """The months the licence reports cover and the device data horizon, when the figures
    were computed (None: frozen by a close, which had its own)."""
    overlaps: str | None = ""
    """The entitlement rows of the month whose ranges overlap, whose units the figures add
    up (`overlaps.overlap_note`; '' when none do; of a closed month, the note its close
    stored; None: a close made before closes stored it)."""

    @property
    def outside_text(self) -> str:
        """What to say of a month outside the months the licence reports cover; '' for a
        month inside them, or frozen by a close."""
        return "" if self.licence_data is None else outside_text(self.month, self.licence_data)

    @property
    def reporting_timezone(self) -> str | None:
        """The time zone whose midnights cut the month and its days (None: not recorded)."""
        zone = (self.settings or {}).get("reporting_timezone")
        return None if zone is None else str(zone)

    @property
    def status_text(self) -> str:
        if self.as_of is not None:
            # of a closed month, as of a moment after its close the figures can differ
            # from the frozen ones: without a word the page read as the month's figures
            closed = (
                ""
                if self.recomputed is None
                else f"; closed on {self.recomputed.closed_at:%Y-%m-%d %H:%M} UTC, not the "
                "frozen figures"
            )
            return (
                f"as of {self.as_of:%Y-%m-%d %H:%M:%S} UTC "
                f"(computed {self.made_at:%Y-%m-%d %H:%M} UTC){closed}"
            )
        if self.close is None and self.recomputed is not None:
            # the month is closed: a page saying "open" read as if it had not been
            return (
                f"closed on {self.recomputed.closed_at:%Y-%m-%d %H:%M} UTC; recomputed "
                f"{self.made_at:%Y-%m-%d %H:%M} UTC, not the frozen figures"
            )
        if self.close is None:
            return f"open (computed {self.made_at:%Y-%m-%d %H:%M} UTC)"
        forced = f"; forced: {self.close.reason}" if self.close.forced else ""
        return f"closed on {self.close.closed_at:%Y-%m-%d %H:%M} UTC{forced}"

    def versions_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.versions.items()))


def days_in(first_day: date) -> int:
    return ((first_day + timedelta(days=32)).replace(day=1) - first_day).days


def pinned_connection(
    settings: Settings, as_of: AsOfArg | None = None, tier: str = "full"
) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    """An in-memory DuckDB with every view over the latest version of each table (or the
    versions current `as_of`), and those versions: every query on it sees one snapshot,
    whatever a writer does meanwhile."""
    when = resolve_time(settings, as_of) if as_of is not None else None
    snapshots = table_snapshots(settings, when)
    with naming_damage(snapshots.values, settings.layout):
        con = connect_snapshots(settings, snapshots, when, tier=tier)
    return con, {n: s.version for n, s in snapshots.items() if s.version is not None}


def month_coverage(con: duckdb.DuckDBPyConnection, first_day: date) -> tuple[str, int]:
    """(call_coverage, covered_days) of the month as the licence reports state them
    (`fct_licence_months`, whose months the reports read: also one in which no unit was held
    and nothing bought, whose reports have no row); a month outside the licence data has no
    figures to trust: ('none', 0)."""
    rows = con.execute(
        "select call_coverage, covered_days from fct_licence_months where month = $m",
        {"m": first_day},
    ).fetchall()
    if not rows:
        return "none", 0
    return str(rows[0][0]), int(rows[0][1] or 0)


def uncovered_days(con: duckdb.DuckDBPyConnection, first_day: date) -> list[date]:
    """The days of the month (reporting time zone) without call data (`int_call_coverage`).
    A day past the device data horizon's day is not among them when its calls are loaded:
    `covered_days` leaves it out for the device data, which is what is missing then."""
    rows = con.execute(
        """select cast(d.day as date)
        from unnest(generate_series($first::timestamp, ($first + interval 1 month
            - interval 1 day)::timestamp, interval 1 day)) as d(day)
        where cast(d.day as date) not in (select covered_day from int_call_coverage)
        order by 1""",
        {"first": first_day},
    ).fetchall()
    return [r[0] for r in rows]


def days_text(days: list[date], shown: int = 6) -> str:
    """Days as runs, `2026-09-05..09-07, 2026-09-30`, the first `shown` runs and how many
    more."""
    return runs_text(
        days,
        lambda last, day: (day - last).days == 1,
        lambda a, b: f"{a}" if a == b else f"{a}..{b:%m-%d}",
        shown,
    )


def licence_months(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """The first and last month of the licence figures (`fct_licence_months`), None when
    there are none (no device data, or no unit ever held)."""
    row = con.execute("select min(month), max(month) from fct_licence_months").fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def device_data_short(
    con: duckdb.DuckDBPyConnection, first_day: date
) -> tuple[datetime, datetime] | None:
    """(the device data horizon, the instant the month ends in the reporting time zone)
    when the device data stops before the month's end: its month-end figures are then
    those of the horizon. None when the data reaches the end (or there is none: the
    month's coverage is 'none' then)."""
    # the month's end as every view cuts it (`month_end_at`: where the clocks show the next
    # midnight twice, the first), not DuckDB's own reading of that wall clock, the second
    row = con.execute(
        "select a.as_of_time, month_end_at(c.reporting_timezone, $first::date) "
        "from int_device_as_of as a cross join cfg_settings as c",
        {"first": first_day},
    ).fetchone()
    if row is None or row[0] is None or row[0] >= row[1]:
        return None
    return row[0], row[1]


def retention_cutoff(con: duckdb.DuckDBPyConnection) -> date | None:
    """The latest cutoff retention dropped call legs before (None: never)."""
    row = con.execute(
        "select max(cutoff) from stg_ledger_retention where table_name = 'call_legs'"
    ).fetchone()
    return None if row is None or row[0] is None else row[0]


def org_peak(con: duckdb.DuckDBPyConnection, first_day: date) -> int:
    """The most licence units of the org held at one instant of the month (0 when none
    was held): not the sum of the subscriptions' peaks, which fall at different instants."""
    rows = con.execute(
        "select licences_held_peak from rpt_licence_peak_monthly where month = $m",
        {"m": first_day},
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def compute_figures(
    con: duckdb.DuckDBPyConnection, first_day: date, tier: str = "full"
) -> dict[str, pa.Table]:
    """Every finance report of the month on `con` (whose views are those of `tier`)."""
    return {
        name: query_report(con, REPORTS[name], first_day if REPORTS[name].monthly else None, tier)
        for name in FINANCE_REPORTS
    }


def month_figures(
    settings: Settings, month: str | date, current: bool = False, as_of: AsOfArg | None = None
) -> MonthFigures:
    """The month's finance figures: frozen when the month is closed (unless `current`, or
    `as_of` asks for the tables as they were at a moment, as `run_report` does), else
    computed now over pinned table versions."""
    first_day = parse_month(month)
    assert first_day is not None
    # the finance reports' tier: full, unless CDR_TIER says otherwise (as for cdr report)
    tier = resolve_tier(REPORTS[FINANCE_REPORTS[0]].tier, warehouse=settings.warehouse)
    close = None if current or as_of is not None else read_close(settings.layout, first_day)
    if close is not None:
        frozen = {n: read_frozen(settings.layout, close, n) for n in FINANCE_REPORTS}
        return MonthFigures(
            first_day,
            {n: frozen_for_tier(settings, t, tier) for n, t in frozen.items()},
            close.versions,
            close.call_coverage,
            close.covered_days,
            close.days_in_month,
            close=close,
            licences_held_peak=close.licences_held_peak,
            settings=close.settings,
            overlaps=close.overlaps,
        )
    if as_of is None:  # as the other reports of the data now: refused in a copy until built
        check_views_here(settings)
    con, versions = pinned_connection(settings, as_of, tier)
    try:
        with naming_damage(lambda: version_snapshots(settings, versions), settings.layout):
            figures = figures_on(con, first_day, versions, tier)
    finally:
        con.close()
    return replace(
        figures,
        recomputed=read_close(settings.layout, first_day),
        as_of=None if as_of is None else resolve_time(settings, as_of),
    )


def figures_on(
    con: duckdb.DuckDBPyConnection, first_day: date, versions: dict[str, int], tier: str = "full"
) -> MonthFigures:
    """The month's figures computed on `con`, whose views read the table `versions` (those
    of `tier`): what `month_figures` makes of its pinned connection, every part the
    workbook and the summary show (the overlap note among them)."""
    return MonthFigures(
        first_day,
        compute_figures(con, first_day, tier),
        versions,
        *month_coverage(con, first_day),
        days_in(first_day),
        licences_held_peak=org_peak(con, first_day),
        settings=figure_settings(con),
        licence_data=licence_data(con),
        overlaps=overlap_note(con, first_day),
    )


def figures_of_tables(
    settings: Settings, first_day: date, tables: dict[str, pa.Table]
) -> MonthFigures:
    """Figures of the month from report tables already computed over `cdr.duckdb` (the
    nightly's CSVs), so they are not computed twice; a closed month's come from its close.
    The versions are those of the tables now (the nightly holds its lock meanwhile)."""
    if read_close(settings.layout, first_day) is not None:
        return month_figures(settings, first_day)
    snapshots = table_snapshots(settings)
    con = connect(settings, read_only=True)
    try:
        coverage, covered = month_coverage(con, first_day)
        peak = org_peak(con, first_day)
        basis = figure_settings(con)
        span = licence_data(con)
        overlaps = overlap_note(con, first_day)
    finally:
        con.close()
    return MonthFigures(
        first_day,
        tables,
        {n: s.version for n, s in snapshots.items() if s.version is not None},
        coverage,
        covered,
        days_in(first_day),
        licences_held_peak=peak,
        settings=basis,
        licence_data=span,
        overlaps=overlaps,
    )
