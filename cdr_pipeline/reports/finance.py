"""The month's finance outputs in one call each: the workbook and the one-page summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.figures import MonthFigures, month_figures
from cdr_pipeline.reports.summary import render_summary
from cdr_pipeline.reports.workbook import write_finance_pack
from cdr_pipeline.state.files import atomic_write_bytes
from cdr_pipeline.warehouse.snapshots import AsOfArg


def finance_pack(
    settings: Settings,
    month: str | date,
    out: Path,
    *,
    current: bool = False,
    as_of: AsOfArg | None = None,
) -> MonthFigures:
    """Write the month's finance workbook to `out` (.xlsx); frozen figures for a closed
    month unless `current`, or computed from the tables as they were `as_of`."""
    figures = month_figures(settings, month, current, as_of)
    write_finance_pack(figures, out)
    return figures


def finance_summary(
    settings: Settings, month: str | date, *, current: bool = False, as_of: AsOfArg | None = None
) -> tuple[str, MonthFigures]:
    """The month's one-page summary as HTML, and the figures it shows (`as_of`: from the
    tables as they were then)."""
    figures = month_figures(settings, month, current, as_of)
    return render_summary(figures), figures


def write_text(text: str, out: Path) -> None:
    """Write a text output (the HTML summary) beside `out`, then rename it into place."""
    atomic_write_bytes(text.encode("utf-8"), out)
