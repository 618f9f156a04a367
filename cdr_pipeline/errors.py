"""One error hierarchy. Each error carries the exit code the CLI uses and a hint for the user.

Exit codes (documented in README "Exit codes"):
    0 ok · 1 unexpected error · 2 usage · 3 bad input or configuration ·
    4 data-quality failure · 5 another writer holds the warehouse lock.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_QUALITY = 4
EXIT_LOCKED = 5


class CdrError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(CdrError):
    """Configuration is missing, malformed or contradictory."""

    exit_code = EXIT_BAD_INPUT


class InputError(CdrError):
    """An input file cannot be used (unknown kind, wrong encoding, not a DCH export...)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path or ""
        if path and line is not None:
            where = f"{path} line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.line = line


class RejectRateExceeded(InputError):
    """Too many rows of one file were rejected; the file's rows were not published."""


class LockBusy(CdrError):
    """Another writer holds the warehouse lock."""

    exit_code = EXIT_LOCKED


class ConservationError(CdrError):
    """rows read != loaded + duplicate + rejected for a file: a bug, never silently accepted."""

    exit_code = EXIT_UNEXPECTED
