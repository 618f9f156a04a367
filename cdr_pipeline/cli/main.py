"""`cdr` root group: global options, logging set-up and the one error boundary."""

from __future__ import annotations

import importlib
import io
import logging
import pkgutil
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

import cdr_pipeline.cli as cli_pkg
from cdr_pipeline import __version__
from cdr_pipeline.cli.context import (
    STDERR,
    CliContext,
    configure_logging,
    discard_stdout,
    echo,
    log_now,
    stdout_error,
)
from cdr_pipeline.cli.stderr import StderrGuard
from cdr_pipeline.cli.usage import option_named_file
from cdr_pipeline.errors import (
    EXIT_INTERRUPTED,
    EXIT_OUTPUT_CLOSED,
    EXIT_UNEXPECTED,
    CdrError,
    known_error,
)
from cdr_pipeline.interrupts import (
    AT_ONCE,
    EXIT_ON_SECOND_STOP,
    STOPPED_BY,
    TERMINATING,
    Terminated,
    checkpoint,
    last_lines,
    reset,
    stop_for,
    take_early,
    terminated_early,
)
from cdr_pipeline.logfields import log_session
from cdr_pipeline.render import safe_text, to_json

log = logging.getLogger("cdr_pipeline.cli")
JSON_WANTED = "cdr.json_wanted"


class CdrGroup(click.Group):
    """Turns library errors into a clear message and their documented exit code. `--debug`
    adds the traceback; it never changes the exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        # the sub-command's name: click 8.2 keeps it in _protected_args, 8.1 in protected_args
        args = _command_args(ctx)
        name = args[0] if args and args[0] in self.commands else None
        # a script that asked for --json gets a JSON document on stdout even when the
        # command fails before it prints one (a held lock, a full disk, a bad setting)
        ctx.meta[JSON_WANTED] = "--json" in args[1:]
        if name is None:
            return self._invoke(ctx)
        t0 = time.monotonic()
        code = 0

        def ended_at_once() -> None:  # a second Ctrl-C: the lines the `finally` would write
            seconds = round(time.monotonic() - t0, 3)
            log_now(log, logging.WARNING, "stopped at once by a second Ctrl-C: " + AT_ONCE)
            log_now(
                log,
                logging.INFO,
                f"cdr {name} finished: exit {EXIT_INTERRUPTED} in {seconds:.1f}s",
                exit_code=EXIT_INTERRUPTED,
                seconds=seconds,
            )

        with log_session(command=f"cdr {name}", stage=name, run_id=None):
            try:
                with last_lines(ended_at_once):
                    return self._invoke(ctx)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                raise
            except click.exceptions.Exit as exc:
                code = exc.exit_code
                raise
            except click.ClickException as exc:
                code = exc.exit_code
                raise
            finally:
                if name == "nightly" and not ctx.meta.get(JSON_WANTED):
                    from cdr_pipeline.cli.nightly import end_summary_log

                    end_summary_log(ctx, code)
                seconds = round(time.monotonic() - t0, 3)
                log.info(
                    "cdr %s finished: exit %s in %.1fs",
                    name,
                    code,
                    seconds,
                    extra={"exit_code": code, "seconds": seconds},
                )

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        logs_json = "--log-json" in args  # before click's parser takes `args` apart
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:  # a wrong flag of `cdr` itself
            if not logs_json:
                raise
            raise _json_error(exc, 0) from None

    def _invoke(self, ctx: click.Context) -> Any:
        reset()  # only this command's stops count (several may run in one process)
        args = _command_args(ctx)  # click's Group.invoke empties them
        try:
            result = super().invoke(ctx)
            checkpoint()  # a stop the command let a commit finish before
            return result
        except click.ClickException as exc:
            raise _usage_error(ctx, exc, args) from None
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt as exc:
            _interrupted(isinstance(exc, Terminated))
        except Exception as exc:
            if isinstance(exc, BrokenPipeError) and _stdout_closed():
                _output_closed()
            if STOPPED_BY:  # a library made the interrupt its own error ("Query interrupted")
                _interrupted(STOPPED_BY[0] in TERMINATING)
            obj = ctx.find_object(CliContext)
            debug = obj is not None and obj.debug
            error = stdout_error(exc) or known_error(exc, _root(obj))
            if debug:
                # the traceback is added; the exit code stays the one documented
                traceback.print_exc(file=sys.stderr)
            if error is None:
                log.debug("unexpected error", exc_info=True)
                echo(f"error: unexpected {type(exc).__name__}: {safe_text(str(exc))}", err=True)
                echo("hint: rerun with --debug for the traceback, and report it", err=True)
                sys.exit(EXIT_UNEXPECTED)
            _report_error(obj, error)
            if ctx.meta.get(JSON_WANTED):
                document = {"exit_code": error.exit_code, "error": error.message}
                click.echo(to_json({**document, "hint": error.hint or None}))
            sys.exit(error.exit_code)


def _command_args(ctx: click.Context) -> list[str]:
    """The command line after `cdr`'s own flags: the command's name and its arguments."""
    # click 8.2 keeps the command's name in _protected_args, 8.1 in protected_args
    protected = getattr(ctx, "_protected_args", None)
    return [*(ctx.protected_args if protected is None else protected), *ctx.args]


def _usage_error(
    ctx: click.Context, exc: click.ClickException, args: list[str]
) -> click.ClickException | click.exceptions.Exit:
    """What ends a command that click refused (a wrong flag, a bad value): the error as
    click shows it, or with `--log-json` a JSON line and a quiet exit."""
    # click's own messages (a bad option value) may echo text from the command line;
    # line breaks stay (the help of a group named without its command is one)
    exc.message = safe_text(exc.message, newlines=True)
    if isinstance(exc, click.NoSuchOption) and (hint := option_named_file(args)):
        exc.message += "\n" + safe_text(hint)
        exc.possibilities = None  # "did you mean --help?": it was a file
    if not ctx.params.get("log_json"):
        return exc
    return _json_error(exc, -1 if ctx.params.get("quiet") else ctx.params.get("verbose") or 0)


def _json_error(exc: click.ClickException, verbosity: int) -> click.exceptions.Exit:
    """A usage error as one JSON log line (`--log-json`), and the exit that ends the command
    with its code without click printing it again: its usage text on stderr was three lines
    that are not JSON in the job's log, where `jq` stopped reading ("parse error"), and no
    error-level line said the night failed."""
    if not STDERR.json:  # `cdr`'s own flags or the command's name: before logging was set
        configure_logging(verbosity, True)
    where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "cdr"
    log.error(
        "%s (hint: see %s --help)",
        exc.format_message(),
        where,
        extra={"exit_code": exc.exit_code},
    )
    return click.exceptions.Exit(exc.exit_code)


def _interrupted(terminated: bool) -> NoReturn:
    name = signal.Signals(STOPPED_BY[0]).name if STOPPED_BY else "SIGTERM"
    echo(f"terminated ({name})" if terminated else "interrupted", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has closed it (`cdr runs | head`), as opposed to
    another broken pipe (a socket, a child process): the kernel flags such a pipe's write end
    with POLLERR."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR)
        return any(event & select.POLLERR for _fd, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no such fd (a test's captured stdout)
        return False


def _output_closed() -> NoReturn:
    """Stop quietly, as a Unix tool that a closed pipe stopped does: the reader asked for no
    more (`| head`), which is no error of cdr's to report. What is still buffered for stdout
    goes nowhere (`discard_stdout`)."""
    log.debug("stdout was closed by its reader; output cut short")
    discard_stdout()
    sys.exit(EXIT_OUTPUT_CLOSED)


def _root(obj: CliContext | None) -> Path | None:
    """The warehouse folder, for naming it in an environment error (best effort)."""
    if obj is None:
        return None
    try:
        return obj.settings().warehouse
    except Exception:
        return obj.warehouse


def _report_error(obj: CliContext | None, exc: CdrError) -> None:
    """The message, the hint and the warehouse used (and where it came from) on stderr; one
    JSON log line instead with --log-json, so stderr stays one object a line."""
    where = obj.resolved.warehouse_text if obj is not None and obj.resolved else None
    if obj is not None and obj.log_json:
        log.error(
            "%s%s%s",
            exc.message,
            f" (hint: {exc.hint})" if exc.hint else "",
            f" (warehouse: {where})" if where else "",
            extra={"exit_code": exc.exit_code},
        )
        return
    echo(f"error: {safe_text(exc.message)}", err=True)
    if exc.hint:
        echo(f"hint: {safe_text(exc.hint)}", err=True)
    if where:
        echo(f"warehouse: {where}", err=True)


@click.group(cls=CdrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cdr")
@click.option(
    "--warehouse",
    type=click.Path(path_type=Path, file_okay=False),
    help="Warehouse folder (env CDR_WAREHOUSE, cdr.toml, default ./warehouse).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="cdr.toml to read (env CDR_CONFIG; default: the nearest cdr.toml in this folder "
    "or a parent).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and warnings; no progress or notes.")
@click.option("--log-json", is_flag=True, help="Log lines as JSON (for unattended runs).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    warehouse: Path | None,
    config: Path | None,
    verbose: int,
    quiet: bool,
    log_json: bool,
    debug: bool,
) -> None:
    """cdr-pipeline: Webex Calling call records (and Webex Go) into a validated warehouse.

    Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 bad input or configuration,
    4 data-quality failure, 5 another writer holds the warehouse lock,
    6 the warehouse cannot be written (disk full, read-only, permission, a build out of
    its memory: build_memory_mb, or a table's log or data file damaged),
    130 stopped by Ctrl-C, SIGTERM or SIGHUP (run the same command again to complete
    the work),
    141 the reader of stdout closed it (| head); a shell reports 137 (kill -9, the OOM
    killer) or 143 (SIGTERM as cdr starts): killed before it could say anything.
    """
    verbosity = -1 if quiet else verbose
    ctx.obj = CliContext(warehouse, config, verbosity, log_json, debug)
    configure_logging(verbosity, log_json)
    take_early()  # a stop while cdr started: logged as set, before the command begins


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in ("main", "context", "entry", "usage") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cdr_pipeline.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def _on_signal(signum: int, frame: object) -> None:
    """Ctrl-C and SIGTERM (`systemctl stop`, the unit's `TimeoutStartSec`, a shutdown,
    `kill`) stop a command the same way: the run records itself `interrupted`, removes what
    it staged and the command exits 130. Python's default for SIGTERM ended the process on
    the spot: no closing log line, the ledger still said `running`, staged files stayed
    until the next writer. The signal is remembered because DuckDB turns the interrupt of a
    query into its own error ("Query interrupted"). A second SIGTERM is ignored so the
    clean-up can finish (SIGKILL still ends it, safely). Where raising at any bytecode is
    unsafe (an ingest starting threads), `interrupts.deferred()` takes these over."""
    STOPPED_BY.append(signum)
    if signum in TERMINATING:
        signal.signal(signum, signal.SIG_IGN)
    raise stop_for(signum)


def _buffered_stdout() -> None:
    """Under PYTHONUNBUFFERED (common in containers and units, for prompt logs) stdout's
    text layer writes to the raw file, and a write the disk takes only in part (8 KiB left
    of 11 KiB of report) is cut short without an error: `cdr report > file` exited 0 with
    the file truncated. A buffered writer writes the rest or raises; flushed at each line,
    output stays as prompt."""
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and isinstance(out.buffer, io.RawIOBase):
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(out.buffer),
            encoding=out.encoding,
            errors=out.errors,
            line_buffering=True,
        )


def main() -> None:
    _buffered_stdout()
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr = StderrGuard(sys.stderr)
    for signum in TERMINATING:  # a SIGTERM (or SIGHUP) while cdr started stays ignored
        signal.signal(signum, signal.SIG_IGN if terminated_early() else _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    EXIT_ON_SECOND_STOP[0] = True
    # standalone mode: click itself prints usage errors and exits 2 (EXIT_USAGE)
    try:
        cli.main(prog_name="cdr", standalone_mode=True)
    except SystemExit as exc:
        # click's own answer to a closed stdout (while printing help) is a silent exit 1
        if exc.code == EXIT_UNEXPECTED and _stdout_closed():
            _output_closed()
        if isinstance(sys.stderr, StderrGuard) and sys.stderr.failed is not None:
            # `--json` of the sub-command, as `CdrGroup.invoke` reads it (JSON_WANTED)
            json_out = "--json" in sys.argv[1:]
            sys.exit(sys.stderr.log_lost(exc.code, json_out=json_out))
        raise
