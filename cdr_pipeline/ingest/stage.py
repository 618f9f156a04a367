"""Stage one input file: sniff it, and read each of its sources (a plain file, a gzip stream,
every data member of a ZIP) chunk by chunk: normalize, good rows to staged Parquet (one file
per partition value), bad rows to the source's quarantine file, all under the file's staging
folder. Nothing is published here: `load.FileLoader` gates, merges, installs the rejects and
records each source, right after it is staged (`cdr ingest`), or on the Spark driver once
Spark tasks staged every file (`python -m cdr_pipeline.spark ingest`, docs/spark.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cdr_pipeline import interrupts
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import InputError, environment_error
from cdr_pipeline.ingest.archive import share
from cdr_pipeline.ingest.chunk import CSV, NO_KEYS, BadInput, Chunk, whole_files
from cdr_pipeline.ingest.csv_reader import unended_note
from cdr_pipeline.ingest.digest import Digest, Fingerprint
from cdr_pipeline.ingest.drift import Drift
from cdr_pipeline.ingest.encoding import file_offsets, stream_encoding
from cdr_pipeline.ingest.kinds import detect
from cdr_pipeline.ingest.limits import Limits, bound_to_fail, most_bytes, unreadable
from cdr_pipeline.ingest.normalize import LoadContext, normalize
from cdr_pipeline.ingest.paths import regular_file
from cdr_pipeline.ingest.prefetch import Prefetch
from cdr_pipeline.ingest.reading import source_chunks
from cdr_pipeline.ingest.rejects import RejectWriter, redact_raw_text
from cdr_pipeline.ingest.results import FileResult, ProgressEvent, ProgressFn
from cdr_pipeline.ingest.sources import Source, sources_of
from cdr_pipeline.ingest.stager import PENDING_CHUNKS, Stager
from cdr_pipeline.ingest.unreadable import cannot_read
from cdr_pipeline.schema import SCHEMAS, TableSchema, check_forced_kind
from cdr_pipeline.state.ledger import Ledger

REJECTS_FILE = "rejects.parquet"
"""A staged source's quarantined rows, in its staging folder."""


@dataclass
class LoadedContent:
    """Digests of every file some run loaded whole, with their sizes (a file whose size no
    loaded file has cannot be a re-delivery, so it need not be hashed up front)."""

    digests: dict[str, int] = field(default_factory=dict)
    sizes: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, digests: dict[str, int]) -> LoadedContent:
        return cls(dict(digests), set(digests.values()))

    @classmethod
    def from_ledger(cls, ledger: Ledger) -> LoadedContent:
        return cls.of(ledger.loaded_hashes())

    def add(self, digest: str, size: int) -> None:
        self.digests[digest] = size
        self.sizes.add(size)

    def of_size(self, size: int) -> dict[str, int]:
        """The digests of loaded files of `size`: all a stager elsewhere needs to know."""
        return {d: s for d, s in self.digests.items() if s == size}


@dataclass
class StagedSource:
    """One source as staged, waiting to be published; or its outcome, when nothing of it can
    be published (an empty file, a source that failed)."""

    result: FileResult
    file_name: str
    """The source's file name (part of its rejects file's name)."""
    kind: str | None = None
    """The input kind detected from its header (None: it failed or had no header)."""
    folder: Path | None = None
    staged: dict[str, Path] = field(default_factory=dict)
    """Partition value -> staged Parquet file."""
    reasons: dict[str, int] = field(default_factory=dict)
    """Quarantined rows by reason."""
    stopped_after: int | None = None
    """Records read when reading stopped early: too many were quarantined for the rest of the
    file to bring the share under `max_reject_rate` (`limits.rate_out_of_reach`)."""
    encoding: str = "UTF-8"
    """The encoding its records were read in (UTF-16 is transcoded): what their advice fits."""
    share: int = 0
    """Bytes of the file its progress counts (a ZIP member's share; 0: the whole file)."""

    @property
    def schema(self) -> TableSchema | None:
        return SCHEMAS[self.kind] if self.kind else None

    @property
    def publishable(self) -> bool:
        return self.kind is not None and self.result.status == "loaded"

    @property
    def rejects(self) -> Path | None:
        """The staged quarantine file, if the source quarantined any row."""
        path = self.folder / REJECTS_FILE if self.folder else None
        return path if path and path.exists() else None


@dataclass
class StagedFile:
    """What staging one input file produced: what a Spark task hands back to the driver."""

    path: Path
    size: int
    sha256: str | None
    """None when the file could not be hashed (it could not be read)."""
    sources: list[StagedSource] = field(default_factory=list)
    """Empty when the content was known to be loaded already."""
    error: FileResult | None = None
    """The file could not be read past `sources` (such a result is not recorded)."""


@dataclass(frozen=True)
class FileTask:
    """One input file of a run to stage, with everything a stager needs (it pickles)."""

    settings: Settings
    run_id: str
    seq: int
    path: Path
    load_seq: int
    kind: str | None
    source_kind: str | None
    folder: Path
    """Its staging folder; each source stages under `folder/NNN`."""
    loaded: dict[str, int] = field(default_factory=dict)
    """Digests of the loaded files of this file's size (`LoadedContent.of_size`)."""


def failed_result(path: Path, source: str, exc: InputError, t0: float) -> FileResult:
    return FileResult(
        str(path),
        source,
        "failed",
        message=exc.one_line(),
        exit_code=exc.exit_code,
        seconds=time.monotonic() - t0,
    )


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    """What tells one state of a file from another without reading it: size, modification
    time, and which file it is (another copied over it by a rename keeps neither)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def stage_file(task: FileTask) -> StagedFile:
    """Stage every source of one file (a Spark task's work). A file whose content is among
    `task.loaded` is not read. Raises only what stops the whole run (the warehouse cannot
    be written); a bad file is described by the result."""
    t0 = time.monotonic()
    stage = FileStage(task)
    content = LoadedContent.of(task.loaded)
    size, staged = 0, list[StagedSource]()
    try:
        size = stage.start_digest(None, content)
        if stage.known_loaded(content):
            return StagedFile(task.path, size, stage.digest.value())
        staged.extend(stage.sources(size, t0))
        failed = all(s.result.status == "failed" for s in staged)
        return StagedFile(task.path, size, stage.digest.recorded(failed), staged)
    except OSError as exc:
        error = stage.unreadable(exc, t0)
        return StagedFile(task.path, size, None, staged, error)
    finally:
        stage.digest.close()


class FileStage:
    """Staging one input file: its digest and each of its sources."""

    def __init__(self, task: FileTask, progress: ProgressFn | None = None) -> None:
        self.task, self.settings, self.path = task, task.settings, task.path
        self.progress = progress
        self.digest = Digest(task.path, 0, "")
        self.seen: tuple[int, ...] | None = None
        """The file's `_stamp` when its reading started."""

    def start_digest(self, known: Fingerprint | None, content: LoadedContent) -> int:
        """Set up the digest; returns the file size. A size some loaded file has: perhaps a
        re-delivery, so hash first. Otherwise the file is hashed while it loads (and checked
        again before anything is published)."""
        st = regular_file(self.path)
        size, self.seen = st.st_size, _stamp(st)
        if known is not None and (known.size, known.mtime_ns) == (size, st.st_mtime_ns):
            self.digest = Digest(self.path, known.size, known.sha256)
            return known.size
        if size in content.sizes:
            self.digest = Digest.now(self.path, size)
        else:
            self.digest = Digest(self.path, size)
        return size

    def changed(self) -> InputError | None:
        """Why nothing of the file may be published when it is not the file whose reading
        started: its size or modification time moved (it was still being written or copied,
        as a file landing in the nightly's inbox may be), another file was renamed over it,
        or it is gone. What was read is not what the ledger would record."""
        if self.seen is None:
            return None
        try:
            now: tuple[int, ...] | None = _stamp(self.path.stat())
        except FileNotFoundError:
            now = None
        if now == self.seen:
            return None
        what = "was removed" if now is None else "changed"
        return InputError(
            f"the file {what} while it was read (still being written or copied?); nothing of "
            "it was published",
            path=str(self.path),
            hint="load it once it is complete (the nightly leaves it in the inbox and the next "
            "run loads it); copy files into the inbox under a hidden name (.name) and rename "
            "them when complete",
        )

    def known_loaded(self, content: LoadedContent) -> bool:
        """Whether the digest, if known before reading, says the content was loaded."""
        return self.digest.started() and self.digest.value() in content.digests

    def unreadable(self, exc: OSError, t0: float) -> FileResult:
        """The file cannot be read: its failed result; raises when it is the warehouse that
        cannot be written (that stops the run, exit 6)."""
        if (env := environment_error(exc, self.settings.warehouse)) is not None:
            raise env from exc
        err = cannot_read(exc, str(self.path))
        return failed_result(self.path, str(self.path), err, t0)

    def sources(self, size: int, t0: float) -> Iterator[StagedSource]:
        """Stage each source in turn (the next one only when the caller asks for it)."""
        path = self.path
        if size == 0:
            yield StagedSource(
                FileResult(str(path), str(path), "empty", message="empty file (0 bytes)"),
                path.name,
            )
            return
        try:
            sources = sources_of(path, Limits.of(self.settings))
        except InputError as exc:
            yield StagedSource(failed_result(path, str(path), exc, t0), path.name)
            return
        tee = None
        self.digest.shared = len(sources) > 1
        if not self.digest.started():
            if len(sources) == 1 and sources[0].container == "plain":
                tee = self.digest.feed()  # the reader's bytes: the file is read once
            else:
                self.digest.in_background()
        for i, source in enumerate(sources):
            try:
                if source.error is not None:
                    raise source.error
                staged = SourceStage(self, source, self.task.folder / f"{i:03d}", size).run(tee)
            except InputError as exc:
                staged = StagedSource(failed_result(path, source.name, exc, t0), path.name)
                staged.share = share(source.span, 0, size)[1]  # its progress ends there too
            yield staged


class SourceStage:
    """One data stream of a file (a plain file, a gzip stream or one ZIP member)."""

    def __init__(self, file: FileStage, source: Source, folder: Path, size: int) -> None:
        self.file, self.source, self.folder, self.size = file, source, folder, size
        self.file_offset: Callable[[int], int] = int
        self.settings = file.settings
        self.result = FileResult(str(file.path), source.name, "loaded", kind=file.task.kind)
        self.result.source_kind = file.task.source_kind or (
            "csv_report" if source.fmt == CSV else "api_json"
        )

    def run(self, tee: Callable[[memoryview], None] | None) -> StagedSource:
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

    def _run(self, tee: Callable[[memoryview], None] | None) -> StagedSource:
        result, source, task = self.result, self.source, self.file.task
        limits = Limits.of(self.settings)
        with ExitStack() as stack:
            stream = stack.enter_context(source.open(tee, limits))
            self.file_offset = file_offsets(stream)  # where in the file a chunk ends
            headers, body, line, quarantined = source_chunks(
                source, stream, self.settings.chunk_rows, limits
            )
            chunks = Prefetch(body)  # read and parse the next chunk while this one is staged
            stack.callback(chunks.close)  # before the stream closes
            if not headers:  # of a forced kind (a fetched page), the ledger names its table
                result.status, result.message = "empty", "no header and no rows"
                return StagedSource(result, source.path.name, task.kind)
            schema = SCHEMAS[task.kind] if task.kind else detect(headers, source, line, quarantined)
            if task.kind and headers != [NO_KEYS]:  # no keys: each record is quarantined
                check_forced_kind(headers, schema, source.name, line, keys=source.fmt != CSV)
            result.kind = schema.kind
            pending = PENDING_CHUNKS * self.settings.chunk_rows
            stager = Stager(self.folder / "rows", schema, pending, max_values=limits.file_days)
            rejects = RejectWriter(
                self.folder / REJECTS_FILE, task.run_id, schema.name, source.name
            )
            stack.callback(rejects.close)
            drift = Drift(schema, source.name, per_record=source.fmt != CSV)
            ctx = LoadContext(
                source_kind=result.source_kind or "",
                source_file=source.name,
                run_id=task.run_id,
                ingested_at=datetime.now(UTC),
                load_seq=task.load_seq + max(source.entry, 0),  # a ZIP's members in order
                max_value_bytes=self.settings.max_value_bytes,
            )
            most = most_bytes(source.container, source.compressed, self.size, limits)
            columns = len(headers) if source.fmt == CSV else 0
            stopped = failing = None
            try:
                for chunk in whole_files(chunks, schema.kind):
                    if failing is not None:  # bound to fail, and more follows: read no more
                        stopped = failing  # (a file read to its end never says it stopped)
                        break
                    interrupts.checkpoint()  # a stop raised here leaves nothing half-started
                    self._consume(chunk, schema, drift, ctx, stager, rejects)
                    rate, done = self.settings.max_reject_rate, chunk.bytes_read
                    if bound_to_fail(rejects.reasons, result.rows_read, done, most, rate, columns):
                        failing = result.rows_read
                drift.finish(result)
                staged = stager.close()
            except BaseException:
                stager.discard()
                raise
            rejects.close()
            reasons = dict(rejects.reasons)
            return StagedSource(
                result,
                source.path.name,
                schema.kind,
                self.folder,
                staged,
                reasons,
                stopped,
                stream_encoding(stream),
                share(source.span, 0, self.size)[1],
            )

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
        drift.typed(chunk, res)
        self.result.rows_read += chunk.rows_read
        if chunk.unended_line is not None:  # the last chunk
            self.result.add_note(unended_note(chunk.unended_line))

        def quarantine(row: int, reason: str, detail: str, raw: str) -> None:
            raw = redact_raw_text(raw, schema, res, self.source.fmt, chunk.delimiter)
            rejects.add(row, reason, detail, raw)

        for rj in chunk.rejects:
            quarantine(rj.source_row, rj.reason, rj.detail, rj.raw_text)
        if chunk.frame.height:
            rows, nulls, comma = chunk.source_rows, chunk.nulls_marked, chunk.decimal_comma
            frame, conflicts = drift.records(chunk.frame, res)
            place = np.arange(frame.height)  # of each row of `frame` in the chunk
            for idx, detail in conflicts:  # a JSON record naming a column with two values
                quarantine(int(rows[idx]), "duplicate_key", detail, chunk.raw_text(idx))
            if conflicts:
                place = np.delete(place, [idx for idx, _ in conflicts])
                frame, rows = frame[place], rows[place]
            out = normalize(frame, res, schema, ctx, rows, nulls, decimal_comma=comma)
            for idx, reason, detail in drift.header_rows(out.rejects, frame, res, rows):
                quarantine(int(rows[idx]), reason, detail, chunk.raw_text(int(place[idx])))
            drift.loaded(frame, res, out)
            stager.add(out.rows)
        if self.file.progress:  # a ZIP member's bytes are its share of the file
            done, total = share(self.source.span, self.file_offset(chunk.bytes_read), self.size)
            self.file.progress(ProgressEvent(self.source.name, self.result.rows_read, done, total))
