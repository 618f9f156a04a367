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
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

from cdr_pipeline import render
from cdr_pipeline.errors import EXIT_USAGE, CdrError
from cdr_pipeline.render import plain
from cdr_pipeline.reports.run import ReportResult

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
                safe_cell(row[c]) if isinstance(row[c], str) else _text(row[c])
                for c in result.columns
            ]
        )
    return buf.getvalue()


def to_json(result: ReportResult) -> str:
    return render.to_json(result.rows()) + "\n"


def to_text_table(result: ReportResult) -> str:
    rows = [[row[c] for c in result.columns] for row in result.rows()]
    return render.text_table(result.columns, rows, grouped=False) + "\n"


def write_report(result: ReportResult, fmt: str, out: Path | IO[str] | None = None) -> str | None:
    """Write `result` in `fmt` to the file `out`, or to the text stream `out`; with `out`
    None return the text (csv, json, table). Parquet needs a file path."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if fmt == "parquet":
        if not isinstance(out, Path):
            raise ExportError("parquet output needs a file", hint="pass --out FILE.parquet")
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.table, out, compression="zstd")
        return None
    if fmt == "xlsx":
        if not isinstance(out, Path):
            raise ExportError("xlsx output needs a file", hint="pass --out FILE.xlsx")
        from cdr_pipeline.reports.workbook import write_report_xlsx

        write_report_xlsx(result.name, result.table, out)
        return None
    text = {"csv": to_csv, "json": to_json, "table": to_text_table}[fmt](result)
    if out is None:
        return text
    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        # utf-8-sig so spreadsheet programs detect UTF-8 in CSV (names like "Müller").
        out.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    else:
        out.write(text)
    return None
