"""Write a `ReportResult` as CSV, JSON, Parquet or an aligned text table.

CSV is meant for spreadsheets, so it is made safe against formula injection: a text cell
that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`
(OWASP "CSV injection"), so Excel or LibreOffice shows it as text instead of evaluating it.
Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

from cdr_pipeline.errors import EXIT_USAGE, CdrError
from cdr_pipeline.reports.run import ReportResult

FORMATS = ("csv", "json", "parquet", "table")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(CdrError):
    exit_code = EXIT_USAGE


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return json.dumps([_plain(v) for v in value], ensure_ascii=False)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.table.to_pylist()]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def to_text_table(result: ReportResult) -> str:
    headers: Sequence[str] = result.columns
    cells = [[_text(row[c]) for c in headers] for row in result.table.to_pylist()]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    out = [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out) + "\n"


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
