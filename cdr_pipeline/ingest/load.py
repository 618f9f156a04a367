"""Load one input file: skip it if its content was loaded, else stage each of its sources
(a plain file, a gzip stream, every data member of a ZIP; `stage.py`: read chunk ->
normalize -> quarantine -> staged Parquet), then publish each: reject-rate gate -> merge
partitions -> publish rejects -> ledger record. Conservation (read = loaded + duplicate +
rejected) is checked per source. `cdr ingest` stages and publishes each source in turn;
on Spark, tasks stage the files (`stage.stage_file`) and the driver publishes them here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import (
    ConservationError,
    InputError,
    RejectRateExceeded,
    environment_error,
)
from cdr_pipeline.ingest.advice import SPREADSHEET_ROWS, advice, spreadsheet_cut, spreadsheet_saved
from cdr_pipeline.ingest.amended import amendment_notes
from cdr_pipeline.ingest.digest import Digest, Fingerprint
from cdr_pipeline.ingest.encoding import not_text_note
from cdr_pipeline.ingest.limits import gated, unreadable
from cdr_pipeline.ingest.merge import MergeCounts, merge_staged
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.ingest.rejects import first_example
from cdr_pipeline.ingest.results import FileResult, ProgressEvent, ProgressFn
from cdr_pipeline.ingest.stage import (
    FileStage,
    FileTask,
    LoadedContent,
    StagedFile,
    StagedSource,
    failed_result,
)
from cdr_pipeline.render import os_text
from cdr_pipeline.schema import TableSchema
from cdr_pipeline.state.files import NAME_MAX, TEMP_ROOM, fit_name, install_file
from cdr_pipeline.state.ledger import FILES_SCHEMA, Ledger, file_record_id

log = logging.getLogger(__name__)

__all__ = ["FileLoader", "LoadedContent"]


class _AlreadyLoaded(Exception):
    """The file's content is in the ledger (found once its digest was ready)."""


class FileLoader:
    """One input file of a run."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        run_id: str,
        seq: int,
        path: Path,
        load_seq: int,
        kind: str | None,
        source_kind: str | None,
        progress: ProgressFn | None,
        tables: PendingTables,
    ) -> None:
        self.settings, self.ledger, self.run_id, self.seq = settings, ledger, run_id, seq
        self.tables, self.path, self.progress = tables, path, progress
        folder = settings.layout.staging_run(run_id) / f"{seq:05d}"
        self.task = FileTask(settings, run_id, seq, path, load_seq, kind, source_kind, folder)
        self.stage = FileStage(self.task, progress)
        self.content = LoadedContent()
        self.reported = 0  # bytes of the file whose sources' end `progress` was told

    def run(self, content: LoadedContent, known: Fingerprint | None = None) -> list[FileResult]:
        """Stage and publish each source in turn (`cdr ingest`); a file this loader loads
        whole is added to `content`."""
        t0 = time.monotonic()
        self.content = content
        try:
            size = self.stage.start_digest(known, content)
            if self.stage.known_loaded(content):
                self.stage.digest.close()
                return [self._skipped(size)]
        except OSError as exc:
            self.stage.digest.close()
            return [self._unreadable(self.stage.unreadable(exc, t0), 0)]
        return self._settle(size, self.stage.sources(size, t0), None, t0)

    def task_for(self, content: LoadedContent) -> FileTask:
        """The file as a task for a stager elsewhere (a Spark task), told the digests of
        the loaded files of its size."""
        try:
            size = self.path.stat().st_size
        except OSError:  # the stager will say what is wrong with it
            return self.task
        return dataclasses.replace(self.task, loaded=content.of_size(size))

    def publish(self, staged: StagedFile, content: LoadedContent) -> list[FileResult]:
        """Publish a file a stager elsewhere staged (`stage.stage_file`), exactly as `run`
        would have: skipped if its content was loaded (before this run or earlier in it),
        else each source gated, merged and recorded in turn."""
        t0 = time.monotonic()
        self.content = content
        self.stage.digest = Digest(self.path, staged.size, staged.sha256)
        if staged.sha256 is not None and staged.sha256 in content.digests:
            return [self._skipped(staged.size)]
        return self._settle(staged.size, staged.sources, staged.error, t0)

    def _settle(
        self,
        size: int,
        sources: Iterable[StagedSource],
        error: FileResult | None,
        t0: float,
    ) -> list[FileResult]:
        """Publish and record each staged source in turn."""
        results, since = [], t0
        try:
            for staged in sources:  # a ZIP member's time from the end of the one before
                results.append(self._finish(staged, size, since))
                since = time.monotonic()
        except _AlreadyLoaded:
            return [self._skipped(size)]
        except OSError as exc:
            return [self._unreadable(self.stage.unreadable(exc, t0), size)]
        finally:
            self.stage.digest.close()
        if error is not None:  # the file could not be read to its end
            return [self._unreadable(error, size)]
        if results and all(r.status in ("loaded", "empty") for r in results):
            self.content.add(self.stage.digest.value(), size)
        return results

    def _finish(self, staged: StagedSource, size: int, t0: float) -> FileResult:
        """Publish one staged source (if anything of it can be), record and log it."""
        try:
            result, schema = staged.result, staged.schema
            # a failure too: an upload read to its end mid-record is arriving, not cut short
            check = staged.publishable or result.status == "failed"
            changed = self.stage.changed() if check else None
            if changed is not None:
                result, schema = failed_result(self.path, result.source, changed, t0), None
            elif staged.publishable:
                self.check_not_loaded()
                try:
                    result = self._publish(staged, size)
                except OSError as exc:
                    if environment_error(exc, self.settings.warehouse) is not None:
                        raise
                    err = unreadable(exc, result.source)
                    result, schema = failed_result(self.path, result.source, err, t0), None
            result.seconds = time.monotonic() - t0
            self._record(result, size, schema)
            self._ended(result, staged.share or size)  # a ZIP member's bytes: they add up
            log.info("%s: %s", result.source, result.summary(), extra=result.log_fields())
            return result
        finally:
            if staged.folder is not None:  # merged, installed or not wanted: it goes
                shutil.rmtree(staged.folder, ignore_errors=True)

    def _ended(self, result: FileResult, share: int) -> None:
        """Tell `progress` a source ended, however it ended (a failed ZIP member too), with
        its `share` of the file's bytes; a whole-file outcome (skipped, unreadable) sends the
        bytes its sources did not, so that the file's done bytes add up to its size."""
        if self.progress:
            event = ProgressEvent(result.source, result.rows_read, share, share, done=True)
            event.status = result.status
            event.message = result.message if result.status == "failed" else None
            self.progress(event)
        self.reported += share

    def _skipped(self, size: int) -> FileResult:
        """A re-delivery: recorded in the ledger as skipped (`cdr runs --files` lists it)."""
        log.info(
            "%s: already loaded (same content), skipped",
            self.path,
            extra={"file": str(self.path), "status": "skipped"},
        )
        path = str(self.path)
        result = FileResult(path, path, "skipped", message="already loaded (same content); skipped")
        self._record(result, size, None)
        self._ended(result, max(size - self.reported, 0))
        return result

    def _unreadable(self, result: FileResult, size: int) -> FileResult:
        """A file that could not be read (no read permission, a named pipe, a device, a
        read error): recorded like any failed file, so `cdr runs --files` names it, without
        a digest (hashing it would read it again, or block on a pipe)."""
        self._record(result, size, None, hashed=False)
        self._ended(result, max(size - self.reported, 0))
        log.info("%s: %s", result.source, result.summary(), extra=result.log_fields())
        return result

    def check_not_loaded(self) -> None:
        """Before anything of the file is published: raise _AlreadyLoaded if its digest (now
        finished) is in the ledger after all."""
        if self.stage.digest.value() in self.content.digests:
            raise _AlreadyLoaded

    def _record(
        self, r: FileResult, size: int, schema: TableSchema | None, hashed: bool = True
    ) -> None:
        """Write the file's ledger record (`hashed` False: without the content's digest)."""
        row = r.ledger_row(
            run_id=self.run_id,
            file_seq=self.seq,
            table_name=schema.name if schema else None,
            content_sha256=self.stage.digest.recorded(r.status == "failed") if hashed else None,
            size_bytes=size,
            loaded_at=datetime.now(UTC),
        )
        record = file_record_id(self.run_id, self.seq, r.source)
        self.ledger.write("files", record, [row], FILES_SCHEMA)

    def _publish(self, staged: StagedSource, size: int) -> FileResult:
        """Gate on the reject rate, merge the staged partitions, check conservation."""
        result, settings, schema = staged.result, self.settings, staged.schema
        assert schema is not None  # a publishable source has its kind
        result.set_rejects(staged.reasons)
        if result.rows_read == 0:
            result.status, result.message = "empty", "header only, no rows"
            return result
        quarantined = self._publish_rejects(schema, staged)
        rejected, read = gated(staged.reasons, result.rows_read)
        if read == 0:  # header-only exports joined: no record, its header lines quarantined
            result.status, result.message = "empty", "header lines only, no rows"
            return result
        rate = rejected / read
        if rejected and rate > settings.max_reject_rate:
            stopped = (
                ""
                if staged.stopped_after is None
                else " (reading stopped there: the rest of the file could not bring the share "
                "under the limit)"
            )
            err = RejectRateExceeded(
                f"{rejected} of {read} rows rejected{stopped} "
                f"({rate:.1%} > --max-reject-rate {settings.max_reject_rate:.1%}); "
                f"no rows of this file were published. Top reasons: {result.top_reasons_text()}"
                + _for_example(quarantined, result.top_reasons[0][0]),
                path=result.source,
                hint=advice(result.top_reasons[0][0], staged.encoding)
                + "see the quarantined rows under rejects/ (cdr runs shows the file); fix the "
                "export or raise --max-reject-rate",
            )
            return _refused(result, err)
        marks = {r: n for r, n in staged.reasons.items() if r.startswith("spreadsheet_")}
        if marks and schema.kind == "calls":  # Control Hub's own file: never edited
            return _refused(result, spreadsheet_saved(result, marks))
        if result.source_kind == "csv_report" and result.rows_read == SPREADSHEET_ROWS - 1:
            return _refused(result, spreadsheet_cut(result))
        assert staged.folder is not None
        tag = f"{self.run_id}-{self.seq}"
        pending = self.tables.table(schema)
        amended = amendment_notes(pending, staged.staged, self.run_id)
        counts = merge_staged(
            pending,
            staged.staged,
            staged.folder / "duckdb_tmp",
            tag,
            f"{self.settings.merge_memory_mb}MiB",
            result.missing_columns,
        )
        result.rows_loaded, result.rows_duplicate = counts.loaded, counts.duplicate
        result.rows_updated, result.webex_go_rows = counts.updated, counts.webex_go
        result.partitions = sorted(staged.staged)
        if result.rows_read - result.rows_rejected != counts.loaded + counts.duplicate:
            raise ConservationError(
                f"{result.source}: rows read {result.rows_read} != loaded {counts.loaded} + "
                f"duplicate {counts.duplicate} + rejected {result.rows_rejected}"
            )
        for note in _notes(amended, counts, staged):
            result.add_note(note)
        return result

    def _publish_rejects(self, schema: TableSchema, staged: StagedSource) -> Path | None:
        """Move the source's quarantined rows (if any) under rejects/, named by the source,
        not the run: reloading after a crash replaces them, never doubles them. A rename, so
        a file with millions of rejects is never read back into memory. Returns where."""
        rejects = staged.rejects
        if rejects is None:
            return None
        name = hashlib.sha1(os_text(staged.result.source).encode()).hexdigest()[:12]
        # named as text: pyarrow cannot open a path that is not UTF-8, and DuckDB's glob
        # passes over a name with a backslash (`lat\\xe9n.csv`, or one the user chose)
        safe = os_text(staged.file_name).replace("\\", "_")
        # cut to fit a file name, ".parquet" and a temp file's suffix (`cdr forget` rewrites
        # it beside itself): an export named with 255 bytes failed whole, 'File name too long'
        stem = fit_name(f"{name}-{safe}", limit=NAME_MAX - TEMP_ROOM - len(".parquet"))
        dest = self.settings.layout.rejects_file(schema.name, stem)
        dest.parent.mkdir(parents=True, exist_ok=True)
        install_file(rejects, dest)
        return dest


def _for_example(quarantined: Path | None, reason: str) -> str:
    """`, for example line 7: Answer time: 'NULL' is ...`: the first row of the top reason."""
    example = first_example(quarantined, reason) if quarantined is not None else ""
    return f", for example {example}" if example else ""


def _refused(result: FileResult, err: InputError) -> FileResult:
    """`result` as a source none of whose rows is published, for `err`."""
    result.status, result.message, result.exit_code = "failed", err.one_line(), err.exit_code
    result.rows_loaded = result.rows_duplicate = 0
    return result


def _notes(amended: list[str], counts: MergeCounts, staged: StagedSource) -> list[str]:
    """What a loaded source's result says besides its counts."""
    notes = list(amended)
    if counts.erased:  # the file holds what an erasure took out: the DPO must know
        notes.append(
            f"{counts.erased} row(s) of records an erasure (cdr forget) reached came again and "
            "stay erased (counted as duplicates): this file holds their personal data as it "
            "was; erase or delete it, and any copy of it"
        )
    not_utf8 = staged.reasons.get("invalid_utf8", 0)
    if not_utf8 and staged.result.source_kind == "csv_report":
        notes.append(not_text_note(not_utf8, staged.encoding))
    return notes
