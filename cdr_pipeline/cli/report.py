"""`cdr report NAME`: run a named report and write it as csv, json, parquet or a table."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from cdr_pipeline.cli.context import CliContext, echo, pass_cli
from cdr_pipeline.errors import EXIT_USAGE

FORMATS = ("csv", "json", "parquet", "table")


def _complete_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of report names (with their one-line summaries)."""
    from cdr_pipeline.reports import REPORTS

    return [
        CompletionItem(name, help=report.summary)
        for name, report in REPORTS.items()
        if name.startswith(incomplete)
    ]


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
@click.option("--list", "show_list", is_flag=True, help="List the reports, one line each.")
@click.option(
    "--month",
    metavar="YYYY-MM",
    shell_complete=_complete_month,
    help="Only this month (monthly reports).",
)
@click.option(
    "--as-of",
    metavar="VERSION|TIMESTAMP",
    help="Answer from the tables as they were: a call_legs version (cdr runs shows them) or "
    "a UTC time like 2026-10-31T18:00:00Z (files replaced since must not be vacuumed yet).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format; csv is spreadsheet-safe (formula cells neutralised).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout (required for parquet).",
)
@pass_cli
def report(
    obj: CliContext,
    name: str | None,
    show_list: bool,
    month: str | None,
    as_of: str | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Run the named report NAME over the warehouse views (run `cdr build` first).

    Exits 2 for an unknown report or a misuse of options, 3 for a bad --month or a
    warehouse without views."""
    from cdr_pipeline.reports import REPORTS, run_report, write_report

    if show_list:
        width = max(len(n) for n in REPORTS)
        for r in REPORTS.values():
            echo(f"{r.name.ljust(width)}  {r.summary}{'' if r.monthly else ' [no --month]'}")
        sys.exit(0)
    if not name:
        echo("error: name a report (cdr report --list shows them)", err=True)
        sys.exit(EXIT_USAGE)
    if fmt == "parquet" and out is None:
        echo("error: --format parquet needs --out FILE", err=True)
        sys.exit(EXIT_USAGE)
    result = run_report(obj.existing_warehouse(), name, month, as_of=as_of)
    if out is None:
        write_report(result, fmt, sys.stdout)
    else:
        write_report(result, fmt, out)
        echo(f"wrote {result.row_count:,} rows of {name} to {out}", err=True)
    sys.exit(0)


COMMANDS = [report]
