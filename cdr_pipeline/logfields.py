"""Fields every log line of a run carries (`run_id`, `command`, `stage`), kept in a context
variable so library code sets them once per run or stage instead of on every call.

`with log_fields(stage="validate"):` adds fields for the block; `LogFieldsFilter` copies the
current fields onto each record that does not set them itself (a call's `extra=` wins). The
JSON log formatter of the CLI writes them as keys (README "Logs").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CONTEXT_FIELDS = ("run_id", "command", "stage")
"""On every JSON log line (null when not known yet)."""

RECORD_FIELDS = (
    "file",
    "kind",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_duplicate",
    "rows_rejected",
    "month",
    "report",
    "exit_code",
    "seconds",
    "columns_missing",
    "columns_unknown",
    "columns_repeated",
)
"""Set with `extra=` where they apply; written only when present."""

_fields: ContextVar[dict[str, Any]] = ContextVar("cdr_log_fields", default={})  # noqa: B039
_session: ContextVar[dict[str, Any] | None] = ContextVar("cdr_log_session", default=None)


@contextmanager
def log_session(**fields: Any) -> Iterator[None]:
    """The outermost block (one CLI command). A `run_id` set inside it stays on the lines
    logged after its block ends, so the command's closing line names the run too."""
    session = _session.set({})
    token = _fields.set(dict(fields))
    try:
        yield
    finally:
        _fields.reset(token)
        _session.reset(session)


@contextmanager
def log_fields(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log record made in the block (nested blocks add to outer ones)."""
    session = _session.get()
    if session is not None and fields.get("run_id"):
        session["run_id"] = fields["run_id"]
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields() -> dict[str, Any]:
    """The fields set by the enclosing `log_fields` blocks."""
    return dict(_fields.get())


class LogFieldsFilter(logging.Filter):
    """Puts the context fields on each record (without overriding a call's `extra=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = {**(_session.get() or {}), **_fields.get()}
        for name, value in fields.items():
            if value is None and name == "run_id":
                value = (_session.get() or {}).get(name)
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
