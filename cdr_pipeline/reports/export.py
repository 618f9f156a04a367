"""Write a `ReportResult` as CSV, JSON, Parquet, an Excel workbook or an aligned text table.

CSV is meant for spreadsheets, so it is made safe against formula injection (OWASP "CSV
injection"): a text cell whose first character after any leading whitespace or line break is
a formula trigger (`=`, `+`, `-`, `@`, their full-width forms `＝ ＋ － ＠`, their small
forms, or the minus sign `−`), or that begins with a tab or a carriage return, is prefixed
with `'`, so Excel or LibreOffice shows it as text instead of evaluating it (spreadsheets
skip leading spaces and normalise full-width signs before they look for a formula).
Numbers are written as numbers. Tables and JSON come from `cdr_pipeline.render`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline import render
from cdr_pipeline.errors import EXIT_USAGE, CdrError
from cdr_pipeline.render import plain, short_id
from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import ReportResult
from cdr_pipeline.state.files import atomic_write_bytes, atomic_write_table

FORMATS = ("csv", "json", "parquet", "table", "xlsx")
_FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212")
_CONTROL_START = ("\t", "\r")


class ExportError(CdrError):
    exit_code = EXIT_USAGE


def is_formula_like(value: Any) -> bool:
    """True for text a spreadsheet would take for a formula (see the module docstring)."""
    if not isinstance(value, str):
        return False
    rest = value.lstrip()  # str.lstrip: spaces, tabs, line breaks, NBSP, ideographic space
    return value.startswith(_CONTROL_START) or bool(rest and rest[0] in _FORMULA_TRIGGERS)


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate as a formula."""
    return "'" + value if is_formula_like(value) else value


def _text(value: Any) -> str:
    """A CSV cell that is not text: empty for null, ISO-8601 times, lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return json.dumps(plain(value), ensure_ascii=False)
    return str(value)


def to_csv(result: ReportResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in result.columns])
    for row in result.table.to_pylist():
        # Only text cells are neutralised: a number such as -1 stays a number.
        writer.writerow(
            [
                safe_cell(row[c])
                if isinstance(row[c], str)
                else _text(whole_total(row[c], _kind(row, c)))
                for c in result.columns
            ]
        )
    return buf.getvalue()


def to_json(result: ReportResult) -> str:
    return render.to_json(result.rows()) + "\n"


ID_COLUMNS = frozenset(
    {"device_id", "department_id", "anomaly_id", "report_id", "correlation_id", "licence_unit_id"}
)
"""Id columns a readable table shortens (besides every `*_uuid` column)."""


MONEY_COLUMNS = frozenset({"idle_cost", "unassigned_cost", "unit_price"})
"""Columns holding an amount in the row's `currency`."""
PRICE_COLUMNS = frozenset({"unit_price"})
"""Money columns holding a price, which may have more decimals than cents."""
AMOUNT_COLUMNS = MONEY_COLUMNS - PRICE_COLUMNS
"""Money columns holding an amount (a cost), which add up within a currency."""
CENT = Decimal("0.01")
TOTAL_COLUMNS = frozenset({"closed_total", "current_total", "change"})
"""Restatement columns holding the total of the row's `measure`: money when it is."""


def money_text(value: float | Decimal, column: str) -> Decimal:
    """An amount with its cents (22.50, not 22.5); a price with the decimals it has, at
    least two and up to the six the costs take it to (12.345). A Decimal, so that the
    table still aligns it as a number."""
    if column in PRICE_COLUMNS:
        price = Decimal(f"{value:.6f}").normalize()
        exponent = price.as_tuple().exponent
        return price if isinstance(exponent, int) and exponent <= -2 else price.quantize(CENT)
    return Decimal(f"{value:.6f}").quantize(CENT, rounding=ROUND_HALF_UP)


def _kind(row: dict[str, Any], column: str) -> str:
    """The column whose rules show `row[column]`: a restatement's total is of its measure."""
    measure = row.get("measure")
    if column in TOTAL_COLUMNS and isinstance(measure, str) and measure in MONEY_COLUMNS:
        return measure
    return column


def whole_total(value: Any, column: str) -> Any:
    """A restatement total of a count (`measure` not money) that is whole, as an int: the
    totals column is a float for every measure, and a count of 5 reads `5`, not `5.0`."""
    if column in TOTAL_COLUMNS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _readable(value: Any, column: str, wide: bool) -> Any:
    if column in MONEY_COLUMNS and isinstance(value, (float, Decimal)):
        return money_text(value, column)
    if column in TOTAL_COLUMNS:
        return whole_total(value, column)
    if column == "month" and isinstance(value, date) and not isinstance(value, datetime):
        return f"{value:%Y-%m}"
    if not wide and isinstance(value, datetime) and value.tzinfo is not None:
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
    if not wide and (column in ID_COLUMNS or column.endswith("_uuid")):
        return short_id(value)
    return value


def to_text_table(result: ReportResult, wide: bool = False, max_width: int | None = None) -> str:
    """An aligned table for a terminal: the report's compact column set (all with `wide`),
    ids shortened (full with `wide`), months as YYYY-MM, amounts with cents; within
    `max_width` columns (a terminal's width) when given, where times, dates and months are
    never shortened (columns that do not fit are left out instead)."""
    report = REPORTS.get(result.name)
    columns = result.columns
    if not wide and report is not None and report.compact:
        columns = [c for c in report.compact if c in columns]
    rows = [[_readable(row[c], _kind(row, c), wide) for c in columns] for row in result.rows()]
    # a time or a month is never shortened, as a number is not: `2026-1…17:53Z` is no time
    types = result.table.schema
    whole = [c for c in columns if pa.types.is_temporal(types.field(c).type)]
    return render.text_table(columns, rows, grouped=False, max_width=max_width, whole=whole) + "\n"


def _special(out: Path) -> bool:
    """`out` is a device or pipe (`--out /dev/stdout`), written as it is: a file is written
    beside itself and renamed into place, so a failed write (disk full) leaves the earlier
    report whole instead of an empty file over it."""
    return out.exists() and not out.is_file()


def _write_text(text: str, out: Path) -> None:
    if _special(out):
        out.write_text(text, encoding="utf-8")
    else:
        atomic_write_bytes(text.encode("utf-8"), out)


def write_report(
    result: ReportResult,
    fmt: str,
    out: Path | IO[str] | None = None,
    *,
    wide: bool = False,
    excel_csv: bool | None = None,
    max_width: int | None = None,
) -> str | None:
    """Write `result` in `fmt` to the file `out`, or to the text stream `out`; with `out`
    None return the text (csv, json, table). Parquet and xlsx need a file path. `wide`:
    every column and full ids in a table. `excel_csv`: CSV starts with the UTF-8 BOM that
    spreadsheet programs need to read accents right, on a file and on a stream alike
    (True), on neither (False), or on files only (None, the default: a pipe gets plain
    UTF-8). `max_width`: a table fits this many columns (a terminal's width)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if fmt == "parquet":
        if not isinstance(out, Path):
            raise ExportError("parquet output needs a file", hint="pass --out FILE.parquet")
        if _special(out):
            pq.write_table(result.table, out, compression="zstd")
            return None
        atomic_write_table(result.table, out)
        return None
    if fmt == "xlsx":
        if not isinstance(out, Path):
            raise ExportError("xlsx output needs a file", hint="pass --out FILE.xlsx")
        from cdr_pipeline.reports.workbook import write_report_xlsx

        write_report_xlsx(result.name, result.table, out)
        return None
    text = (
        to_text_table(result, wide, max_width)
        if fmt == "table"
        else {"csv": to_csv, "json": to_json}[fmt](result)
    )
    bom = fmt == "csv" and (excel_csv if excel_csv is not None else isinstance(out, Path))
    if bom:
        text = "\ufeff" + text
    if out is None:
        return text
    if isinstance(out, Path):
        _write_text(text, out)
    else:
        out.write(text)
    return None
