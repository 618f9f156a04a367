"""`cdr report NAME`: run a named report and write it as csv, json, parquet or a table."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdr_pipeline.cli.context import CliContext, echo, pass_cli
from cdr_pipeline.errors import EXIT_USAGE

FORMATS = ("csv", "json", "parquet", "table")


@click.command()
@click.argument("name", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the reports, one line each.")
@click.option("--month", metavar="YYYY-MM", help="Only this month (monthly reports).")
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
    result = run_report(obj.existing_warehouse(), name, month)
    if out is None:
        write_report(result, fmt, sys.stdout)
    else:
        write_report(result, fmt, out)
        echo(f"wrote {result.row_count:,} rows of {name} to {out}", err=True)
    sys.exit(0)


COMMANDS = [report]
