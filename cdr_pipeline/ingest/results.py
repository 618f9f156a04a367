"""Result objects of an ingest run: what the CLI renders and tests and notebooks read."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdr_pipeline.errors import EXIT_OK
from cdr_pipeline.render import not_ascii, visible_short
from cdr_pipeline.state.ledger import FILES_SCHEMA


@dataclass
class ProgressEvent:
    """Where a long job is. An ingest sends one with `done` as each source ends (a plain
    file, a gzip stream, a ZIP member), however it ended: `status` says how (`loaded`,
    `empty`, `failed`) and `message`, for a failure, why."""

    source: str
    rows_read: int
    bytes_read: int
    total_bytes: int
    done: bool = False
    status: str | None = None
    message: str | None = None


ProgressFn = Callable[[ProgressEvent], None]


NOTE_COLUMNS = 20
"""New columns a note names (the ledger keeps every one)."""


@dataclass
class FileResult:
    path: str
    source: str
    status: str  # loaded | empty | skipped | failed
    kind: str | None = None
    source_kind: str | None = None
    """How the rows were delivered (csv_report, api_json, api_feed...), as in the tables."""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rows_updated: int = 0
    webex_go_rows: int = 0
    seconds: float = 0.0
    partitions: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    message: str = ""
    exit_code: int = EXIT_OK

    def add_note(self, note: str) -> None:
        """Add a note to the file's message (the ledger keeps it, ingest prints it)."""
        self.message = f"{self.message}; {note}" if self.message else note

    def new_columns_note(self) -> str:
        """The note naming the new columns kept in `extra`: the first NOTE_COLUMNS of them,
        then how many more (records each with a key of their own named 190,000 columns, a
        note of 3.9 MB); the ledger's `unknown_columns` keeps them all. A character that
        shows as nothing is escaped: `Report\u200dID` printed as `ReportID`, a column that
        looked like the `Report ID` the file's other note said it lacked. A character that
        is not ASCII is named with its place (`not_ascii`): `Ｄuration` read as the
        `Duration` the file's other note said it lacked."""
        shown = ", ".join(
            visible_short(name) + not_ascii(name) for name in self.unknown_columns[:NOTE_COLUMNS]
        )
        more = len(self.unknown_columns) - NOTE_COLUMNS
        if more > 0:
            shown += f" and {more:,} more (ingest_files.unknown_columns lists them all)"
        return f"new columns kept in 'extra': {shown}"

    def set_rejects(self, reasons: Mapping[str, int]) -> None:
        """Rejected rows and the three commonest reasons."""
        self.rows_rejected = sum(reasons.values())
        self.top_reasons = Counter(reasons).most_common(3)

    def log_fields(self) -> dict[str, object]:
        """The `extra=` fields of the file's log line (README "Logs")."""
        return {
            "file": self.source,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }

    def top_reasons_text(self) -> str:
        return ", ".join(f"{k} ({n})" for k, n in self.top_reasons)

    def summary(self) -> str:
        return (
            f"{self.status}, {self.rows_read} read, {self.rows_loaded} loaded, "
            f"{self.rows_duplicate} duplicate, {self.rows_rejected} rejected, "
            f"{self.seconds:.1f}s"
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def ledger_row(self, **context: Any) -> dict[str, Any]:
        """The ledger `files` record of this result; `context` gives the fields the result
        does not know (run id, file number, table, digest, size, time)."""
        own = {
            "top_reject_reasons": self.top_reasons_text() or None,
            "message": self.message or None,
        }
        row = {}
        for name in FILES_SCHEMA.names:
            if name in context:
                row[name] = context[name]
            elif name in own:
                row[name] = own[name]
            else:
                row[name] = getattr(self, name)
        return row


@dataclass
class IngestResult:
    run_id: str
    files: list[FileResult]
    seconds: float
    interrupted_runs: list[str] = field(default_factory=list)
    table_versions: dict[str, int] = field(default_factory=dict)
    """Table -> the version this run committed (tables it changed)."""

    @property
    def exit_code(self) -> int:
        return max((f.exit_code for f in self.files), default=EXIT_OK)

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def interrupted_note(self) -> str | None:
        """What to say of the dead runs this one cleaned up after: their uncommitted work
        was undone, so the files they were loading are loaded only if this run was given
        them too (a run killed while reading its first file left no record of it)."""
        if not self.interrupted_runs:
            return None
        return (
            f"earlier run(s) {', '.join(self.interrupted_runs)} had been interrupted: what "
            "they had not committed was undone, so the files they were loading are not "
            "loaded unless this run was given them too (run their command again)"
        )

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """What `cdr ingest --json` prints (files by their fields)."""
        return {
            "run_id": self.run_id,
            "exit_code": self.exit_code,
            "seconds": self.seconds,
            "interrupted_runs": self.interrupted_runs,
            "table_versions": self.table_versions,
            "files": [f.to_dict() for f in self.files],
        }
