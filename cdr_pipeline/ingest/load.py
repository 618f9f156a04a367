"""Load one input file: skip it if its content was loaded, else sniff it, and load each of
its sources (a plain file, a gzip stream, every data member of a ZIP) through the stages:
read chunk -> normalize -> stage -> reject-rate gate -> merge partitions -> publish rejects
-> ledger record. Conservation (read = loaded + duplicate + rejected) is checked per source.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import (
    ConservationError,
    InputError,
    RejectRateExceeded,
    environment_error,
)
from cdr_pipeline.ingest.chunk import CSV, BadInput, Chunk
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
from cdr_pipeline.ingest.digest import Digest, Fingerprint
from cdr_pipeline.ingest.drift import Drift
from cdr_pipeline.ingest.json_reader import read_json_chunks
from cdr_pipeline.ingest.limits import Limits, unreadable
from cdr_pipeline.ingest.merge import merge_staged
from cdr_pipeline.ingest.normalize import LoadContext, normalize
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.ingest.prefetch import Prefetch
from cdr_pipeline.ingest.rejects import RejectWriter, redact_raw_text
from cdr_pipeline.ingest.results import FileResult, ProgressEvent, ProgressFn
from cdr_pipeline.ingest.sources import Source, sources_of
from cdr_pipeline.ingest.stager import PENDING_CHUNKS, Stager
from cdr_pipeline.schema import SCHEMAS, TableSchema, detect_kind
from cdr_pipeline.state.files import install_file
from cdr_pipeline.state.ledger import FILES_SCHEMA, Ledger, file_record_id

log = logging.getLogger(__name__)


@dataclass
class LoadedContent:
    """Digests of every file some run loaded whole, with their sizes (a file whose size no
    loaded file has cannot be a re-delivery, so it need not be hashed up front)."""

    digests: dict[str, int] = field(default_factory=dict)
    sizes: set[int] = field(default_factory=set)

    @classmethod
    def from_ledger(cls, ledger: Ledger) -> LoadedContent:
        digests = ledger.loaded_hashes()
        return cls(digests, set(digests.values()))

    def add(self, digest: str, size: int) -> None:
        self.digests[digest] = size
        self.sizes.add(size)


class _AlreadyLoaded(Exception):
    """The file's content is in the ledger (found once its digest was ready)."""


def _chunks(
    source: Source, stream: BinaryIO, chunk_rows: int, limits: Limits
) -> tuple[list[str], Iterator[Chunk]]:
    if source.fmt == CSV:
        header = read_header(stream, limits)
        return header.names, read_csv_body(stream, header, chunk_rows, limits)
    it = read_json_chunks(stream, chunk_rows, limits)
    first = next(it, None)
    if first is None:
        return [], iter(())
    return first.headers, itertools.chain([first], it)


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
        self.tables = tables
        self.path, self.load_seq, self.kind, self.source_kind = path, load_seq, kind, source_kind
        self.progress = progress
        self.content = LoadedContent()
        self.digest = Digest(path, 0, "")

    def run(self, content: LoadedContent, known: Fingerprint | None = None) -> list[FileResult]:
        """Load the file; a file this loader loads whole is added to `content`."""
        t0 = time.monotonic()
        self.content = content
        try:
            size = self._start_digest(known)
            if self.digest.started() and self.digest.value() in content.digests:
                return [self._skipped(size)]
            results = self._load_file(size, t0)
        except _AlreadyLoaded:
            return [self._skipped(size)]
        except OSError as exc:
            # the warehouse cannot take a write: stop the run (exit 6); else the input is bad
            env = environment_error(exc, self.settings.warehouse)
            if env is not None:
                raise env from exc
            err = InputError(f"cannot read file: {exc.strerror or exc}", path=str(self.path))
            return [self._failed(str(self.path), err, t0)]
        finally:
            self.digest.close()
        if results and all(r.status in ("loaded", "empty") for r in results):
            content.add(self.digest.value(), size)
        return results

    def _start_digest(self, known: Fingerprint | None) -> int:
        """Set up the digest; returns the file size. A size some loaded file has: perhaps a
        re-delivery, so hash first. Otherwise the file is hashed while it loads (and checked
        again before anything is published)."""
        if known is not None and known.matches(self.path):
            self.digest = Digest(self.path, known.size, known.sha256)
            return known.size
        size = self.path.stat().st_size
        if size in self.content.sizes:
            self.digest = Digest.now(self.path, size)
        else:
            self.digest = Digest(self.path, size)
        return size

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
        return result

    def check_not_loaded(self) -> None:
        """Before anything of the file is published: raise _AlreadyLoaded if its digest (now
        finished) is in the ledger after all."""
        if self.digest.value() in self.content.digests:
            raise _AlreadyLoaded

    def _load_file(self, size: int, t0: float) -> list[FileResult]:
        path = self.path
        if size == 0:
            result = FileResult(str(path), str(path), "empty", message="empty file (0 bytes)")
            self._record(result, size, None)
            return [result]
        try:
            sources = sources_of(path)
        except InputError as exc:
            result = self._failed(str(path), exc, t0)
            self._record(result, size, None)
            return [result]
        tee = None
        if not self.digest.started():
            if len(sources) == 1 and sources[0].container == "plain":
                tee = self.digest.feed()  # the reader's bytes: the file is read once
            else:
                self.digest.in_background()
        results = []
        for i, source in enumerate(sources):
            try:
                if source.error is not None:
                    raise source.error
                result, schema = SourceLoad(self, source, i, size).run(tee)
            except InputError as exc:
                result, schema = self._failed(source.name, exc, t0), None
            result.seconds = time.monotonic() - t0
            self._record(result, size, schema)
            results.append(result)
            log.info("%s: %s", source.name, result.summary(), extra=result.log_fields())
        return results

    def _failed(self, source: str, exc: InputError, t0: float) -> FileResult:
        return FileResult(
            str(self.path),
            source,
            "failed",
            message=f"{exc}; hint: {exc.hint}" if exc.hint else str(exc),
            exit_code=exc.exit_code,
            seconds=time.monotonic() - t0,
        )

    def _record(self, r: FileResult, size: int, schema: TableSchema | None) -> None:
        row = r.ledger_row(
            run_id=self.run_id,
            file_seq=self.seq,
            table_name=schema.name if schema else None,
            content_sha256=self.digest.value(),
            size_bytes=size,
            loaded_at=datetime.now(UTC),
        )
        record = file_record_id(self.run_id, self.seq, r.source)
        self.ledger.write("files", record, [row], FILES_SCHEMA)


class SourceLoad:
    """One data stream of a file (a plain file, a gzip stream or one ZIP member)."""

    def __init__(self, file: FileLoader, source: Source, index: int, size: int) -> None:
        self.file, self.source, self.size = file, source, size
        self.settings = file.settings
        self.result = FileResult(str(file.path), source.name, "loaded")
        self.result.source_kind = file.source_kind or (
            "csv_report" if source.fmt == CSV else "api_json"
        )
        self.staging = file.settings.layout.staging_run(file.run_id) / f"{file.seq:05d}-{index:03d}"

    def run(
        self, tee: Callable[[memoryview], None] | None
    ) -> tuple[FileResult, TableSchema | None]:
        try:
            return self._run(tee)
        except BadInput as exc:  # the reader gave up on this stream: it fails as a whole
            raise InputError(
                exc.message, path=self.source.name, line=exc.line, hint=exc.hint
            ) from exc
        except OSError as exc:
            if environment_error(exc, self.settings.warehouse) is not None:
                raise
            raise unreadable(exc, self.source.name) from exc

    def _run(
        self, tee: Callable[[memoryview], None] | None
    ) -> tuple[FileResult, TableSchema | None]:
        result, source = self.result, self.source
        limits = Limits.of(self.settings)
        with ExitStack() as stack:
            stream = stack.enter_context(source.open(tee, limits))
            headers, body = _chunks(source, stream, self.settings.chunk_rows, limits)
            chunks = Prefetch(body)  # read and parse the next chunk while this one is staged
            stack.callback(chunks.close)  # before the stream closes
            if not headers:
                result.status, result.message = "empty", "no header and no rows"
                return result, None
            schema = (
                SCHEMAS[self.file.kind] if self.file.kind else detect_kind(headers, source.name)
            )
            result.kind = schema.kind
            stager = Stager(
                self.staging / "rows",
                schema,
                max_pending_rows=PENDING_CHUNKS * self.settings.chunk_rows,
            )
            stack.callback(stager.discard)
            rejects = RejectWriter(
                self.staging / "rejects.parquet", self.file.run_id, schema.name, source.name
            )
            stack.callback(rejects.close)
            drift = Drift(schema, source.name)
            ctx = LoadContext(
                source_kind=result.source_kind or "",
                source_file=source.name,
                run_id=self.file.run_id,
                ingested_at=datetime.now(UTC),
                load_seq=self.file.load_seq,
            )
            for chunk in chunks:
                self._consume(chunk, schema, drift, ctx, stager, rejects)
            drift.finish(result)
            staged = stager.close()
            self.file.check_not_loaded()
            rejects.close()
            return self._publish(schema, staged, rejects.reasons), schema

    def _consume(
        self,
        chunk: Chunk,
        schema: TableSchema,
        drift: Drift,
        ctx: LoadContext,
        stager: Stager,
        rejects: RejectWriter,
    ) -> None:
        """Normalize one chunk: good rows to the stager, bad ones to the rejects."""
        res = drift.resolve(chunk.headers)
        self.result.rows_read += chunk.rows_read

        def quarantine(row: int, reason: str, detail: str, raw: str) -> None:
            raw = redact_raw_text(raw, schema, res, self.source.fmt, chunk.delimiter)
            rejects.add(row, reason, detail, raw)

        for rj in chunk.rejects:
            quarantine(rj.source_row, rj.reason, rj.detail, rj.raw_text)
        if chunk.frame.height:
            out = normalize(chunk.frame, res, schema, ctx, chunk.source_rows, chunk.nulls_marked)
            for idx, reason, detail in out.rejects.iter_rows():
                quarantine(int(chunk.source_rows[idx]), reason, detail, chunk.raw_text(idx))
            if "is_webex_go" in out.rows.columns:
                self.result.webex_go_rows += int(out.rows["is_webex_go"].sum())
            stager.add(out.rows)
        if self.file.progress:
            self.file.progress(
                ProgressEvent(self.source.name, self.result.rows_read, chunk.bytes_read, self.size)
            )

    def _publish(
        self, schema: TableSchema, staged: dict[str, Path], reasons: dict[str, int]
    ) -> FileResult:
        """Gate on the reject rate, merge the staged partitions, check conservation."""
        result, settings = self.result, self.settings
        result.set_rejects(reasons)
        if result.rows_read == 0:
            result.status, result.message = "empty", "header only, no rows"
            return result
        self._publish_rejects(schema)
        rate = result.rows_rejected / result.rows_read
        if result.rows_rejected and rate > settings.max_reject_rate:
            err = RejectRateExceeded(
                f"{result.rows_rejected} of {result.rows_read} rows rejected "
                f"({rate:.1%} > --max-reject-rate {settings.max_reject_rate:.1%}); "
                f"no rows of this file were published. Top reasons: {result.top_reasons_text()}",
                path=self.source.name,
                hint="see the quarantined rows under rejects/ (cdr runs shows the file); "
                "fix the export or raise --max-reject-rate",
            )
            result.status, result.message, result.exit_code = "failed", str(err), err.exit_code
            result.rows_loaded = result.rows_duplicate = 0
            return result
        tag = f"{self.file.run_id}-{self.file.seq}"
        pending = self.file.tables.table(schema)
        counts = merge_staged(pending, staged, self.staging / "duckdb_tmp", tag)
        result.rows_loaded, result.rows_duplicate = counts.loaded, counts.duplicate
        result.rows_updated = counts.updated
        result.partitions = sorted(staged)
        if result.rows_read - result.rows_rejected != counts.loaded + counts.duplicate:
            raise ConservationError(
                f"{self.source.name}: rows read {result.rows_read} != loaded {counts.loaded} + "
                f"duplicate {counts.duplicate} + rejected {result.rows_rejected}"
            )
        if self.file.progress:
            self.file.progress(
                ProgressEvent(self.source.name, result.rows_read, self.size, self.size, done=True)
            )
        return result

    def _publish_rejects(self, schema: TableSchema) -> None:
        """Move the source's quarantined rows (if any) under rejects/, named by the source,
        not the run: reloading after a crash replaces them, never doubles them. A rename, so
        a file with millions of rejects is never read back into memory."""
        staged = self.staging / "rejects.parquet"
        if not staged.exists():
            return
        name = hashlib.sha1(self.source.name.encode()).hexdigest()[:12]
        dest = self.settings.layout.rejects_file(schema.name, f"{name}-{self.source.path.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        install_file(staged, dest)
