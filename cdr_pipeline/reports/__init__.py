"""Named reports over the warehouse views, and their exports (csv/json/parquet/table)."""

from __future__ import annotations

from cdr_pipeline.reports.export import FORMATS, safe_cell, write_report
from cdr_pipeline.reports.headline import headline_figures
from cdr_pipeline.reports.registry import REPORTS, Report
from cdr_pipeline.reports.run import ReportResult, ReportUsageError, parse_month, run_report

__all__ = [
    "FORMATS",
    "REPORTS",
    "Report",
    "ReportResult",
    "ReportUsageError",
    "headline_figures",
    "parse_month",
    "run_report",
    "safe_cell",
    "write_report",
]
