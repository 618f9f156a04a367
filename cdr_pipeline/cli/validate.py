"""`cdr validate`: run the Great Expectations checkpoints and write Data Docs."""

from __future__ import annotations

import sys
from datetime import date, datetime

import click

from cdr_pipeline.cli.context import CliContext, echo, pass_cli
from cdr_pipeline.cli.render import text_table
from cdr_pipeline.render import to_json


@click.command(short_help="Check the data with Great Expectations.")
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
    outside its values, timestamps out of order, negative durations, rows in another
    day's partition, ...); warnings (new
    enum values, new source columns, Webex Go legs without a known device, legs without a
    Duration or longer than a day, reputation scores outside 0-5, site offsets
    outside UTC-12:00 to +14:00, ...) are shown only."""
    if all_ and since is not None:
        raise click.UsageError("use either --all or --since, not both")
    from cdr_pipeline.quality import validate_warehouse

    scope: str | date = "all" if all_ else since.date() if since is not None else "last"
    report = validate_warehouse(obj.existing_warehouse(), scope)
    if as_json:
        echo(to_json(report))
        sys.exit(report.exit_code)
    if not report.suites:
        echo(_nothing(report.scope, report.ingest_run_ids), err=True)
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
        echo(text_table(["suite", "partitions", "rows", "checked", "errors", "warnings"], rows))
    if report.failed:
        echo("")
        fails = sorted(report.failed, key=lambda r: (r.severity != "error", r.id))
        echo(
            text_table(
                ["severity", "expectation", "unexpected", "sample keys / values"],
                [
                    (
                        r.severity,
                        r.id,
                        r.unexpected_count,
                        r.note or _keys_and_values(r.sample_keys, r.unexpected_values),
                    )
                    for r in fails
                ],
                wrap_last=True,
            )
        )
    for r in report.results:
        if not r.evaluated and r.note:
            echo(f"note: {r.id} not checked: {r.note}", err=True)
    if report.data_docs_index:
        echo(f"Data Docs: {report.data_docs_index}")
    verdict = (
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        if report.failed
        else "all expectations met"
        if report.suites
        else "no rows checked"
    )
    echo(f"validation {report.validation_id} ({report.scope}): {verdict}, {report.seconds:.1f}s")
    sys.exit(report.exit_code)


def _keys_and_values(keys: list[str], values: list[str]) -> str:
    shown = [", ".join(keys)] if keys else []  # a new column's name is no row: no key
    return "  ".join(shown + ([f"values: {', '.join(values)}"] if values else []))


def _nothing(scope: str, runs: list[str]) -> str:
    """Why nothing was validated, and what would check the rows the warehouse does hold
    (`cdr validate` after a run that loaded only a header said "nothing to validate
    (scope: last)", exit 0, with the device tables an earlier run loaded never checked)."""
    if scope == "all":
        return "nothing to validate (scope: all): no table holds any rows; load data first"
    if not runs:
        return (
            f"nothing to validate (scope: {scope}): no ingest run of this scope loaded any rows; "
            "`cdr validate --all` checks every table"
        )
    return (
        f"nothing to validate (scope: {scope}): ingest run(s) {', '.join(runs)} loaded no "
        "rows; `cdr validate --all` checks every table"
    )


COMMANDS = [validate]
