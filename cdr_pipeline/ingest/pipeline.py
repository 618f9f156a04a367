"""Ingest orchestration: files and folders in, committed partitions and a ledger entry out.

Per file: fingerprint (SHA-256) -> skip if already loaded -> sniff -> read chunks ->
normalize -> stage -> reject-rate gate -> merge partitions -> rejects -> ledger record.
The whole run holds the writer lock.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import cdr_pipeline.devices.derive  # registers the device-kind derivers
import cdr_pipeline.ingest.calls  # noqa: F401  (registers the call-leg deriver)
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import (
    EXIT_OK,
    ConservationError,
    InputError,
    RejectRateExceeded,
)
from cdr_pipeline.ingest.chunk import Chunk
from cdr_pipeline.ingest.csv_reader import read_csv_body, read_header
from cdr_pipeline.ingest.json_reader import read_json_chunks
from cdr_pipeline.ingest.ledger import FILES_SCHEMA, RUNS_SCHEMA, Ledger, install_file
from cdr_pipeline.ingest.lock import writer_lock
from cdr_pipeline.ingest.normalize import HeaderResolution, LoadContext, normalize, resolve_headers
from cdr_pipeline.ingest.prefetch import Prefetch
from cdr_pipeline.ingest.rejects import RejectWriter, redact_raw_text
from cdr_pipeline.ingest.results import FileResult, IngestResult, ProgressEvent, ProgressFn
from cdr_pipeline.ingest.sources import CSV, Source, detect_kind, sources_of
from cdr_pipeline.ingest.writer import (
    PENDING_CHUNKS,
    MergeCounts,
    Stager,
    bounded_duckdb,
    clean_temp_files,
    merge_partition,
)
from cdr_pipeline.schema import SCHEMAS, TableSchema

log = logging.getLogger(__name__)

__all__ = [  # the names callers import from here
    "FileResult",
    "Fingerprint",
    "IngestResult",
    "ProgressEvent",
    "ProgressFn",
    "detect_kind",
    "expand_paths",
    "file_sha256",
    "ingest_paths",
    "new_run_id",
]


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders walked recursively (hidden entries skipped), in stable order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.exists():
            out.append(p)
        else:
            raise InputError("no such file or folder", path=str(p))
    return out


@dataclass(frozen=True)
class Fingerprint:
    """A file's SHA-256 as computed at a given size and modification time."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, file_sha256(path))

    def matches(self, path: Path) -> bool:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns) == (self.size, self.mtime_ns)


class _AlreadyLoaded(Exception):
    """The file's content is in the ledger (found once its digest was ready)."""


class _Digest:
    """A file's SHA-256: known, computed now, or computed while the file loads, either fed
    the bytes the reader reads (a plain file: read once) or on a thread (a ZIP or gzip,
    whose reader sees other bytes). hashlib releases the GIL, so either costs the load next
    to nothing."""

    def __init__(self, path: Path, size: int, value: str | None = None) -> None:
        self.path, self.size, self._value = path, size, value
        self._future: Future[str] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._fed: Any = None  # hashlib object fed by the reader
        self._fed_bytes = 0

    @classmethod
    def now(cls, path: Path, size: int) -> _Digest:
        return cls(path, size, file_sha256(path))

    def feed(self) -> Callable[[memoryview], None]:
        """A sink for every byte of the file, in order, as the reader reads it."""
        self._fed = hashlib.sha256()

        def sink(data: memoryview) -> None:
            self._fed.update(data)
            self._fed_bytes += len(data)

        return sink

    def started(self) -> bool:
        return self._value is not None or self._future is not None or self._fed is not None

    def in_background(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        self._future = self._pool.submit(file_sha256, self.path)

    def value(self) -> str:
        """The digest, waiting for it if need be; raises OSError if the file can't be read.
        A file the reader did not read to the end (it failed) is hashed here."""
        if self._value is None:
            if self._future is not None:
                self._value = self._future.result()
            elif self._fed is not None and self._fed_bytes == self.size:
                self._value = self._fed.hexdigest()
            else:
                self._value = file_sha256(self.path)
        return self._value

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _chunks(source: Source, stream: BinaryIO, chunk_rows: int) -> tuple[list[str], Iterator[Chunk]]:
    if source.fmt == CSV:
        header = read_header(stream)
        return header.names, read_csv_body(stream, header, chunk_rows)
    it = read_json_chunks(stream, chunk_rows)
    first = next(it, None)
    if first is None:
        return [], iter(())
    return first.headers, itertools.chain([first], it)


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    kind: str | None = None,
    source_kind: str | None = None,
    command: str = "cdr ingest",
    progress: ProgressFn | None = None,
    fingerprints: Mapping[Path, Fingerprint] | None = None,
) -> IngestResult:
    """Load files or folders into the warehouse. Never raises for a bad input file: the file's
    result says what went wrong and `exit_code` is 3. Raises LockBusy when another writer runs.
    `fingerprints` are digests the caller already computed (the nightly scan); one is reused
    only while the file's size and modification time are unchanged."""
    files = expand_paths(paths)
    if kind is not None and kind not in SCHEMAS:
        raise InputError(f"unknown kind {kind!r}", hint=f"one of: {', '.join(SCHEMAS)}")
    t0 = time.monotonic()
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    ledger = Ledger(settings.state_dir)
    with writer_lock(settings.state_dir, command, settings.lock_wait_seconds):
        interrupted = ledger.mark_interrupted()
        staging = settings.state_dir / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        clean_temp_files(settings.tables_dir)
        run = {"run_id": run_id, "command": command, "status": "running", "started_at": started}
        ledger.write("runs", run_id, [run], RUNS_SCHEMA)
        results: list[FileResult] = []
        status, message = "failed", "unexpected error"
        try:
            loaded = ledger.loaded_hashes()
            sizes = set(loaded.values())
            base_seq = int(started.timestamp() * 1_000_000) * 1000
            for seq, path in enumerate(files):
                ctx = _FileJob(
                    settings, ledger, run_id, seq, path, base_seq + seq, kind, source_kind, progress
                )
                known = (fingerprints or {}).get(path)
                results.extend(ctx.run(loaded, sizes, known))
            status, message = "ok", ""
        finally:
            finished = datetime.now(UTC)
            code = max((r.exit_code for r in results), default=EXIT_OK)
            run.update(
                status=status if code == EXIT_OK or status != "ok" else "failed",
                finished_at=finished,
                exit_code=code if status == "ok" else 1,
                files_seen=len(files),
                files_loaded=sum(r.status in ("loaded", "empty") for r in results),
                files_skipped=sum(r.status == "skipped" for r in results),
                files_failed=sum(r.status == "failed" for r in results),
                rows_read=sum(r.rows_read for r in results),
                rows_loaded=sum(r.rows_loaded for r in results),
                rows_duplicate=sum(r.rows_duplicate for r in results),
                rows_rejected=sum(r.rows_rejected for r in results),
                message=message or "; ".join(r.message for r in results if r.status == "failed"),
            )
            ledger.write("runs", run_id, [run], RUNS_SCHEMA)
            shutil.rmtree(staging / run_id, ignore_errors=True)
    return IngestResult(run_id, results, time.monotonic() - t0, interrupted)


class _FileJob:
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
    ) -> None:
        self.settings, self.ledger, self.run_id, self.seq = settings, ledger, run_id, seq
        self.path, self.load_seq, self.kind, self.source_kind = path, load_seq, kind, source_kind
        self.progress = progress

    def run(
        self, loaded: dict[str, int], sizes: set[int], known: Fingerprint | None = None
    ) -> list[FileResult]:
        """`loaded` maps the digest of every file already loaded to its size, `sizes` holds
        those sizes; a file this job loads is added to both."""
        t0 = time.monotonic()
        path = self.path
        self.loaded = loaded
        self.digest = _Digest(path, 0, "")
        try:
            if known is not None and known.matches(path):
                size, self.digest = known.size, _Digest(path, known.size, known.sha256)
            else:
                size = path.stat().st_size
                # a size some loaded file has: perhaps a re-delivery, find out first. Otherwise
                # no loaded file has this content: it is hashed while it loads (and checked
                # again before anything is published)
                self.digest = _Digest.now(path, size) if size in sizes else _Digest(path, size)
            if self.digest.started() and self.digest.value() in loaded:
                return [self._skipped()]
            results = self._load_file(size, t0)
        except _AlreadyLoaded:
            return [self._skipped()]
        except OSError as exc:
            err = InputError(f"cannot read file: {exc.strerror}", path=str(path))
            return [self._failed(str(path), err, t0)]
        finally:
            self.digest.close()
        if results and all(r.status in ("loaded", "empty") for r in results):
            loaded[self.digest.value()] = size
            sizes.add(size)
        return results

    def _skipped(self) -> FileResult:
        log.info("%s: already loaded (same content), skipped", self.path)
        path = str(self.path)
        return FileResult(path, path, "skipped", message="already loaded (same content); skipped")

    def _check_not_loaded(self) -> None:
        """Before anything of the file is published: raise _AlreadyLoaded if its digest (now
        finished) is in the ledger after all."""
        if self.digest.value() in self.loaded:
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
                result, schema = self._load_source(source, i, size, tee)
            except InputError as exc:
                result, schema = self._failed(source.name, exc, t0), None
            result.seconds = time.monotonic() - t0
            self._record(result, size, schema)
            results.append(result)
            log.info(
                "%s: %s, %d read, %d loaded, %d duplicate, %d rejected, %.1fs",
                source.name,
                result.status,
                result.rows_read,
                result.rows_loaded,
                result.rows_duplicate,
                result.rows_rejected,
                result.seconds,
            )
        return results

    def _failed(self, source: str, exc: InputError, t0: float) -> FileResult:
        return FileResult(
            str(self.path),
            source,
            "failed",
            message=str(exc),
            exit_code=exc.exit_code,
            seconds=time.monotonic() - t0,
        )

    def _record(self, r: FileResult, size: int, schema: TableSchema | None) -> None:
        row = {
            "run_id": self.run_id,
            "file_seq": self.seq,
            "path": r.path,
            "source": r.source,
            "kind": r.kind,
            "table_name": schema.name if schema else None,
            "source_kind": r.source_kind,
            "content_sha256": self.digest.value(),
            "size_bytes": size,
            "status": r.status,
            "rows_read": r.rows_read,
            "rows_loaded": r.rows_loaded,
            "rows_duplicate": r.rows_duplicate,
            "rows_rejected": r.rows_rejected,
            "rows_updated": r.rows_updated,
            "webex_go_rows": r.webex_go_rows,
            "partitions": r.partitions,
            "unknown_columns": r.unknown_columns,
            "missing_columns": r.missing_columns,
            "top_reject_reasons": ", ".join(f"{k} ({n})" for k, n in r.top_reasons) or None,
            "seconds": r.seconds,
            "loaded_at": datetime.now(UTC),
            "message": r.message or None,
        }
        member = hashlib.sha1(r.source.encode()).hexdigest()[:8]
        self.ledger.write("files", f"{self.run_id}-{self.seq:05d}-{member}", [row], FILES_SCHEMA)

    def _load_source(
        self, source: Source, index: int, size: int, tee: Callable[[memoryview], None] | None
    ) -> tuple[FileResult, TableSchema | None]:
        settings = self.settings
        result = FileResult(str(self.path), source.name, "loaded")
        result.source_kind = self.source_kind or ("csv_report" if source.fmt == CSV else "api_json")
        staging = settings.state_dir / "staging" / self.run_id / f"{self.seq:05d}-{index:03d}"
        with ExitStack() as stack:
            stream = stack.enter_context(source.open(tee))
            headers, body = _chunks(source, stream, settings.chunk_rows)
            chunks = Prefetch(body)  # read and parse the next chunk while this one is staged
            stack.callback(chunks.close)  # before the stream closes
            if not headers:
                result.status, result.message = "empty", "no header and no rows"
                return result, None
            schema = SCHEMAS[self.kind] if self.kind else detect_kind(headers, source.name)
            result.kind = schema.kind
            ctx = LoadContext(
                source_kind=result.source_kind,
                source_file=source.name,
                run_id=self.run_id,
                ingested_at=datetime.now(UTC),
                load_seq=self.load_seq,
            )
            stager = Stager(
                staging / "rows", schema, max_pending_rows=PENDING_CHUNKS * settings.chunk_rows
            )
            stack.callback(stager.discard)
            rejects_path = staging / "rejects.parquet"
            rejects = RejectWriter(rejects_path, self.run_id, schema.name, source.name)
            stack.callback(rejects.close)
            resolutions: dict[tuple[str, ...], HeaderResolution] = {}
            unknown: dict[str, None] = {}
            missing: set[str] | None = None
            reasons: Counter[str] = Counter()
            for chunk in chunks:
                key = tuple(chunk.headers)
                res = resolutions.get(key)
                if res is None:
                    res = resolutions[key] = resolve_headers(chunk.headers, schema)
                    unknown.update(dict.fromkeys(res.unknown))
                    missing = set(res.missing) if missing is None else missing & set(res.missing)
                    if res.unknown or res.missing:
                        log.info(
                            "%s: unknown columns %s; missing columns %s",
                            source.name,
                            list(res.unknown) or "none",
                            list(res.missing) or "none",
                        )
                result.rows_read += chunk.rows_read
                for rj in chunk.rejects:
                    raw_text = redact_raw_text(
                        rj.raw_text, schema, res, source.fmt, chunk.delimiter
                    )
                    rejects.add(rj.source_row, rj.reason, rj.detail, raw_text)
                    reasons[rj.reason] += 1
                if chunk.frame.height:
                    out = normalize(
                        chunk.frame, res, schema, ctx, chunk.source_rows, chunk.nulls_marked
                    )
                    for idx, reason, detail in out.rejects.iter_rows():
                        raw_text = redact_raw_text(
                            chunk.raw_text(idx), schema, res, source.fmt, chunk.delimiter
                        )
                        rejects.add(int(chunk.source_rows[idx]), reason, detail, raw_text)
                        reasons[reason] += 1
                    if "is_webex_go" in out.rows.columns:
                        result.webex_go_rows += int(out.rows["is_webex_go"].sum())
                    stager.add(out.rows)
                if self.progress:
                    self.progress(
                        ProgressEvent(source.name, result.rows_read, chunk.bytes_read, size)
                    )
            result.rows_rejected = sum(reasons.values())
            result.top_reasons = reasons.most_common(3)
            result.unknown_columns = list(unknown)
            result.missing_columns = sorted(missing or ())
            staged = stager.close()
            self._check_not_loaded()
            rejects.close()
            if result.rows_read == 0:
                result.status, result.message = "empty", "header only, no rows"
                return result, schema
            rate = result.rows_rejected / result.rows_read
            self._publish_rejects(rejects_path, schema, source)
            if result.rows_rejected and rate > settings.max_reject_rate:
                top = ", ".join(f"{k} ({n})" for k, n in result.top_reasons)
                err = RejectRateExceeded(
                    f"{result.rows_rejected} of {result.rows_read} rows rejected "
                    f"({rate:.1%} > --max-reject-rate {settings.max_reject_rate:.1%}); "
                    f"no rows of this file were published. Top reasons: {top}",
                    path=source.name,
                    hint="see the quarantined rows under rejects/ (cdr runs shows the file); "
                    "fix the export or raise --max-reject-rate",
                )
                result.status, result.message, result.exit_code = "failed", str(err), err.exit_code
                result.rows_loaded = result.rows_duplicate = 0
                return result, schema
            counts = self._merge(schema, staged)
            result.rows_loaded, result.rows_duplicate = counts.loaded, counts.duplicate
            result.rows_updated = counts.updated
            result.partitions = sorted(staged)
            good = result.rows_read - result.rows_rejected
            if good != counts.loaded + counts.duplicate:
                raise ConservationError(
                    f"{source.name}: rows read {result.rows_read} != loaded {counts.loaded} + "
                    f"duplicate {counts.duplicate} + rejected {result.rows_rejected}"
                )
            if self.progress:
                self.progress(ProgressEvent(source.name, result.rows_read, size, size, done=True))
            return result, schema

    def _merge(self, schema: TableSchema, staged: dict[str, Path]) -> MergeCounts:
        """Merge the staged partitions, two at a time (each merge is a partition's worth of
        rows, which DuckDB handles on one thread; the other core would idle)."""
        total = MergeCounts()
        settings = self.settings
        con = bounded_duckdb(settings.state_dir / "staging" / self.run_id / "duckdb_tmp")
        tag = f"{self.run_id}-{self.seq}"

        def one(value: str) -> MergeCounts:
            cur = con.cursor()
            try:
                return merge_partition(cur, schema, settings.tables_dir, value, staged[value], tag)
            finally:
                cur.close()

        try:
            with ThreadPoolExecutor(2, thread_name_prefix="merge") as pool:
                for counts in pool.map(one, sorted(staged)):
                    total.add(counts)
        finally:
            con.close()
        return total

    def _publish_rejects(self, staged: Path, schema: TableSchema, source: Source) -> None:
        """Move the source's quarantined rows (if any) under rejects/, named by the source,
        not the run: reloading after a crash replaces them, never doubles them. A rename, so
        a file with millions of rejects is never read back into memory."""
        if not staged.exists():
            return
        name = hashlib.sha1(source.name.encode()).hexdigest()[:12]
        dest = self.settings.rejects_dir / schema.name / f"{name}-{source.path.name}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        install_file(staged, dest)
