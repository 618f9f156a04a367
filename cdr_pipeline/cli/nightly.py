"""`cdr nightly`: the unattended job."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cdr_pipeline.cli.context import (
    CliContext,
    chunk_rows_option,
    discard_stdout,
    echo,
    max_reject_rate_option,
    pass_cli,
    wait_lock_option,
    writing_output,
)
from cdr_pipeline.cli.render import Progress, file_error_fields, text_table
from cdr_pipeline.cli.stderr import write_now
from cdr_pipeline.interrupts import AT_ONCE, EXIT_AT_ONCE, last_lines
from cdr_pipeline.render import safe_text, to_json

if TYPE_CHECKING:
    from cdr_pipeline.batch import NightlySummary
    from cdr_pipeline.config import Settings

LINE_WRITTEN = "cdr.nightly_line_written"
"""ctx.meta key: the night's closing line is in the summary log (stdout)."""

FOLDER = click.Path(path_type=Path, file_okay=False, readable=False)
"""`--inbox`, `--archive`: a folder this user may not read is the run's to report (exit 3
for the inbox, 6 for the archive, naming it), not click's "Invalid value" usage error (2)."""


_EARLIEST_RUN_DATE = date(1970, 1, 1)
"""The warehouse's times (the ledger's, Delta commits') count from 1970: an earlier run date
is a typo of its year. `--run-date 0026-12-05` ran the whole night, then its reports failed
as 'bad month 26-11' (exit 3); 0001-01-01 ended as an unexpected OverflowError (exit 1)."""


_LATEST_RUN_DATE = date(9999, 11, 30)
"""The reports of a run date's month need the month after it, which a date can hold up to
9999-12: `--run-date 9999-12-31` ran the whole night, then its reports failed as "bad
month '9999-12'" (exit 3), while the plan had listed them."""


def _in_range(value: datetime | None) -> datetime | None:
    if value is not None and value.date() < _EARLIEST_RUN_DATE:
        raise click.BadParameter(
            f"{value.date().isoformat()} is before 1970-01-01: a typo of the year? Give the "
            "date of the night as YYYY-MM-DD (2026-12-05)",
            param_hint="--run-date",
        )
    if value is not None and value.date() > _LATEST_RUN_DATE:
        raise click.BadParameter(
            f"{value.date().isoformat()} is after {_LATEST_RUN_DATE}: a typo of the year? "
            "Give the date of the night as YYYY-MM-DD (2026-12-05)",
            param_hint="--run-date",
        )
    return value


@click.command(short_help="The unattended job: ingest, validate, build, report.")
@click.option(
    "--inbox",
    type=FOLDER,
    help="Folder to load new files from (default: inbox in cdr.toml / CDR_INBOX).",
)
@click.option(
    "--archive",
    type=FOLDER,
    help="Move loaded files here, only after they are committed.",
)
@click.option(
    "--retain-days",
    type=click.IntRange(min=1),
    help="Drop call-leg partitions older than N days (recorded in the ledger; default: "
    "retain_days in cdr.toml, else none).",
)
@click.option(
    "--run-date",
    type=click.DateTime(["%Y-%m-%d"]),
    callback=lambda _ctx, _param, value: _in_range(value),
    help="Date the reports are for (default today in reporting_timezone; 1970-01-01 to "
    "9999-11-30).",
)
@click.option(
    "--fetch/--no-fetch",
    default=None,
    help="Pull records from the Webex APIs first (default: [fetch] nightly in cdr.toml).",
)
@chunk_rows_option
@max_reject_rate_option
@wait_lock_option
@click.option("--dry-run", is_flag=True, help="List what would be done; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def nightly(
    obj: CliContext,
    inbox: Path | None,
    archive: Path | None,
    retain_days: int | None,
    run_date: object,
    fetch: bool | None,
    chunk_rows: int | None,
    max_reject_rate: float | None,
    lock_wait_seconds: float | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Load what is new in the inbox, validate it, rebuild the views and write the standard
    reports for the previous month and the month to date. One exit code, the worst of its
    stages: 0 ok, 3 bad input (the rest still loaded), 4 data quality, 5 when another
    writer holds the lock, 6 a disk full, read-only or denied (or a build out of memory),
    130 stopped, 2 a wrong flag, 1 unexpected; a shell's 137 is kill -9 or the OOM killer
    (README "Exit codes")."""
    from cdr_pipeline.batch import run_nightly
    from cdr_pipeline.errors import ConfigError, OutputUnwritable

    day = run_date.date() if isinstance(run_date, datetime) else None
    settings = None
    try:
        settings = obj.settings(
            chunk_rows=chunk_rows,
            max_reject_rate=max_reject_rate,
            lock_wait_seconds=lock_wait_seconds,
        )
        box = inbox or settings.inbox
        if box is None:
            raise ConfigError("no inbox given", hint="pass --inbox DIR, or set inbox in cdr.toml")
        with last_lines(_line_at_once(day or _night_of(settings), as_json)):
            summary = run_nightly(
                settings,
                box,
                archive=archive,
                retain_days=retain_days,
                dry_run=dry_run,
                run_date=day,
                fetch=fetch,
                progress=Progress(obj.quiet or as_json),
            )
    except (SystemExit, click.exceptions.Exit):
        raise
    except BaseException as exc:
        # a night that ends before its table (the lock, the configuration, a read-only
        # warehouse, a stop) still ends the summary log with its line: the tail of that log,
        # which the alert points at, would otherwise show the night before's "exit 0"
        if not as_json:
            try:
                echo(f"cdr nightly {day or _night_of(settings)}: {_ending(exc)}")
            except OSError:  # the summary log's disk is full: the night's error is the news
                discard_stdout()
            click.get_current_context().meta[LINE_WRITTEN] = True
        raise
    try:
        with writing_output(None):
            _print_night(summary, settings, dry_run, as_json)
    except OutputUnwritable as exc:
        # stdout is the summary log (deploy/): its disk full blamed the warehouse's, and
        # Python's flush at exit failing once more made the exit code 120
        raise OutputUnwritable(
            f"{exc.message}, the night's table: the night itself ended with exit "
            f"{summary.exit_code} (cdr runs)",
            hint="stdout is the summary log of the unit or cron line: free space on its disk "
            "(or raise the job's file size limit, or fix where it goes); the night's work is "
            "committed",
        ) from exc
    sys.exit(summary.exit_code)


def _print_night(summary: NightlySummary, settings: Settings, dry_run: bool, as_json: bool) -> None:
    """The night's table, its files' errors and its closing line (or its JSON)."""
    if as_json:
        echo(to_json(summary))
        return
    if dry_run:
        _print_plan(summary)
    echo(
        text_table(
            ["stage", "exit", "seconds", "result"],
            [(s.name, s.exit_code, round(s.seconds, 1), s.summary) for s in summary.stages],
            wrap_last=True,
        )
    )
    if summary.ingest is not None:
        for f in summary.ingest.errors:
            # one line each: a line break in a file name (inbox/x<LF>y.csv) cut the error line in
            # two, the JSON error record read "error: inbox/x" and -q dropped the rest
            echo(f"error: {safe_text(f.message)}", err=True, fields=file_error_fields(f))
        if summary.ingest.errors:  # as every error ends: which warehouse, from where
            echo(f"warehouse: {settings.warehouse_text}", err=True)
    echo(
        f"cdr nightly {summary.run_date}: exit {summary.exit_code}"
        + (" (dry run, nothing changed)" if dry_run else "")
    )


def _print_plan(summary: NightlySummary) -> None:
    """What a dry run would do: the inbox's files, the reports, retention's drop."""
    echo(
        text_table(
            ["file", "status", "bytes"],
            [(str(f.path), f.status, f.size_bytes) for f in summary.inbox],
        )
    )
    echo("reports: " + ", ".join(summary.planned_reports))
    if summary.retention is not None:
        drop = ", ".join(p for p, _ in summary.retention.dropped) or "nothing"
        later = " (and any day before it in the new files, once loaded)"
        later = later if summary.new_files else ""
        echo(f"retention would drop before {summary.retention.cutoff}: {drop}{later}")


def _line_at_once(night: date, as_json: bool) -> Callable[[], None]:
    """What a second Ctrl-C, which ends the process at once, writes to the summary log: the
    night's line, which it lacked (its tail read the night before's `exit 0`)."""
    line = f"cdr nightly {night}: exit {EXIT_AT_ONCE} (interrupted: stopped at once; {AT_ONCE})"

    def write() -> None:
        if not as_json:  # stdout holds one JSON document or nothing
            write_now(1, line + "\n", sys.stdout)

    return write


def _night_of(settings: Settings | None) -> date:
    """The date of the line of a night stopped before its table: the date its table would
    have said (today in `reporting_timezone`, as `run_nightly` dates a night). UTC's date
    dated a night refused by the lock at 02:30 in Auckland as the night before, whose line
    above it read `exit 0`. UTC's when the settings did not load."""
    if settings is not None:
        from cdr_pipeline.reports.close import reporting_today

        try:
            return reporting_today(settings)
        except Exception:  # the line is written, whatever stopped the night
            pass
    return datetime.now(UTC).date()


def end_summary_log(ctx: click.Context, code: int) -> None:
    """The night's line, for a night stopped before the command began (a SIGTERM while cdr
    started, a wrong flag in the unit): `nightly` writes it for every other ending."""
    from cdr_pipeline.errors import EXIT_INTERRUPTED, EXIT_USAGE

    why = {
        EXIT_INTERRUPTED: "interrupted: run it again to complete the work",
        EXIT_USAGE: "usage error: see cdr nightly --help",
    }.get(code)
    if why and not ctx.meta.get(LINE_WRITTEN):
        echo(f"cdr nightly {_night_of(_settings_of(ctx))}: exit {code} ({why})")


def _settings_of(ctx: click.Context) -> Settings | None:
    """The settings of the command line, when they load (a stop while cdr started may come
    before the group has read its options)."""
    obj = ctx.find_object(CliContext)
    try:
        return obj.settings() if obj is not None else None
    except Exception:  # a bad cdr.toml: the line is written in UTC's date
        return None


def _ending(exc: BaseException) -> str:
    """The exit code and why, of a night stopped by `exc` before its table, as the CLI will
    report it (`cli/main.py`)."""
    from cdr_pipeline import interrupts
    from cdr_pipeline.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, known_error

    if interrupts.STOPPED_BY or isinstance(exc, KeyboardInterrupt):
        return f"exit {EXIT_INTERRUPTED} (interrupted: run it again to complete the work)"
    error = known_error(exc, None)
    if error is None:
        return f"exit {EXIT_UNEXPECTED} (unexpected {type(exc).__name__}: see the log)"
    return f"exit {error.exit_code} (stopped: {safe_text(error.message.splitlines()[0])})"


COMMANDS = [nightly]
