"""`cdr ingest` and `cdr runs`."""

from __future__ import annotations

import sys
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import click
import polars as pl

from cdr_pipeline.cli.build import refresh_views
from cdr_pipeline.cli.context import (
    CliContext,
    chunk_rows_option,
    echo,
    json_option,
    max_reject_rate_option,
    pass_cli,
    wait_lock_option,
)
from cdr_pipeline.cli.render import (
    Progress,
    file_error_fields,
    files_table,
    ingest_table,
    runs_table,
)
from cdr_pipeline.errors import OutputUnwritable
from cdr_pipeline.render import safe_text, text_table, to_json
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.state.ledger import Ledger, run_record
from cdr_pipeline.state.seen import runs_seen
from cdr_pipeline.state.waits import gone_waits


@click.command(short_help="Load exports and other inputs.")
# readable=False: click's own check stopped the whole run (exit 2) for one file without read
# permission; the ingest fails that file alone (exit 3, naming it) and loads the others
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--kind", type=click.Choice(sorted(SCHEMAS)), help="Force the input kind.")
@chunk_rows_option
@max_reject_rate_option
@wait_lock_option
@json_option
@pass_cli
def ingest(
    obj: CliContext,
    paths: tuple[Path, ...],
    kind: str | None,
    chunk_rows: int | None,
    max_reject_rate: float | None,
    lock_wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Load DCH exports (CSV, gzip, ZIP with or without extension, API JSON) and the other
    input kinds from files or folders. Files whose content was loaded before are skipped.

    Exits 3 when a file could not be loaded (it names the file, the line and what to try);
    the other files still load."""
    from cdr_pipeline.ingest import expand_paths, ingest_paths, input_bytes

    settings = obj.settings(
        chunk_rows=chunk_rows, max_reject_rate=max_reject_rate, lock_wait_seconds=lock_wait_seconds
    )
    # the percentage is of the whole input, not of the file being read
    total = input_bytes(expand_paths(list(paths)))
    progress = Progress(obj.quiet or as_json, total_bytes=total)
    result = ingest_paths(settings, list(paths), kind=kind, progress=progress)
    if as_json:
        echo(to_json(result))
    else:
        echo(ingest_table(result.files))
        echo(
            f"run {result.run_id}: {len(result.files)} file(s), "
            f"{result.total('rows_loaded'):,} rows loaded, "
            f"{result.total('rows_rejected'):,} rejected, {result.seconds:.1f}s"
        )
        for f in result.files:
            if f.status == "skipped" or (f.message and f.status != "failed"):
                echo(f"note: {safe_text(f'{f.source}: {f.message}')}", err=True)
            if f.unknown_columns:
                echo(f"note: {safe_text(f'{f.source}: {f.new_columns_note()}')}", err=True)
        if not result.files:  # a folder still empty, or the wrong one: say so, exit 0
            echo(
                f"note: no file to load in {', '.join(map(str, paths))} (names starting "
                "with '.' or '~$', files still being copied, system files such as Thumbs.db "
                "and desktop.ini are skipped, as are pipes and devices)",
                err=True,
            )
        for f in result.errors:
            echo(f"error: {safe_text(f.message)}", err=True, fields=file_error_fields(f))
        if result.errors:  # as every error ends: which warehouse, from where
            echo(f"warehouse: {settings.warehouse_text}", err=True)
    note = result.interrupted_note()
    if note:
        echo(f"note: {note}", err=True)
    code = refresh_views(obj, bool(result.table_versions), as_json, [result.run_id])
    sys.exit(result.exit_code or code)


@click.command(short_help="Show the ingest ledger (runs or files).")
@click.option("--files", "show_files", is_flag=True, help="One line per input file.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show the most recent N lines.",
)
@click.option(
    "--wide",
    is_flag=True,
    help="Every ledger column, never cut (default: a compact set fitted to the terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def runs(obj: CliContext, show_files: bool, limit: int, wide: bool, as_json: bool) -> None:
    """Show the ingest ledger: recent runs (erasures among them), or files with --files."""
    if sys.stdout is None:  # `cdr runs --json >&-`: a check read exit 0 and no run as fine
        raise OutputUnwritable(
            "cannot write the standard output: it is closed",
            hint="run cdr runs with stdout open (a pipe or a file); the warehouse is unchanged",
        )
    layout = obj.existing_warehouse().layout
    ledger = Ledger(layout)
    # an N past the ledger's length shows it all; past 2**63 the table's tail overflowed
    limit = min(limit, 2**62)
    if show_files:
        files = ledger.files().tail(limit)
        shown = [
            "run_id",
            "source",
            "kind",
            "status",
            "rows_read",
            "rows_loaded",
            "rows_duplicate",
            "rows_rejected",
            "top_reject_reasons",
            "message",
            "seconds",
        ]
        if wide or as_json:  # every column, as --help says: the columns an export added or
            # lacks (unknown_columns, missing_columns) were recorded but shown nowhere
            shown += [c for c in files.columns if c not in shown]
        df = files.select(shown)
    else:
        df = (
            with_erasures(ledger, gone_waits(layout))
            .tail(limit)
            .select(
                "run_id",
                "command",
                "run_date",
                "status",
                "started_at",
                "finished_at",
                "exit_code",
                "files_seen",
                "files_loaded",
                "files_skipped",
                "files_failed",
                "rows_read",
                "rows_loaded",
                "rows_duplicate",
                "rows_rejected",
                "table_versions",
                "message",
            )
        )
    if as_json:
        echo(to_json(df.to_dicts()))
    elif df.is_empty():
        echo("no runs recorded yet", err=True)
    elif wide:
        # every column as long as it is, never fitted to the terminal (for `less -S` or a
        # file), as `cdr report --wide`: fitted, the versions and the message were left out
        echo(text_table(df.columns, df.rows()))
    else:
        echo(files_table(df) if show_files else runs_table(df))


def with_erasures(ledger: Ledger, gone: Collection[str] = ()) -> pl.DataFrame:
    """The ledger's runs and, as runs of `cdr forget`, its erasures, in start order. An
    erasure commits a new version of each table holding the person: without its line, a
    version `--as-of` can name was no run's, and a finance user comparing two versions saw
    figures change with no run in between. Counts only: the erasures ledger keeps no value,
    and the row neither (its selector is the kind of value, `number`)."""
    from cdr_pipeline.privacy.forget import ERASURES_SCHEMA

    runs = runs_seen(ledger, gone)
    erased = ledger.read("erasures", ERASURES_SCHEMA)
    if erased.is_empty():
        return runs
    lines = [
        run_record(
            e["run_id"],
            "cdr forget",
            status="ok",
            started_at=_started(e["run_id"]) or e["erased_at"],
            finished_at=e["erased_at"],
            exit_code=0,
            table_versions=e["table_versions"] or None,
            message=(
                f"erased {e['values_replaced']} value(s) of one person (by "
                f"{e['selector']}) in {e['rows']} row(s) of {e['data_files']} data file(s) "
                f"and {e['other_files']} other file(s)"
            ),
        )
        for e in erased.iter_rows(named=True)
    ]
    extra = pl.DataFrame(lines, schema=runs.schema)
    return pl.concat([runs, extra]).sort("started_at", nulls_last=False)


def _started(run_id: str) -> datetime | None:
    """When a run began, from its id (`20261206T023245807Z-7dc005`: `new_run_id`)."""
    try:
        return datetime.strptime(run_id[:19], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


COMMANDS = [ingest, runs]
