"""What the root group passes to every command, and helpers commands share."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cdr_pipeline.cli.stderr import write_now
from cdr_pipeline.config import Settings, load_settings
from cdr_pipeline.errors import ConfigError, OutputUnwritable, output_error
from cdr_pipeline.logfields import CONTEXT_FIELDS, RECORD_FIELDS, LogFieldsFilter
from cdr_pipeline.render import safe_text, to_json
from cdr_pipeline.state.files import apply_file_mode


def _check_current_folder() -> None:
    """A command started in a folder removed since (a release that replaced the service's
    working folder, a shell left in a deleted checkout) can neither find its cdr.toml nor
    make a relative path absolute: `os.getcwd()` fails, which was exit 1 "report it" without
    a word of which folder or what to do."""
    try:
        os.getcwd()
    except FileNotFoundError:
        gone = os.environ.get("PWD", "")
        raise ConfigError(
            f"the current folder{f' {gone}' if gone else ''} no longer exists "
            "(removed or replaced after this shell or service entered it); nothing was done",
            hint="cd to an existing folder (for the systemd unit: its WorkingDirectory=; "
            "for cron: the folder of its `cd`) and run the command again",
        ) from None


@dataclass
class CliContext:
    warehouse: Path | None = None
    config: Path | None = None
    verbosity: int = 0
    log_json: bool = False
    debug: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    resolved: Settings | None = None
    """The settings the command loaded, so an error message can name the warehouse."""

    def settings(self, **overrides: Any) -> Settings:
        """The command's settings; from here on, files it creates get `file_mode`."""
        merged = {"warehouse": self.warehouse, **self.overrides, **overrides}
        _check_current_folder()
        self.resolved = load_settings(self.config, merged)
        apply_file_mode(self.resolved.file_mode)
        return self.resolved

    def existing_warehouse(self, **overrides: Any) -> Settings:
        """Settings of a command that only reads: a folder that is not a warehouse (a typo
        in --warehouse, a command run from the wrong folder) is refused, never created."""
        from cdr_pipeline.state.lock import check_folder

        settings = self.settings(**overrides)
        check_folder(settings.layout)  # a file is named as one, not as "not a warehouse"
        if not settings.layout.is_warehouse():
            raise ConfigError(
                f"{settings.warehouse.absolute()} is not a warehouse "
                "(no state/, tables/ or cdr.duckdb in it)",
                hint="check --warehouse, CDR_WAREHOUSE or cdr.toml, or load data first "
                "with `cdr ingest` or `cdr nightly`",
            )
        return settings

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange lets `nan` through (no comparison holds) and `inf` past a bound
    left open: refused here as any bad flag value is (exit 2, naming the option)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


NAME_MAX = 255
"""The longest file or folder name in bytes (ext4, XFS, btrfs, APFS, NTFS in characters)."""


class OutPath(click.Path):
    """A path the command writes (`--out`, `--labels`): besides click's checks of the path,
    a file where one of its folders should be (`--out report.csv/x.csv`) is refused like
    any bad option value (exit 2, naming the file), not left to fail the write as a bug
    (exit 1, NotADirectoryError) after the work is done; so is a name no file system takes
    (over `NAME_MAX` bytes), and a file path written as a folder's (`--out reports/`)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path: name where to write.", param, ctx)
        path = super().convert(value, param, ctx)
        text = os.fsdecode(value) if isinstance(value, (str, bytes)) else ""
        if not self.dir_okay and text.endswith(tuple(s for s in (os.sep, os.altsep) if s)):
            # a file path drops a trailing `/`: `--out reports/` wrote a file named `reports`
            self.fail(
                f"{text} names a folder (it ends with {text[-1]}): give the name of the file "
                "to write, in that folder or elsewhere.",
                param,
                ctx,
            )
        _check_current_folder()  # before `absolute()` below fails without a word
        long = [p for p in Path(os.fsdecode(path)).parts if len(os.fsencode(p)) > NAME_MAX]
        if long:  # no file system makes it: the write (or a folder's test) failed as a bug
            self.fail(f"{long[0][:40]}...: a name longer than {NAME_MAX} bytes.", param, ctx)
        for folder in Path(os.fsdecode(path)).absolute().parents:
            if folder.exists():
                if not folder.is_dir():
                    self.fail(f"{folder} is a file, not a folder.", param, ctx)
                break
        return path


wait_lock_option = click.option(
    "--wait-lock",
    "lock_wait_seconds",
    type=FiniteFloatRange(min=0),
    help="Seconds to wait for another writer (default: lock_wait_seconds in cdr.toml, else 0: "
    "exit 5 at once).",
)
"""Shared by the commands that write the warehouse."""

chunk_rows_option = click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    help="Rows per chunk (memory bound; default 25000 or chunk_rows in cdr.toml).",
)
"""Shared by the commands that ingest."""

max_reject_rate_option = click.option(
    "--max-reject-rate",
    type=FiniteFloatRange(0, 1),
    help="Share of a file's rows that may be quarantined before the file is not published "
    "(default: max_reject_rate in cdr.toml, else 0.01 = 1 %).",
)
"""Shared by the commands that ingest."""

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
"""For scripts: the command's result object as JSON on stdout."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the run's `run_id`, `command`
    and `stage` (null when not known yet), and the fields a call set with `extra=`
    (`file`, `rows_*`, `month`, `exit_code`, `seconds`, ...; README "Logs")."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            # RFC 3339 (`+13:00`, not `+1300`), which log shippers' time parsers expect
            "time": datetime.fromtimestamp(record.created, UTC)
            .astimezone()
            .isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            data[name] = getattr(record, name, None)
        for name in RECORD_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return to_json(data, indent=None)


class SafeFormatter(logging.Formatter):
    """Log lines whose control characters (from data in a message) are shown as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(super().format(record), newlines=True)


class LineHandler(logging.StreamHandler):
    """Log lines on a line of their own: a record logged while the progress line waited for
    its end (`-v` on a terminal, the reader's note on a file's columns) was written after
    it, `... 1,970 rows 100%INFO cdr_pipeline.ingest.drift: ...`, as `echo` never does."""

    def emit(self, record: logging.LogRecord) -> None:
        if STDERR.open_line:
            STDERR.open_line = False
            self.stream.write("\n")
        super().emit(record)


def configure_logging(verbosity: int, log_json: bool) -> None:
    # -q (-1) keeps warnings as the default does: it leaves out progress, notes and
    # summaries (`echo`), never a warning of cdr's (README, "Command line")
    level = {-1: logging.WARNING, 0: logging.WARNING, 1: logging.INFO}.get(
        max(min(verbosity, 2), -1), logging.DEBUG
    )
    handler = LineHandler(sys.stderr)
    handler.addFilter(LogFieldsFilter())
    handler.setFormatter(
        JsonFormatter() if log_json else SafeFormatter("%(levelname)s %(name)s: %(message)s")
    )
    STDERR.json = log_json
    STDERR.quiet = verbosity < 0
    root = logging.getLogger("cdr_pipeline")
    root.handlers[:] = [handler]
    # --log-json logs at least info (the per-file lines), unless -q asks for errors and
    # warnings only
    root.setLevel(level if not log_json or verbosity < 0 else min(level, logging.INFO))
    root.propagate = False
    # Python warnings of the libraries (pyspark warns about pandas when GX imports it) go
    # through the same handler: one JSON object a line with --log-json, hidden with -q
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.handlers[:] = [handler]
    warnings_log.setLevel(logging.WARNING if verbosity >= 0 else logging.ERROR)
    warnings_log.propagate = False


class _Stderr:
    """What this process's stderr is doing: JSON lines only (`--log-json`), and whether a
    progress line on the terminal waits for its end (a file that failed never reaches
    100 %)."""

    json = False
    open_line = False
    quiet = False
    """-q: "only errors" (and the warnings and hints that go with them) on stderr."""


STDERR = _Stderr()
_CLI_LOG = logging.getLogger("cdr_pipeline.cli")


def log_now(logger: logging.Logger, level: int, message: str, **extra: Any) -> None:
    """One log line of `logger`, as the command's handlers format it (one JSON object with
    `--log-json`, its fields included), written straight to stderr (`write_now`)."""
    if not logger.isEnabledFor(level):
        return
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None, extra=extra)
    # on a line of its own, as `LineHandler` writes it: not after a progress line's 40%
    start = "\n" if STDERR.open_line else ""
    for handler in logging.getLogger("cdr_pipeline").handlers:
        if handler.filter(record):
            write_now(2, start + handler.format(record) + "\n", sys.stderr)
            start = ""


def _level_of(text: str) -> int:
    if text.startswith("error"):
        return logging.ERROR
    # "warehouse:" ends an error's message (which warehouse, from where): -q keeps it too
    if text.startswith(("warning", "hint", "terminated", "interrupted", "warehouse:")):
        return logging.WARNING
    return logging.INFO


def echo(
    message: str = "", err: bool = False, nl: bool = True, fields: dict[str, Any] | None = None
) -> None:
    """`click.echo` of text that may hold data (file names, notes, errors): control
    characters are shown as escapes, never sent to the terminal. With `--log-json`, a line
    for stderr is a JSON log record instead (`error:` lines at level error), so stderr stays
    one object a line for `jq`; `fields` go on that record (`file`, `exit_code`, ...).
    With -q, stderr lines that only inform (summaries, `note:`) are left out, so a cron job
    running `cdr -q ...` mails nothing when all went well."""
    if STDERR.open_line:
        STDERR.open_line = False
        click.echo("", err=True)
    if err and STDERR.json:
        for line in safe_text(message, newlines=True).splitlines():
            if line.strip():
                _CLI_LOG.log(_level_of(line), "%s", line, extra=fields)
        return
    if err and STDERR.quiet:
        kept = [
            line
            for line in message.splitlines()
            if line.strip() and _level_of(line.strip()) > logging.INFO
        ]
        if not kept:
            return
        message = "\n".join(kept)
    click.echo(safe_text(message, newlines=True), err=err, nl=nl)


@contextmanager
def writing_output(out: Path | None) -> Iterator[None]:
    """While a command writes its output to `out` (a file or folder; None: stdout), a write
    the machine cannot take (disk full, read-only, permission) names that output, exit 6
    (`output_error`): without a file name in the error, it was blamed on the warehouse,
    the wrong disk to free."""
    if out is None and sys.stdout is None:  # started with stdout closed (`cdr report >&-`)
        raise OutputUnwritable(
            "cannot write the standard output: it is closed",
            hint="run the command with stdout open, or pass --out FILE; the warehouse is unchanged",
        )
    try:
        yield
        if out is None:
            sys.stdout.flush()
    except Exception as exc:
        error = output_error(exc, out)
        if error is None:
            raise
        if out is None:
            discard_stdout()
        raise error from exc


def stdout_error(exc: BaseException) -> OutputUnwritable | None:
    """`exc` as the error of stdout when stdout is what failed (a full disk under `cdr
    ingest >> ingest.log`), else None. A write that stdout refused stays in its buffer, so
    flushing it fails again. Without it the error, which names no file, blamed the
    warehouse's disk, and Python's flush at exit turned the exit code into 120."""
    if not isinstance(exc, OSError) or exc.filename is not None or sys.stdout is None:
        return None
    if not _raised_in_echo(exc):  # a write under the warehouse, on the disk stdout is on too
        return None
    try:
        sys.stdout.flush()
    except OSError:
        error = output_error(exc, None)
        if error is None:
            return None
        discard_stdout()
        # not --out's "the warehouse is unchanged": an ingest's load is committed by now
        error.hint = (
            "stdout goes to a file or device that cannot take it (full, read-only, not "
            "yours): free space there or send it elsewhere; what the command wrote to the "
            "warehouse is kept (cdr runs)"
        )
        return error
    return None


def _raised_in_echo(exc: BaseException) -> bool:
    """`exc` came from printing (`click.echo`, which every line of cdr's output goes
    through), not from a write of a file."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "echo" and code is click.echo.__code__:
            return True
        tb = tb.tb_next
    return False


def discard_stdout() -> None:
    """What is still buffered for stdout, and anything printed later, goes nowhere: stdout
    cannot take it (full, or its reader gone), and Python's flush at exit would fail again,
    print a traceback and turn the exit code into 120."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
