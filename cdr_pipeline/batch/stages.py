"""The stages of a flow and the summaries the flows return: each stage is timed and logged
with its exit code, and a flow's exit code is the worst of its stages'."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_OK, EXIT_UNEXPECTED, known_error
from cdr_pipeline.ingest import Fingerprint, IngestResult
from cdr_pipeline.interrupts import STOPPED_BY
from cdr_pipeline.logfields import log_fields

log = logging.getLogger(__name__)


@dataclass
class StageOutcome:
    name: str
    exit_code: int
    seconds: float
    summary: str


@dataclass
class FlowSummary:
    stages: list[StageOutcome] = field(default_factory=list)
    root: Path | None = None
    """The warehouse: a write refused under it (disk full, read-only) ends a stage, not the
    flow."""

    @property
    def exit_code(self) -> int:
        return worst([s.exit_code for s in self.stages])

    def stage(self, name: str) -> StageOutcome | None:
        return next((s for s in self.stages if s.name == name), None)

    @contextmanager
    def run_stage(self, name: str) -> Iterator[list[Any]]:
        """Time a stage; the body appends (exit_code, summary). A CdrError in the stage, or
        a write the machine refused (disk full, read-only: exit 6), is recorded with its exit
        code and the flow goes on, so its stage table is printed and the night's summary
        log says which stage failed; anything else (a bug, or Ctrl-C/SIGTERM that a library
        turned into its own error, e.g. DuckDB's "Query interrupted") propagates."""
        box: list[Any] = []
        t0 = time.monotonic()
        with log_fields(stage=name):
            try:
                yield box
            except Exception as exc:
                known = known_error(exc, self.root)
                if known is None or STOPPED_BY:  # a bug, or a stop a library made its error
                    raise
                # with its hint, as a file's error line: what to try, not only what failed
                log.error(
                    "%s failed: %s", name, known.one_line(), extra={"exit_code": known.exit_code}
                )
                box[:] = [known.exit_code, f"failed: {known}"]
            code, text = box if box else (EXIT_OK, "")
            seconds = time.monotonic() - t0
            log.info(
                "%s: exit %d, %s",
                name,
                code,
                text,
                extra={"exit_code": code, "seconds": round(seconds, 3)},
            )
        self.stages.append(StageOutcome(name, code, seconds, text))


@dataclass
class DemoSummary(FlowSummary):
    samples_dir: Path = Path()
    generated: bool = False
    ingest: IngestResult | None = None
    validation: Any = None
    build: Any = None
    headline: dict[str, Any] = field(default_factory=dict)


@dataclass
class InboxFile:
    path: Path
    status: str  # new | loaded before
    size_bytes: int
    fingerprint: Fingerprint | None = None
    """The digest, when the scan had to compute it (a size some loaded file has)."""


@dataclass
class NightlySummary(FlowSummary):
    run_date: date = field(default_factory=lambda: datetime.now(UTC).date())
    dry_run: bool = False
    inbox: list[InboxFile] = field(default_factory=list)
    fetch: Any = None
    ingest: IngestResult | None = None
    validation: Any = None
    build: Any = None
    reports: list[Path] = field(default_factory=list)
    planned_reports: list[str] = field(default_factory=list)
    retention: Any = None
    vacuum: Any = None
    archived: list[Path] = field(default_factory=list)

    @property
    def new_files(self) -> list[InboxFile]:
        return [f for f in self.inbox if f.status == "new"]

    def to_dict(self) -> dict[str, Any]:
        """What `cdr nightly --json` prints."""
        return {
            "exit_code": self.exit_code,
            "run_date": self.run_date,
            "dry_run": self.dry_run,
            "stages": self.stages,
            "inbox": [{"path": f.path, "status": f.status} for f in self.inbox],
            "reports": self.reports or self.planned_reports,
        }


def ingest_summary(result: IngestResult) -> str:
    """The ingest stage's one-line result."""
    skipped = sum(f.status == "skipped" for f in result.files)
    return (
        f"{result.total('rows_loaded'):,} rows loaded, {result.total('rows_duplicate'):,} "
        f"duplicate, {result.total('rows_rejected'):,} rejected from {len(result.files)} file(s)"
        + (f"; {skipped} already loaded (same content), skipped" if skipped else "")
        + (f"; {len(result.errors)} file(s) failed" if result.errors else "")
    )


def validate_build(settings: Settings, summary: DemoSummary | NightlySummary, scope: str) -> None:
    """The validate and build stages, as the demo and the nightly run them."""
    from cdr_pipeline.quality import validate_warehouse

    with summary.run_stage("validate") as out:
        report = validate_warehouse(settings, scope)
        summary.validation = report
        out[:] = [
            report.exit_code,
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s); "
            f"Data Docs: {report.data_docs_index}",
        ]
    with summary.run_stage("build") as out:
        out[:] = [EXIT_OK, build_stage(settings, summary)]


def views_see_the_end(settings: Settings) -> None:
    """`cdr.duckdb`'s ledger views moved to the ledger after a night's last write (its exit
    code and end, written after its build stage): they showed the night `running` until the
    next build. Best effort: the night's row and exit code are written; after a failure
    the views stay as the build left them, and the next build catches up."""
    from cdr_pipeline.warehouse.ledger_views import refresh_ledger_views

    try:
        refresh_ledger_views(settings)
    except Exception as exc:  # bookkeeping: the night ended as its row says
        log.warning("the views show this night as running until the next build (%s)", exc)


def build_stage(settings: Settings, summary: DemoSummary | NightlySummary) -> str:
    """`cdr build`: the views moved to the latest table versions and the kept marts
    recomputed where they changed (whole when sql/, the settings or the key changed);
    returns the stage's line."""
    from cdr_pipeline.warehouse import refresh_warehouse

    summary.build = refresh_warehouse(settings)
    return summary.build.describe()


def planned_close(settings: Settings, run_date: date) -> str:
    """The plan's part for the `close` stage: the previous month when the night would try
    to close it (`close_after_days` passed, not closed yet), else nothing. The plan said
    nothing of it, and the night it planned froze a month's finance figures."""
    if settings.close_after_days is None:
        return ""
    from cdr_pipeline.reports.close import reporting_today
    from cdr_pipeline.reports.frozen import month_text, read_close

    first = run_date.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    if (run_date - first).days < settings.close_after_days or read_close(settings.layout, previous):
        return ""
    if previous > reporting_today(settings):  # a --run-date to come: the close refuses it
        return f"; not close {month_text(previous)} (it has not begun)"
    return f"; close {month_text(previous)} (unless its data is incomplete or held back)"


def close_and_report(settings: Settings, summary: NightlySummary) -> None:
    """Close the previous month when it is due (`close_after_days`), then write the
    standard reports (a closed month's finance figures are its frozen ones)."""
    if settings.close_after_days is not None:
        with summary.run_stage("close") as out:
            from cdr_pipeline.reports.close import close_due_month

            night = summary.ingest.files if summary.ingest else []
            failed = [f.path for f in night if f.status == "failed"]
            text = close_due_month(settings, summary.run_date, "cdr nightly", failed)
            out[:] = [EXIT_OK, text]
    with summary.run_stage("reports") as out:
        from cdr_pipeline.reports.standard import write_standard_reports
        from cdr_pipeline.warehouse import views_behind

        build = summary.stage("build")
        if build is not None and build.exit_code:
            # reports from the views the failed build left would leave out what the tables
            # hold, and stay in their dated folder with nothing saying so
            why = ""
            if not settings.layout.duckdb.exists():  # a first night: no views to read
                why = "there is no cdr.duckdb (the build failed)"
            elif views_behind(settings):
                why = "cdr.duckdb's views leave out data the tables hold (the build failed)"
            if why:
                out[:] = [build.exit_code, f"not written: {why}; the next nightly writes them"]
                return
        summary.reports, restated = write_standard_reports(settings, summary.run_date)
        folder = settings.layout.reports / summary.run_date.isoformat()
        text = f"{len(summary.reports)} file(s) in {folder}"
        if restated:
            # the frozen figures stay; finance decides whether to reopen and close again
            text += (
                f"; closed month(s) {', '.join(restated)} would change if recomputed now "
                "(restatements.csv; cdr report restatements)"
            )
            log.warning(
                "closed month(s) %s would change if recomputed now: see %s",
                ", ".join(restated),
                folder / "restatements.csv",
                extra={"month": ", ".join(restated), "report": "restatements"},
            )
        out[:] = [EXIT_OK, text]


def unfinished_erasure(settings: Settings, summary: NightlySummary) -> None:
    """Stage `erasure`, only while a `cdr forget` has not finished (its pending file,
    `privacy/pending.py`): only another forget finishes it, and nothing else would say so
    night after night while the person's values stay in the views and replaced files."""
    path = settings.layout.pending_erasure
    if not path.is_file():
        return
    with summary.run_stage("erasure") as out:
        since = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        text = (
            f"a cdr forget begun {since:%Y-%m-%d %H:%M} UTC has not finished ({path.name}): "
            "the person's values may still be in cdr.duckdb and in replaced files; run "
            "that cdr forget again to finish it"
        )
        log.warning(text)
        out[:] = [EXIT_OK, text]


def log_notes(ingest: IngestResult | None = None, fetch: Any = None) -> None:
    """The `note:` lines `cdr ingest` and `cdr fetch` print, in the night's log (it prints
    none): a file skipped as loaded before, what a file's load noted (records `cdr forget`
    erased coming again), new columns kept in `extra`; a fetch's notes and its pages', those
    that ask for action (`warnings`: records no run can fetch any more) as warnings."""
    notes: list[str] = []
    if fetch is not None:
        for warning in fetch.warnings:
            log.warning("fetch: %s", warning)
        notes = [n for n in fetch.notes if n not in fetch.warnings] + fetch.page_notes()
    for f in ingest.files if ingest is not None else []:
        if f.status == "skipped" or (f.message and f.status != "failed"):
            notes.append(f"{f.source}: {f.message}")
        if f.unknown_columns:
            notes.append(f"{f.source}: {f.new_columns_note()}")
    for note in notes:
        log.info("note: %s", note)


def worst(codes: list[int]) -> int:
    """Worst exit code, in the order 0 < 3 < 4 < 6 < 1 (docs/design.md#exit-codes): an
    unexpected error outranks a write failure, which outranks a quality failure, which
    outranks bad input."""
    if EXIT_UNEXPECTED in codes:
        return EXIT_UNEXPECTED
    return max(codes, default=EXIT_OK)
