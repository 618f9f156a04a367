"""sys.stderr for cdr's commands: a reader that went away, or a file or device that
cannot take a write, neither crashes a command nor passes unsaid."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any

from cdr_pipeline.errors import (
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OUTPUT_CLOSED,
    EXIT_UNEXPECTED,
)


class StderrGuard(io.TextIOBase):
    """sys.stderr that its reader going away cannot fail. `cdr ... 2>&1 >/dev/null | head
    -1` (or `| grep -q error`) exited 1, "a bug", for a usage error or a bad `--as-of`:
    the hint after the first line raised BrokenPipeError and click ended the command with
    1. A closed stderr now takes what is written (the reader asked for no more; it goes to
    /dev/null, so Python's flush at exit cannot fail either) and the command keeps its own
    exit code.

    A stderr that cannot take a write (the disk of `2>> nightly.jsonl` full, `2>/dev/full`,
    a read-only or failing device) lost every log line, error lines too, and the command
    exited 0 or 3 as if they were there: what it could not write goes to /dev/null as
    well, and the command exits 6 (a write the machine did not take), with a line on
    stdout naming the log's error and the command's own exit code (`log_lost`)."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        super().__init__()
        self._stream = stream
        self.failed: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard()
        except OSError as exc:
            self._lost(exc)
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard()
        except OSError as exc:
            self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        if self.failed is None:
            self.failed = exc
        self._discard()

    def log_lost(self, code: int | str | None, *, json_out: bool = False) -> int:
        """The exit code of a command whose log stderr did not take: 6, with a line on
        stdout (the summary log of a nightly) saying so; a stop (130), a bug (1) or a
        closed stdout (141) keep theirs, which the monitoring reads first. With `--json`
        (`json_out`) stdout holds one JSON document, which a line after it would make
        unreadable to `jq`: the exit code alone says it then."""
        own = code if isinstance(code, int) else (0 if code is None else EXIT_UNEXPECTED)
        if own in (EXIT_UNEXPECTED, EXIT_INTERRUPTED, EXIT_OUTPUT_CLOSED):
            return own
        if json_out:
            return EXIT_ENVIRONMENT
        reason = os.strerror(self.failed.errno) if self.failed and self.failed.errno else "an error"
        with contextlib.suppress(OSError):  # stdout as well: the exit code is all that is left
            sys.stdout.write(
                f"error: the log (stderr) could not be written ({reason}): its lines since "
                f"then are lost, error lines included; the command itself ended with exit "
                f"{own}. Free space where stderr goes or send it elsewhere, then read "
                "`cdr runs` for what the run did\n"
            )
            sys.stdout.flush()
        return EXIT_ENVIRONMENT

    def _discard(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)
        with contextlib.suppress(OSError):
            self._stream.flush()  # what the pipe refused goes to /dev/null

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    @property
    def buffer(self) -> Any:
        return self._stream.buffer


def write_now(fd: int, text: str, stream: Any) -> None:
    """`text` straight to the file descriptor `fd`, encoded as `stream` (its `sys.stdout` or
    `sys.stderr`) encodes: the lines of a process a second Ctrl-C ends at once
    (`interrupts.last_lines`), past a buffer the signal may have caught in mid-write and
    that `os._exit` would not flush."""
    os.write(fd, text.encode(getattr(stream, "encoding", None) or "utf-8", "backslashreplace"))
