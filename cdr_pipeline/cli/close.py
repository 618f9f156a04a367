"""`cdr close YYYY-MM` and `cdr reopen YYYY-MM`: freeze a month's finance figures, or
reopen a closed month."""

from __future__ import annotations

import sys

import click

from cdr_pipeline.cli.context import CliContext, echo, json_option, pass_cli, wait_lock_option
from cdr_pipeline.render import to_json


@click.command(short_help="Close a month: freeze its finance reports.")
@click.argument("month", metavar="YYYY-MM")
@click.option(
    "--force",
    is_flag=True,
    help="Close though the month is incomplete or failed validation (needs --reason).",
)
@click.option("--reason", metavar="TEXT", help="Why (recorded with a forced close).")
@wait_lock_option
@json_option
@pass_cli
def close(
    obj: CliContext,
    month: str,
    force: bool,
    reason: str | None,
    lock_wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Freeze the finance reports of MONTH (licence-usage, reconciliation,
    reclaim-candidates, anomalies) as Parquet under <warehouse>/closed/MONTH/, with the
    table versions they were computed from. Afterwards `cdr report NAME --month MONTH`
    answers from the frozen figures. Closing a closed month changes nothing.

    Exits 3 when the month is incomplete (call coverage not full, not over yet, or device
    data ending before its end), or while the latest validation of a table failed an
    error-severity check, unless --force --reason TEXT; 2 for --force without
    --reason; 5 when a writer holds the lock."""
    from cdr_pipeline.reports.close import close_month

    settings = obj.existing_warehouse(lock_wait_seconds=lock_wait_seconds)
    result = close_month(settings, month, force=force, reason=reason)
    c = result.close
    if as_json:
        echo(to_json({"already_closed": result.already_closed, **c.to_dict()}))
        sys.exit(0)
    if result.already_closed:
        echo(f"{c.month} was already closed on {c.closed_at:%Y-%m-%d %H:%M} UTC; nothing changed")
        # its figures stay frozen whatever was loaded since: say where late data shows
        echo(
            "what data loaded since would change: cdr report restatements; to close it "
            f'again: cdr reopen {c.month} --reason "why"'
        )
    else:
        rows = ", ".join(f"{n} {r['rows']:,} rows" for n, r in c.reports.items())
        echo(f"closed {c.month} on {c.closed_at:%Y-%m-%d %H:%M} UTC: {rows}")
        echo(f"table versions: {c.versions_text()}")
        echo(f"settings: {c.settings_text()}")
        echo(f"call coverage: {c.call_coverage} ({c.covered_days} of {c.days_in_month} days)")
        if c.forced:
            echo(f"forced: {c.reason}")
    sys.exit(0)


@click.command(short_help="Reopen a closed month (with a reason).")
@click.argument("month", metavar="YYYY-MM")
@click.option("--reason", required=True, metavar="TEXT", help="Why the month is reopened.")
@wait_lock_option
@json_option
@pass_cli
def reopen(
    obj: CliContext, month: str, reason: str, lock_wait_seconds: float | None, as_json: bool
) -> None:
    """Reopen MONTH: reports recompute it until it is closed again. Its frozen figures are
    kept under <warehouse>/closed/.reopened/ and the reason goes to closed/journal.jsonl.
    Exits 3 when the month is not closed, or when retention has dropped call legs of it
    since its close (its frozen figures are then the only full record of it)."""
    from cdr_pipeline.reports.close import reopen_month

    settings = obj.existing_warehouse(lock_wait_seconds=lock_wait_seconds)
    result = reopen_month(settings, month, reason)
    if as_json:
        echo(to_json(result))
        sys.exit(0)
    echo(f"reopened {result.month}: {result.reason} (frozen figures kept in {result.kept_in})")
    sys.exit(0)


COMMANDS = [close, reopen]
