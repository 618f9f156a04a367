"""What one `cdr fetch` did: per window (pages, records, the last report time, whether it
ingested cleanly) and for the run (the ingests, the watermark before and after, notes, the
error that ended it). The CLI renders these; `cdr fetch --json` prints `to_dict()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdr_pipeline.errors import EXIT_OK, CdrError
from cdr_pipeline.ingest import IngestResult


@dataclass
class WindowResult:
    start: datetime
    end: datetime
    pages: int = 0
    records: int = 0
    max_report_time: datetime | None = None
    """The last readable `Report time` of its records within the window (none past its end)."""
    exit_code: int = EXIT_OK
    orgs: list[str] = field(default_factory=list)
    """The `Org UUID`s of its records (lower case, sorted)."""

    @property
    def empty(self) -> bool:
        return self.records == 0

    def add_orgs(self, orgs: frozenset[str]) -> None:
        if not orgs <= set(self.orgs):
            self.orgs = sorted(orgs.union(self.orgs))


@dataclass
class FetchResult:
    """What one `cdr fetch` did. `exit_code` is the worst of the ingests, the windows and
    the error."""

    source: str
    org_id: str | None = None
    host: str = ""
    windows: list[WindowResult] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)
    records: int = 0
    replayed_pages: list[Path] = field(default_factory=list)
    ingests: list[IngestResult] = field(default_factory=list)
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """The notes that ask for action (a range clamped to what the API serves, records no
    run can fetch any more, a window that did not load cleanly); also in `notes`. The CLI
    prints every note; `cdr nightly`, which prints none, logs these."""
    error: CdrError | None = None
    report_id: str | None = None
    requests: int = 0
    seconds: float = 0.0
    rows_loaded_before: int = 0
    """Records of pages fetched again with the same bytes, skipped by the ingest ledger
    (loaded, or found duplicate or rejected, by an earlier run): with the rows loaded,
    duplicate and rejected they add up to `records`."""

    def warn(self, text: str) -> None:
        """Add a note that asks for action."""
        self.notes.append(text)
        self.warnings.append(text)

    @property
    def exit_code(self) -> int:
        # a window's own code too: one whose records the ledger does not all account for
        # holds the watermark with exit 3 (docs/fetch.md), though its ingest ended well
        codes = [i.exit_code for i in self.ingests] + [w.exit_code for w in self.windows]
        if self.error is not None:
            codes.append(self.error.exit_code)
        return max(codes, default=EXIT_OK)

    @property
    def ingest(self) -> IngestResult | None:
        """All ingests of this run as one result (files of every ingest run)."""
        if not self.ingests:
            return None
        return IngestResult(
            ",".join(i.run_id for i in self.ingests),
            [f for i in self.ingests for f in i.files],
            sum(i.seconds for i in self.ingests),
            [r for i in self.ingests for r in i.interrupted_runs],
        )

    def total(self, attr: str) -> int:
        return sum(i.total(attr) for i in self.ingests)

    def page_notes(self) -> list[str]:
        """`<page>: <note>` of each note of its pages' loads, as `cdr ingest` prints a
        file's: records `cdr forget` erased coming again, new columns kept in `extra`."""
        files = [f for i in self.ingests for f in i.files]
        notes = [f"{f.source}: {f.message}" for f in files if f.message and f.status == "loaded"]
        return notes + [f"{f.source}: {f.new_columns_note()}" for f in files if f.unknown_columns]

    def to_dict(self) -> dict[str, Any]:
        """What `cdr fetch --json` prints."""
        return {
            "source": self.source,
            "report_id": self.report_id,
            "org_id": self.org_id,
            "host": self.host,
            "exit_code": self.exit_code,
            "windows": self.windows,
            "pages": self.pages,
            "replayed_pages": self.replayed_pages,
            "records": self.records,
            "rows_loaded": self.total("rows_loaded"),
            "rows_duplicate": self.total("rows_duplicate"),
            "rows_rejected": self.total("rows_rejected"),
            "rows_loaded_before": self.rows_loaded_before,
            "watermark_before": self.watermark_before,
            "watermark_after": self.watermark_after,
            "notes": self.notes,
            "warnings": self.warnings,
            "page_notes": self.page_notes(),
            "error": self.error.message if self.error else None,
            # what to try, as the JSON error of every other command has it
            "hint": (self.error.hint or None) if self.error else None,
            "requests": self.requests,
            "seconds": self.seconds,
        }
