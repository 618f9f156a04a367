"""Ctrl-C and SIGTERM stop a run where it is safe to stop, not wherever they land.

Python raises KeyboardInterrupt at whatever bytecode the main thread runs when a signal
arrives. Landing inside `ThreadPoolExecutor.submit`, between starting a worker thread and
recording it, leaves a thread `shutdown(wait=True)` does not wait for: the stager then closed
a Parquet writer that thread was still writing, and the process died of SIGSEGV (a Ctrl-C
or `systemctl stop` during an ingest, about one time in fifty under load). Inside
`deferred()`, the signal is only remembered; the code raises it at its checkpoints (between
chunks, files and partitions) and at the end of the block, where nothing is half-started.

A second Ctrl-C while a stop waits for its checkpoint ends `cdr` at once, as kill -9 would:
the next writer clears what the run left (the warehouse is crash-safe); in a notebook it
raises KeyboardInterrupt at once, as Python does. A second
SIGTERM is ignored (`cdr_pipeline.cli.main`). Outside `deferred()`, nothing changes: a
query DuckDB runs in the main thread is interrupted at once, as before.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

EXIT_AT_ONCE = 130
AT_ONCE = "the next run clears what this one left"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python would raise KeyboardInterrupt for Ctrl-C."""


STOPPED_BY: list[int] = []
"""The signals (SIGINT, SIGTERM) that asked the command to stop (set by the CLI's handlers
and by `deferred()`'s: not when a test calls the CLI in its own process)."""

EXIT_ON_SECOND_STOP = [False]
"""True in the `cdr` command (set by its `main`): a second Ctrl-C ends the process at once.
In a library caller (a notebook) it raises KeyboardInterrupt where it lands instead."""

_pending: list[int] = []
_AT_ONCE: list[Callable[[], None]] = []
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the command as SIGTERM does. SIGHUP (the terminal or ssh session of a
run started by hand closed) ended it by Python's default, exit 129 ("a code no table
documents") with no log line, its run `running` and its staged files left until the next
writer; now it stops at the next safe point, records itself interrupted and exits 130."""
_early: list[int] = []


def catch_early() -> None:
    """Remember Ctrl-C and SIGTERM from the start of `cdr` until its handlers are installed
    (`take_early`). Importing the commands takes a second or more: a SIGTERM then (a
    shutdown at the timer's hour) ended the process by Python's default, exit 143 with no
    line in either log, and a Ctrl-C printed an import's traceback."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _remember_early)


def _remember_early(signum: int, frame: FrameType | None) -> None:
    if signum in TERMINATING:  # one is enough, as for `_remember`
        signal.signal(signum, signal.SIG_IGN)
    _early.append(signum)


def terminated_early() -> bool:
    """Whether a SIGTERM came before the CLI's handlers: it stays ignored (one is enough)."""
    return any(s in _early for s in TERMINATING)


def take_early() -> None:
    """Raise the stop `catch_early` remembered, if any, as the command's own stop."""
    if _early:
        signum = _early[0]
        _early.clear()
        STOPPED_BY.append(signum)
        raise stop_for(signum)


def reset() -> None:
    """Forget the stops of earlier commands run in this process (a notebook, a test)."""
    STOPPED_BY.clear()
    _pending.clear()


def stop_for(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises: `Terminated` for SIGTERM, else KeyboardInterrupt."""
    return Terminated() if signum in TERMINATING else KeyboardInterrupt()


def pending() -> bool:
    """True while a stop waits for a checkpoint."""
    return bool(_pending)


def checkpoint() -> None:
    """Raise the stop that arrived since the last checkpoint, if any. Call it where the
    caller holds nothing half-started (no thread being started, no file half-written)."""
    if _pending:
        raise stop_for(_pending.pop())


def _remember(signum: int, frame: FrameType | None) -> None:
    if _pending and signum == signal.SIGINT:  # asked twice: stop now
        if not EXIT_ON_SECOND_STOP[0]:  # a notebook's kernel lives on: raise here, as before
            _pending.clear()
            raise KeyboardInterrupt
        _write_last_lines()
        os._exit(EXIT_AT_ONCE)  # as kill -9 would, which the warehouse survives
    if signum in TERMINATING:  # one is enough (systemd sends SIGKILL after its timeout)
        signal.signal(signum, signal.SIG_IGN)
    STOPPED_BY.append(signum)
    _pending.append(signum)


@contextmanager
def last_lines(write: Callable[[], None]) -> Iterator[None]:
    """Within: a second Ctrl-C that ends `cdr` at once first calls `write`, which writes the
    command's closing lines with `os.write` (nothing buffered: `os._exit` flushes nothing).
    It ended the process with one plain line on stderr: a nightly's summary log (stdout) got
    no line at all, its tail still read the night before's `exit 0`, and its JSON log a line
    that is not JSON and no closing `"exit_code": 130`. The latest block's `write` comes
    first."""
    _AT_ONCE.append(write)
    try:
        yield
    finally:
        _AT_ONCE.remove(write)


def _write_last_lines() -> None:
    if not _AT_ONCE:
        os.write(2, f"stopped at once; {AT_ONCE}\n".encode())
    for write in reversed(_AT_ONCE):
        with suppress(Exception):  # the process ends now, whatever a line met
            write()


@contextmanager
def deferred(raise_at_end: bool = True) -> Iterator[None]:
    """Within: Ctrl-C and SIGTERM are remembered, raised by `checkpoint()`. On leaving
    normally, a stop still waiting is raised (`raise_at_end`) or left for the caller's next
    checkpoint (a commit that finished must count as done). Only a signal already handled in
    Python is taken over (the CLI's handlers, Python's Ctrl-C): SIGTERM's default (end the
    process) stays. Outside the main thread, signals never reach Python code: nothing to do."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before: dict[int, Any] = {}
    for signum in _STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler) and handler is not _remember:
            before[signum] = handler
            signal.signal(signum, _remember)
    try:
        yield
    except BaseException:
        _pending.clear()  # the error ends the block: it carries the stop (`STOPPED_BY`)
        raise
    finally:
        for taken, handler in before.items():
            # a SIGTERM remembered stays ignored (SIG_IGN): the clean-up after it must finish
            if signal.getsignal(taken) is _remember:
                signal.signal(taken, handler)
    if raise_at_end:
        checkpoint()
