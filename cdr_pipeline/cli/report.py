"""`cdr report NAME`: run a named report and write it as csv, json, parquet, xlsx or a table;
the month's finance pack (xlsx) and one-page summary (html); restatements of closed months."""

from __future__ import annotations

import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from click.shell_completion import CompletionItem

from cdr_pipeline.cli.context import CliContext, OutPath, echo, pass_cli, writing_output
from cdr_pipeline.cli.render import terminal_width
from cdr_pipeline.errors import EXIT_USAGE

if TYPE_CHECKING:
    from cdr_pipeline.config import Settings
    from cdr_pipeline.reports import ReportResult

FORMATS = ("csv", "json", "parquet", "table", "xlsx", "html")
# without --format, the format an --out file's extension names (the terminal table written
# to `top.xlsx` was a text file no spreadsheet opens)
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".html": "html",
}
# the extensions the terminal table may be written to without --format (a name like
# `top.csv.gz`, `top.tsv` or `top.html` asks for data, and got the compact table, its ids cut)
TABLE_SUFFIXES = ("", ".txt")


def _complete_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of report names (with their one-line summaries)."""
    from cdr_pipeline.reports import REPORTS
    from cdr_pipeline.reports.registry import SPECIAL_REPORTS

    names = {n: r.summary for n, r in REPORTS.items()} | SPECIAL_REPORTS
    return [CompletionItem(n, help=text) for n, text in names.items() if n.startswith(incomplete)]


def _complete_month(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of --month: this month and the twelve before it, newest first
    (no warehouse is opened: completion must answer at once)."""
    today = date.today()
    months = [
        f"{today.year + (today.month - 1 - i) // 12}-{(today.month - 1 - i) % 12 + 1:02d}"
        for i in range(13)
    ]
    return [CompletionItem(m) for m in months if m.startswith(incomplete)]


@click.command(short_help="Run a named report (--list shows them).")
@click.argument("name", required=False, shell_complete=_complete_name)
@click.option(
    "--list",
    "show_list",
    is_flag=True,
    help="List the reports, one line each (on a terminal, wrapped to its width).",
)
@click.option(
    "--month",
    metavar="YYYY-MM",
    shell_complete=_complete_month,
    help="Only this month (monthly reports).",
)
@click.option(
    "--as-of",
    metavar="VERSION|TIMESTAMP",
    help="Answer from the tables as they were: a call_legs version (cdr runs --wide shows "
    "them) or a time like 2026-10-31T18:00:00Z (UTC without a zone; not in the future; files "
    "replaced since must not be vacuumed yet).",
)
@click.option(
    "--current",
    is_flag=True,
    help="For a closed month: recompute from the tables now instead of the frozen figures.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format (default: the one --out's extension names, .csv .json .parquet "
    ".xlsx .html, table for .txt or none; another extension needs --format); csv is "
    "spreadsheet-safe (formula cells neutralised); xlsx needs --out; html is for "
    "finance-summary.",
)
@click.option(
    "--out",
    type=OutPath(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout (- is stdout; a file is required for parquet "
    "and xlsx).",
)
@click.option(
    "--wide",
    is_flag=True,
    help="Table format: every column and full ids, never cut (default: compact, fitted to "
    "the terminal).",
)
@click.option(
    "--excel-csv/--no-excel-csv",
    "excel_csv",
    default=None,
    help="CSV with the UTF-8 BOM Excel needs, on stdout and files alike (default: "
    "excel_csv in cdr.toml, else files only).",
)
@pass_cli
def report(
    obj: CliContext,
    name: str | None,
    show_list: bool,
    month: str | None,
    as_of: str | None,
    current: bool,
    fmt: str,
    out: Path | None,
    wide: bool,
    excel_csv: bool | None,
) -> None:
    """Run the named report NAME over the warehouse views (run `cdr build` first).

    For a closed month (`cdr close`) the finance reports (licence-usage, reconciliation,
    reclaim-candidates, anomalies) answer from the frozen figures and say when the month was
    closed; --current recomputes. `finance-pack --month M --out FILE.xlsx` writes the
    month's workbook, `finance-summary --month M --format html` its one-page summary, and
    `restatements` lists what a recomputation would change in the closed months.

    The table format shows a compact column set with short ids and months as YYYY-MM,
    fitted to the terminal's width (--wide: every column, full ids, never cut).

    Exits 2 for an unknown report or a misuse of options, 3 for a bad --month or a
    warehouse without views."""
    from cdr_pipeline.reports import run_report, write_report

    if show_list:
        _list()
    if not name:
        _usage("name a report (cdr report --list shows them)")
    out = None if out == Path("-") else out  # as for most tools: stdout, not a file "-"
    fmt = _format_of(fmt, out)
    _check_options(name, fmt, out, as_of)
    if name in ("finance-pack", "finance-summary"):
        _finance(obj, name, month, out, current, fmt, as_of)
    if fmt == "html":
        _usage(
            "--format html is for finance-summary; this report writes csv, json, parquet, "
            "table or xlsx"
        )
    settings = obj.existing_warehouse(excel_csv=excel_csv)
    if name == "restatements":
        from cdr_pipeline.reports.restate import restatements
        from cdr_pipeline.reports.run import parse_month

        first_day = parse_month(month)
        result = restatements(settings, first_day)
        if result.row_count == 0:
            echo(_no_restatements(settings, first_day), err=True)
    else:
        result = run_report(settings, name, month, as_of=as_of, current=current)
    _say_where_from(name, month, result, as_of)
    if out is None:
        # the compact table fits a terminal (columns that do not fit are left out, marked
        # `…`); --wide is every column, as long as it is (for `less -S` or a file)
        width = None if wide else terminal_width()
        with writing_output(None):
            write_report(
                result, fmt, sys.stdout, wide=wide, excel_csv=settings.excel_csv, max_width=width
            )
    else:
        with writing_output(out):
            write_report(result, fmt, out, wide=wide, excel_csv=settings.excel_csv)
        echo(f"wrote {result.row_count:,} rows of {name} to {out}", err=True)
    sys.exit(0)


def _say_where_from(
    name: str, month: str | None, result: ReportResult, as_of: str | None = None
) -> None:
    """On stderr: frozen figures (of the month, or of the closed months among every month),
    closed months computed instead (--current, --as-of), and why a licence report of a
    month has no row (`result.note`)."""
    if result.closed_at is not None:
        echo(
            f"{name} {month}: closed on {result.closed_at:%Y-%m-%d} "
            f"({result.closed_at:%H:%M} UTC); frozen figures, --current recomputes",
            err=True,
        )
    if result.computed_closes:  # --current or --as-of of closed months: not frozen figures
        how = "recomputed now" if as_of is None else f"computed as of {as_of}"
        closes = ", ".join(
            f"{m} (closed on {at:%Y-%m-%d %H:%M} UTC)" for m, at in result.computed_closes.items()
        )
        echo(
            f"{name}: {closes}: {how}, not the frozen figures (without --current or "
            "--as-of: the frozen ones)",
            err=True,
        )
    # an empty licence report of a month outside the device data; a line per closed month
    # whose overlapping entitlement rows changed since its close (restatements)
    for line in result.note.splitlines():
        echo(f"note: {line}", err=True)
    if result.frozen_months:
        echo(
            f"{name}: {', '.join(result.frozen_months)}: closed, frozen figures; the other "
            "months computed now (--current recomputes every month)",
            err=True,
        )


def _list() -> NoReturn:
    from cdr_pipeline.reports import REPORTS
    from cdr_pipeline.reports.registry import SPECIAL_REPORTS

    names = {n: r.summary + ("" if r.monthly else " [no --month]") for n, r in REPORTS.items()}
    names |= SPECIAL_REPORTS
    width = max(len(n) for n in names)
    columns = terminal_width()
    for n, text in names.items():
        line = f"{n.ljust(width)}  {text}"
        if columns and len(line) >= columns:
            # on a terminal the summary wraps under itself, not under the names (one column
            # short of the edge: a line filling it wraps on some terminals)
            line = textwrap.fill(
                line.replace("[no --month]", "[no\N{NO-BREAK SPACE}--month]"),
                max(columns - 1, width + 20),
                subsequent_indent=" " * (width + 2),
                break_long_words=False,
                break_on_hyphens=False,
            ).replace("\N{NO-BREAK SPACE}", " ")
        echo(line)
    sys.exit(0)


def _format_chosen() -> bool:
    """Whether --format was given (or set by the environment), not left at its default."""
    source = click.get_current_context().get_parameter_source("fmt")
    return source is not click.core.ParameterSource.DEFAULT


def _format_of(fmt: str, out: Path | None) -> str:
    """--format, or without it the format --out's extension names (else the table)."""
    if out is None or _format_chosen():
        return fmt
    return SUFFIX_FORMATS.get(out.suffix.lower(), fmt)


def _check_options(name: str, fmt: str, out: Path | None, as_of: str | None) -> None:
    """Usage errors (exit 2) of option combinations."""
    if fmt in ("parquet", "xlsx") and out is None and name != "finance-pack":
        _usage(f"--format {fmt} needs --out FILE")
    if (
        fmt == "table"
        and out is not None
        and not _format_chosen()
        and out.suffix.lower() not in TABLE_SUFFIXES
        and name not in ("finance-pack", "finance-summary")
    ):
        _usage(
            f"--out {out.name}: the extension {out.suffix} names no format cdr report writes "
            "(.csv .json .parquet .xlsx; .txt for the table); give --format to write this name"
        )
    if fmt == "html" and not _format_chosen() and name not in ("finance-pack", "finance-summary"):
        _usage(
            f"--out {out.name if out else '-'}: html is for finance-summary; this report writes "
            "csv, json, parquet, table or xlsx (.csv .json .parquet .xlsx .txt)"
        )
    if name == "restatements" and as_of is not None:
        # it compares each closed month with the tables now: silently ignoring the flag
        # would hand over today's comparison as if it were the one asked for
        _usage("--as-of does not apply to restatements (closed months against the tables now)")


def _usage(message: str) -> NoReturn:
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _finance(
    obj: CliContext,
    name: str,
    month: str | None,
    out: Path | None,
    current: bool,
    fmt: str,
    as_of: str | None,
) -> NoReturn:
    if name == "finance-pack":
        if fmt != "xlsx" and _format_chosen():
            _usage("finance-pack is written as an xlsx workbook (--format xlsx, or leave it out)")
        _finance_pack(obj, month, out, current, as_of)
    _finance_summary(obj, month, out, current, fmt, as_of)


def _finance_pack(
    obj: CliContext, month: str | None, out: Path | None, current: bool, as_of: str | None
) -> NoReturn:
    from cdr_pipeline.reports.figures import month_figures
    from cdr_pipeline.reports.workbook import write_finance_pack

    if month is None or out is None:
        _usage("finance-pack needs --month YYYY-MM and --out FILE.xlsx")
    figures = month_figures(obj.existing_warehouse(), month, current, as_of)
    with writing_output(out):
        write_finance_pack(figures, out)
    echo(f"wrote the {figures.month:%Y-%m} finance pack ({figures.status_text}) to {out}", err=True)
    sys.exit(0)


def _finance_summary(
    obj: CliContext,
    month: str | None,
    out: Path | None,
    current: bool,
    fmt: str,
    as_of: str | None,
) -> NoReturn:
    from cdr_pipeline.reports.finance import finance_summary

    if month is None:
        _usage("finance-summary needs --month YYYY-MM")
    # --format table wrote html, and so did an --out whose extension names another format
    if fmt != "html" and (_format_chosen() or fmt != "table"):
        _usage("finance-summary is written as --format html (--out FILE.html)")
    html, figures = finance_summary(obj.existing_warehouse(), month, current=current, as_of=as_of)
    if out is None:
        with writing_output(None):
            sys.stdout.write(html)
    else:
        from cdr_pipeline.reports.finance import write_text

        with writing_output(out):
            write_text(html, out)
        echo(f"wrote the {figures.month:%Y-%m} summary ({figures.status_text}) to {out}", err=True)
    sys.exit(0)


COMMANDS = [report]


def _no_restatements(settings: Settings, first_day: date | None) -> str:
    """Why `restatements` has no row: the month asked for is not closed (the closed ones
    named), or it still holds; "is not closed, or it still holds" left a controller who
    asked of a month to guess whether it had been closed at all."""
    from cdr_pipeline.reports.frozen import list_closed, month_text

    closed = list_closed(settings.layout)
    if first_day is None:
        if not closed:
            return "no restatements: no month is closed"
        return "no restatements: every closed month still holds"
    month = month_text(first_day)
    if any(c.first_day == first_day for c in closed):
        return f"no restatements: {month} is closed and still holds"
    others = ", ".join(c.month for c in closed) or "none"
    return f"no restatements: {month} is not closed (closed months: {others})"
