"""`cdr build`: (re)create the `cdr.duckdb` views from `sql/`."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence

import click

from cdr_pipeline.cli.context import CliContext, echo, pass_cli
from cdr_pipeline.cli.render import terminal_width, text_table
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED
from cdr_pipeline.interrupts import STOPPED_BY
from cdr_pipeline.render import shorten_middle, to_json


@click.command(short_help="Bring cdr.duckdb's views and kept marts up to date.")
@click.option(
    "--full",
    is_flag=True,
    help="Recreate every view and compute every kept mart whole (default: only what the "
    "tables' new versions changed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def build(obj: CliContext, full: bool, as_json: bool) -> None:
    """Bring <warehouse>/cdr.duckdb up to date: every view of sql/ (plus the generated stg_
    views) over the latest table versions, and the marts kept as tables (fct_calls,
    fct_webex_go_leg_devices) recomputed for the days and calls that changed since the last
    build. With --full, or when sql/, the settings or the pseudonym key changed, every view
    is recreated and the kept marts are computed whole. Built in a temporary file and
    renamed into place, so a reader holding the old file open is never blocked.

    Exits 3 when a view is malformed (it names the file); the previous cdr.duckdb stays."""
    from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse

    settings = obj.existing_warehouse()
    result = build_warehouse(settings) if full else refresh_warehouse(settings)
    if as_json:
        echo(to_json(result))
        sys.exit(0)
    if not obj.quiet and result.full:
        echo(
            text_table(
                ["view", "layer", "key", "from"],
                [(v.name, v.layer, ", ".join(v.key), v.origin) for v in result.views],
            )
        )
    if result.full:
        echo(f"built {result.describe()} in {result.seconds:.2f}s")
    else:  # a line each: on one line, a refresh's summary ran past 200 columns
        width = terminal_width()
        built = f"built {result.path} in {result.seconds:.2f}s"
        echo(shorten_middle(built, width - 1) if width else built)
        echo("\n".join(_fitted(f"  {line}", width) for line in result.refreshed()))
    # a ledger folder fills as commands run (retention's only once it drops a partition):
    # there is nothing to load for it, so it gets no note
    waiting = [t for t in result.empty_tables if not t.startswith("ledger/")]
    if waiting:
        echo(
            f"note: no data loaded yet for {', '.join(waiting)}; their views are empty "
            "until an ingest loads some",
            err=True,
        )
    sys.exit(0)


def refresh_views(
    obj: CliContext, committed: bool = True, quiet: bool = False, run_ids: Sequence[str] = ()
) -> int:
    """Move `cdr.duckdb`'s views to the table versions a command `committed` (a refresh,
    or the whole build when `sql/`, the settings or the key changed); without a commit, only
    when the views are behind the tables (an earlier command's refresh failed). Returns 0,
    or the exit code of a refresh that failed: the data is committed all the same, the
    previous cdr.duckdb stays, and the ledger rows of `run_ids` say so."""
    from cdr_pipeline.errors import known_error
    from cdr_pipeline.warehouse import refresh_warehouse, views_behind

    settings = obj.settings()
    if not committed and not views_behind(settings):
        return 0
    try:
        result = refresh_warehouse(settings)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the build is private, cdr.duckdb stays
        _stopped(settings, run_ids)
        raise
    except Exception as exc:  # a view that does not build, a full disk...
        if STOPPED_BY:  # DuckDB makes the stop its own error ("Query interrupted")
            _stopped(settings, run_ids)
            raise
        error = known_error(exc, settings.warehouse)
        if error is None:  # a bug: the run row must not say the command ended well
            _note_runs(
                settings,
                run_ids,
                EXIT_UNEXPECTED,
                f"the views were not rebuilt: unexpected {type(exc).__name__}: {exc} "
                "(report it; the data is committed)",
            )
            raise
        message = f"the views were not rebuilt: {error.message}"
        hint = f"{error.hint}; " if error.hint else ""
        echo(f"error: {message}", err=True)
        echo(
            f"hint: {hint}the data this run loaded is committed: cdr build (or the next "
            "ingest) brings the views up to date",
            err=True,
        )
        _note_runs(settings, run_ids, error.exit_code, f"{message} (run cdr build)")
        return error.exit_code
    if not (obj.quiet or quiet):
        text = f"views read {(result.versions or 'no table yet').replace(',', ', ')}"
        echo(_fitted(text, terminal_width(sys.stderr)), err=True)
    return 0


def _fitted(text: str, width: int | None) -> str:
    """`text` wrapped within a terminal of `width` columns (as is when not a terminal): the
    terminal would wrap a list of table versions mid-word; this breaks it between them,
    the lines after the first indented two more."""
    if not width:
        return text
    indent = " " * (len(text) - len(text.lstrip()) + 2)
    return textwrap.fill(text, width - 1, subsequent_indent=indent, break_long_words=False)


def _stopped(settings: Settings, run_ids: Sequence[str]) -> None:
    """Say that a stop came during the refresh, after the data was committed."""
    echo(
        "note: stopped while refreshing the views: the data this run loaded is committed; "
        "cdr build (or the next ingest) brings the views up to date",
        err=True,
    )
    _note_runs(
        settings, run_ids, EXIT_INTERRUPTED, "the views were not rebuilt: stopped (run cdr build)"
    )


def _note_runs(settings: Settings, run_ids: Sequence[str], code: int, message: str) -> None:
    """The ledger rows of `run_ids` take the exit code and message of the failed refresh
    (best effort: on a full disk the note itself may not fit)."""
    from cdr_pipeline.state.ledger import Ledger

    if not run_ids:
        return
    try:
        Ledger(settings.layout).note_after(run_ids, code, message)
    except OSError as exc:
        echo(f"note: the ledger does not record this ({exc.strerror or exc})", err=True)


COMMANDS = [build]
