"""`cdr validate`: run the Great Expectations checkpoints and write Data Docs."""

from __future__ import annotations

import sys
from datetime import date, datetime

import click

from cdr_pipeline.cli.context import CliContext, pass_cli
from cdr_pipeline.cli.render import table, to_json


@click.command()
@click.option("--all", "all_", is_flag=True, help="Validate every partition of every table.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Validate the partitions of files loaded on or after this day (YYYY-MM-DD, UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_cli
def validate(obj: CliContext, all_: bool, since: datetime | None, as_json: bool) -> None:
    """Check the warehouse with Great Expectations suites generated from the schema.

    By default validates the partitions the latest ingest run loaded. Writes Data Docs
    (HTML) under <warehouse>/quality/data_docs/ and a summary to the ledger.

    Exits 4 when an error-severity expectation fails (keys null or duplicated, Direction
    outside its values, timestamps out of order, negative durations, ...); warnings (new
    enum values, new source columns, Webex Go legs without a known device) are shown only."""
    if all_ and since is not None:
        raise click.UsageError("use either --all or --since, not both")
    from cdr_pipeline.quality import validate_warehouse

    scope: str | date = "all" if all_ else since.date() if since is not None else "last"
    report = validate_warehouse(obj.settings(), scope)
    if as_json:
        click.echo(
            to_json(
                {
                    "validation_id": report.validation_id,
                    "scope": report.scope,
                    "exit_code": report.exit_code,
                    "data_docs_index": report.data_docs_index,
                    "suites": [
                        s.counts() | {"suite": s.name, "rows": s.rows} for s in report.suites
                    ],
                    "failed": report.failed,
                }
            )
        )
        sys.exit(report.exit_code)
    if not report.suites:
        click.echo(f"nothing to validate (scope: {report.scope})", err=True)
    else:
        rows = [
            (
                s.name,
                s.partitions,
                s.rows,
                c["expectations_evaluated"],
                c["errors_failed"],
                c["warnings_failed"],
            )
            for s in report.suites
            for c in [s.counts()]
        ]
        click.echo(table(["suite", "partitions", "rows", "checked", "errors", "warnings"], rows))
    if report.failed:
        click.echo("")
        fails = sorted(report.failed, key=lambda r: (r.severity != "error", r.id))
        click.echo(
            table(
                ["severity", "expectation", "unexpected", "sample keys / values"],
                [
                    (
                        r.severity,
                        r.id,
                        r.unexpected_count,
                        r.note
                        or ", ".join(r.sample_keys)
                        + (
                            f"  values: {', '.join(r.unexpected_values)}"
                            if r.unexpected_values
                            else ""
                        ),
                    )
                    for r in fails
                ],
            )
        )
    for r in report.results:
        if not r.evaluated and r.note:
            click.echo(f"note: {r.id} not checked: {r.note}", err=True)
    if report.data_docs_index:
        click.echo(f"Data Docs: {report.data_docs_index}")
    verdict = (
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        if report.failed
        else "all expectations met"
    )
    click.echo(
        f"validation {report.validation_id} ({report.scope}): {verdict}, {report.seconds:.1f}s"
    )
    sys.exit(report.exit_code)


COMMANDS = [validate]
