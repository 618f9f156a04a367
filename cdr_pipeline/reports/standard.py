"""The standard report files of a nightly run: every named report as CSV, the monthly ones
for the previous month and the month to date, the one-page finance summary of the
previous month (HTML), and once a month is closed the restatements of the closed months,
under `<warehouse>/reports/<run date>/`."""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.export import write_report
from cdr_pipeline.reports.figures import figures_of_tables
from cdr_pipeline.reports.frozen import FINANCE_REPORTS, list_closed
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import ReportResult, run_report
from cdr_pipeline.reports.summary import render_summary

log = logging.getLogger(__name__)


def report_months(run_date: date) -> list[date]:
    """The previous month and the month to date, as first days."""
    this = run_date.replace(day=1)
    return [(this - timedelta(days=1)).replace(day=1), this]


def report_file_name(name: str, month: date | None) -> str:
    return f"{name}_{month:%Y-%m}.csv" if month else f"{name}.csv"


def summary_file_name(month: date) -> str:
    return f"finance-summary_{month:%Y-%m}.html"


def planned_report_files(run_date: date) -> list[str]:
    """The file names `write_standard_reports` writes for `run_date`."""
    months = report_months(run_date)
    return [
        report_file_name(name, month)
        for name, report in REPORTS.items()
        for month in (months if report.monthly else [None])
    ] + [summary_file_name(months[0])]


RESTATEMENTS_FILE = "restatements.csv"
"""Written when a month is closed: `cdr report restatements` (header only when every closed
month still holds)."""


class StandardReports(NamedTuple):
    files: list[Path]
    restated: list[str]
    """The closed months (YYYY-MM) whose figures would change if recomputed now (the rows
    of `RESTATEMENTS_FILE`); [] when none, or no month is closed."""


def write_standard_reports(settings: Settings, run_date: date) -> StandardReports:
    """Every named report as CSV: monthly ones for the previous month and the month to
    date, the others once; the previous month's finance summary as HTML. A closed month's
    finance reports are its frozen figures. Written to a temp folder, then renamed into place."""
    target = settings.layout.reports / run_date.isoformat()
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    months = report_months(run_date)
    names: list[str] = []
    restated: list[str] = []
    previous: dict[str, pa.Table] = {}  # the previous month's finance reports
    for name, report in REPORTS.items():
        for month in months if report.monthly else [None]:
            file_name = report_file_name(name, month)
            result = write_one(settings, name, month, tmp / file_name)
            names.append(file_name)
            if name in FINANCE_REPORTS and month in (None, months[0]):
                previous[name] = result.table
    html = render_summary(figures_of_tables(settings, months[0], previous))
    (tmp / summary_file_name(months[0])).write_text(html, encoding="utf-8")
    names.append(summary_file_name(months[0]))
    if list_closed(settings.layout):
        # late data for a closed month moves no frozen figure: the night says what it would
        from cdr_pipeline.reports.restate import restatements

        result = restatements(settings)
        _log_note("restatements", None, result.note)
        write_report(result, "csv", tmp / RESTATEMENTS_FILE, excel_csv=settings.excel_csv)
        names.append(RESTATEMENTS_FILE)
        restated = sorted({f"{m:%Y-%m}" for m in result.table.column("month").to_pylist()})
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return StandardReports([target / n for n in names], restated)


def write_one(settings: Settings, name: str, month: date | None, path: Path) -> ReportResult:
    """Report `name` (of `month`) as CSV at `path`; its note in the log (`_log_note`)."""
    result = run_report(settings, name, month.strftime("%Y-%m") if month else None)
    _log_note(name, month, result.note)
    write_report(result, "csv", path, excel_csv=settings.excel_csv)
    return result


def _log_note(name: str, month: date | None, note: str) -> None:
    """What `cdr report` prints as its `note:` (entitlement rows that overlap, minutes of
    unknown duration left out, a licence month outside the device data), in the night's
    log: the report files hold the figures only, and the night said nothing of it."""
    when = f" for {month:%Y-%m}" if month else ""
    for line in note.splitlines():  # restatements: a line per closed month
        log.info(
            "note: report %s%s: %s",
            name,
            when,
            line,
            extra={"report": name, "month": f"{month:%Y-%m}" if month else None},
        )
