"""Excel workbooks (XlsxWriter): one report, or a month's finance pack.

Cells keep their types: numbers are numbers, dates and times are Excel dates (times in
UTC, which the column definitions say), booleans are booleans; money columns get a
currency format naming the row's currency. Text a spreadsheet would take for a formula
(the same test as the CSV export, `export.is_formula_like`) is written as text with Excel's
quote prefix, so it shows as typed and is never evaluated, not even after an edit. Every
sheet has a bold frozen header row, an autofilter and column widths fitted to the data.
The file is written beside the target and renamed into place.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from cdr_pipeline.errors import EXIT_USAGE, CdrError
from cdr_pipeline.reports.export import MONEY_COLUMNS, PRICE_COLUMNS, is_formula_like
from cdr_pipeline.reports.figures import MonthFigures
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.state.files import atomic_write_bytes
from cdr_pipeline.warehouse.comments import documented_columns

MONTH_COLUMNS = frozenset({"month"})
"""Date columns that name a month: shown as YYYY-MM."""
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
_WIDTH_SAMPLE = 500
"""Rows looked at to fit a column's width."""


class WorkbookError(CdrError):
    exit_code = EXIT_USAGE


class _Formats:
    """The workbook's cell formats, made once each."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self.header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.month = book.add_format({"num_format": "yyyy-mm"})
        self.time = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.quoted = book.add_format({"quote_prefix": True})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.bold = book.add_format({"bold": True})
        self._money: dict[tuple[str, str], Any] = {}

    def money(self, currency: str | None, column: str) -> Any:
        code = (currency or "").strip().upper()
        # an amount shows cents; a price shows the decimals it has, up to the six the costs
        # take it to (12.345 shown as 12.35 would not multiply out to its idle cost)
        digits = "0.00####" if column in PRICE_COLUMNS else "0.00"
        if (code, digits) not in self._money:
            # [$XXX] shows the code as literal text before the amount, in every locale
            number = f"#,##{digits}"
            fmt = f"[${code}] {number}" if code.isalpha() and len(code) <= 5 else number
            self._money[(code, digits)] = self.book.add_format({"num_format": fmt})
        return self._money[(code, digits)]


def _sheet_name(name: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    out, n = clean, 2
    while out.lower() in used:
        out = f"{clean[: 31 - len(str(n)) - 1]}~{n}"
        n += 1
    used.add(out.lower())
    return out


def _write_cell(
    sheet: Worksheet, row: int, col: int, value: Any, column: str, fmts: _Formats, currency: Any
) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        if column in MONEY_COLUMNS:
            sheet.write_number(row, col, value, fmts.money(currency, column))
        else:
            sheet.write_number(row, col, value)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, _utc_naive(value), fmts.time)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, fmts.month if column in MONTH_COLUMNS else fmts.date)
    elif isinstance(value, str):
        text = value[:EXCEL_MAX_TEXT]
        if is_formula_like(text):
            sheet.write_string(row, col, text, fmts.quoted)
        else:
            sheet.write_string(row, col, text)
    else:
        sheet.write_string(row, col, str(value)[:EXCEL_MAX_TEXT])


def _utc_naive(value: datetime) -> datetime:
    """Excel has no time zones: aware times are written as their UTC wall clock."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _shown_width(value: Any, column: str) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 7 if column in MONTH_COLUMNS else 10
    if isinstance(value, float):
        shown = f"{value:,.6f}".rstrip("0") if column in PRICE_COLUMNS else ""
        return max(len(f"{value:,.2f}"), len(shown)) + (5 if column in MONEY_COLUMNS else 0)
    return len(str(value))


def write_table_sheet(
    book: Workbook, fmts: _Formats, name: str, table: pa.Table, used: set[str]
) -> Worksheet:
    """One sheet of `table`: typed cells, header, freeze, autofilter, widths."""
    if table.num_rows + 1 > EXCEL_MAX_ROWS:
        raise WorkbookError(
            f"{name}: {table.num_rows:,} rows do not fit an Excel sheet (1,048,575 at most)",
            hint="narrow it with --month, or use --format csv or parquet",
        )
    sheet = book.add_worksheet(_sheet_name(name, used))
    columns = table.column_names
    widths = [len(c) for c in columns]
    for col, column in enumerate(columns):
        sheet.write_string(0, col, column, fmts.header)
    for r, row in enumerate(table.to_pylist(), start=1):
        currency = row.get("currency")
        for col, column in enumerate(columns):
            _write_cell(sheet, r, col, row[column], column, fmts, currency)
            if r <= _WIDTH_SAMPLE:
                widths[col] = max(widths[col], _shown_width(row[column], column))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width, 6), 60) + 2)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(table.num_rows, 1), max(len(columns) - 1, 0))
    return sheet


def column_definitions(names: Sequence[str]) -> list[tuple[str, str, str]]:
    """(report, column, meaning) for the reports `names`, from the column tables of
    `sql/README.md` (the source of the catalog's column comments too)."""
    docs = documented_columns(sql_dir() / "README.md")
    out = []
    for name in names:
        report = REPORTS.get(name)
        meanings = docs.get(report.view or "", {}) if report else {}
        for column in meanings:
            out.append((name, column, meanings[column]))
    return out


def _definitions_sheet(
    book: Workbook, fmts: _Formats, tables: dict[str, pa.Table], used: set[str]
) -> None:
    docs = {(r, c): m for r, c, m in column_definitions(list(tables))}
    rows = [
        {"report": name, "column": column, "meaning": docs.get((name, column), _pseudo(column))}
        for name, table in tables.items()
        for column in table.column_names
    ]
    sheet = write_table_sheet(
        book, fmts, "Columns", pa.Table.from_pylist(rows, schema=_DEFS_SCHEMA), used
    )
    sheet.set_column(2, 2, 100, fmts.wrap)


def _pseudo(column: str) -> str:
    """The meaning of a column of the analyst tier (`CDR_TIER=analyst`) beside a masked one."""
    if column.endswith("_pseudonym"):
        return f"the pseudonym of `{column.removesuffix('_pseudonym')}` (analyst tier)"
    return ""


_DEFS_SCHEMA = pa.schema(
    [("report", pa.string()), ("column", pa.string()), ("meaning", pa.string())]
)


def _open(path: Path) -> tuple[Workbook, io.BytesIO]:
    """A workbook made in memory, written to `path` at once when it is whole
    (`atomic_write_bytes`). Written by xlsxwriter to a temp file beside `path`, a disk that
    filled left the temp file behind and its zip file's clean-up printed a traceback."""
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path}: an Excel workbook needs the .xlsx extension")
    buffer = io.BytesIO()
    options = {"remove_timezone": True, "strings_to_formulas": False, "in_memory": True}
    return xlsxwriter.Workbook(buffer, options), buffer


def write_report_xlsx(name: str, table: pa.Table, path: Path) -> None:
    """One report as a workbook: its sheet and the definitions of its columns."""
    book, buffer = _open(path)
    fmts = _Formats(book)
    used: set[str] = set()
    try:
        write_table_sheet(book, fmts, name, table, used)
        _definitions_sheet(book, fmts, {name: table}, used)
    finally:
        book.close()
    atomic_write_bytes(buffer.getvalue(), path)


def write_finance_pack(figures: MonthFigures, path: Path) -> None:
    """The month's finance pack: a cover sheet (month, status, coverage, table versions,
    when made), one sheet per finance report, and the column definitions."""
    book, buffer = _open(path)
    fmts = _Formats(book)
    used: set[str] = set()
    try:
        cover = book.add_worksheet(_sheet_name("Cover", used))
        cover.set_column(0, 0, 24)
        cover.set_column(1, 1, 70)
        cover.write_string(0, 0, "Webex Go finance pack", fmts.bold)
        items: list[tuple[str, Any, Any]] = [
            ("Month", figures.month, fmts.month),
            # the month and its days run from midnight to midnight there: an auditor
            # reading UTC times must know where a late-evening call of the 31st falls
            ("Reporting time zone", figures.reporting_timezone or "not recorded", None),
            ("Status", figures.status_text, None),
            ("Call coverage", figures.call_coverage, None),
            ("Days with call data", figures.covered_days, None),
            ("Days in month", figures.days_in_month, None),
            ("Made at (UTC)", _utc_naive(figures.made_at), fmts.time),
            ("Times in the sheets", "UTC", None),
        ]
        if figures.outside_text:
            # its sheets are empty: not because nothing was held or bought
            items.append(("Device data", figures.outside_text, None))
        for name, table in figures.tables.items():
            items.append((f"Rows: {name}", table.num_rows, None))
        items.append(("Table versions", "", None))
        items.extend((f"  {t}", v, None) for t, v in sorted(figures.versions.items()))
        for r, (label, value, fmt) in enumerate(items, start=2):
            cover.write_string(r, 0, label, fmts.bold)
            if isinstance(value, date):
                cover.write_datetime(r, 1, value, fmt)
            elif isinstance(value, int):
                cover.write_number(r, 1, value)
            else:
                _write_cell(cover, r, 1, value, "", fmts, None)
        for name, table in figures.tables.items():
            write_table_sheet(book, fmts, name, table, used)
        _definitions_sheet(book, fmts, figures.tables, used)
    finally:
        book.close()
    atomic_write_bytes(buffer.getvalue(), path)
