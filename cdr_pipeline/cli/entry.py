"""`cdr`'s entry point (`python -m cdr_pipeline` too): stops are caught from the first
moment, before the commands and their libraries are imported (`interrupts.catch_early`)."""

from __future__ import annotations


def main() -> None:
    from cdr_pipeline.interrupts import catch_early

    catch_early()
    _stderr_on_devnull()
    from cdr_pipeline.cli.main import main as run

    run()


def _stderr_on_devnull() -> None:
    """A process started with its stderr closed (`2>&-` in a cron line, a daemon that closed
    it) has `sys.stderr` None: the first command that asked whether stderr is a terminal
    failed, exit 1 "unexpected AttributeError" after a nightly had loaded its files, and
    the next file opened took descriptor 2, where anything a library writes to stderr would
    have gone into it. Descriptor 2 is pointed at the null device first, as a daemon does:
    the log lines are dropped, as the closed stderr asked, and the exit code is the run's."""
    import os
    import sys

    if sys.stderr is not None:
        return
    try:
        os.fstat(2)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
        if fd != 2:
            os.dup2(fd, 2)
            os.close(fd)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
