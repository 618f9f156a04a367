"""`cdr vacuum`: delete replaced data files once the grace period has passed."""

from __future__ import annotations

import sys

import click

from cdr_pipeline.cli.context import CliContext, echo, json_option, pass_cli, wait_lock_option
from cdr_pipeline.render import to_json


@click.command(short_help="Delete replaced data files past the grace period.")
@click.option(
    "--grace-hours",
    type=click.IntRange(min=0),
    help="Keep files replaced less than this many hours ago (default: vacuum_grace_hours, 24).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@wait_lock_option
@json_option
@pass_cli
def vacuum(
    obj: CliContext,
    grace_hours: int | None,
    dry_run: bool,
    lock_wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Delete data files that no current table version lists and that were replaced more
    than the grace period ago. Readers of older versions (a cdr.duckdb opened before the
    last build, `cdr report --as-of`) need those files: within the grace period they stay.

    Exits 3 for a folder that is not a warehouse (nothing is created there), 5 when
    another writer holds the lock, 6 when the warehouse cannot be written (a read-only
    file system, a permission denied: nothing is deleted)."""
    from cdr_pipeline.ingest.vacuum import vacuum_tables

    # the flag is a setting like the others: checked by its rules (a range past any date
    # overflowed the cutoff: exit 1), named as the flag
    settings = obj.existing_warehouse(
        lock_wait_seconds=lock_wait_seconds, vacuum_grace_hours=grace_hours
    )
    result = vacuum_tables(settings, None, dry_run)
    if as_json:
        echo(to_json(result))
        sys.exit(0)
    verb = "would delete" if dry_run else "deleted"
    for name, files in result.deleted.items():
        if files:
            echo(f"{name}: {verb} {len(files)} file(s)")
    echo(
        f"vacuum: {verb} {result.files} file(s) replaced more than "
        f"{result.grace_hours} hour(s) ago",
        err=True,
    )
    sys.exit(0)


COMMANDS = [vacuum]
