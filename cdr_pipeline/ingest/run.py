"""An ingest run: files and folders in, committed partitions and a ledger entry out.

The run holds the writer lock, records itself in the ledger (`running`, then `ok` or
`failed`; a run a new writer finds still `running` died and becomes `interrupted`), clears
what a crashed run left behind, and loads each file in turn (`load.FileLoader`; or has them
all staged elsewhere first, as Spark does, and publishes them in turn). A bad input
file never raises: its result says what went wrong and the run's exit code is 3.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cdr_pipeline import interrupts
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import (
    EXIT_OK,
    CdrError,
    InputError,
    environment_error,
    known_error,
)
from cdr_pipeline.ingest.digest import Fingerprint
from cdr_pipeline.ingest.load import FileLoader
from cdr_pipeline.ingest.merge import compact_appended
from cdr_pipeline.ingest.paths import expand_paths
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.ingest.recover import recover_dead, recover_runs
from cdr_pipeline.ingest.results import FileResult, IngestResult, ProgressFn
from cdr_pipeline.ingest.stage import FileTask, LoadedContent, StagedFile
from cdr_pipeline.logfields import log_fields
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.state.files import apply_file_mode
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_ending
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.tables import format_versions
from cdr_pipeline.text import stamp_ms

StageFiles = Callable[[list[FileTask]], list[StagedFile]]
"""Stages every file of a run elsewhere (`stage.stage_file` in Spark tasks) and returns what
each produced, in the tasks' order."""


def new_run_id(now: datetime) -> str:
    return f"{stamp_ms(now)}-{secrets.token_hex(3)}"


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    kind: str | None = None,
    source_kind: str | None = None,
    command: str = "cdr ingest",
    progress: ProgressFn | None = None,
    fingerprints: Mapping[Path, Fingerprint] | None = None,
    run_id: str | None = None,
    stage_files: StageFiles | None = None,
    run_date: date | None = None,
) -> IngestResult:
    """Load files or folders into the warehouse. Never raises for a bad input file: the file's
    result says what went wrong and `exit_code` is 3. Raises LockBusy when another writer runs.
    `fingerprints` are digests the caller already computed (the nightly scan); one is reused
    only while the file's size and modification time are unchanged. `run_id` is the
    caller's (the nightly's, so its log lines and ledger rows share one id), else a new one;
    `run_date` is the nightly's date, which the run's rows keep (a night killed during its
    ingest read as one of no date in `cdr runs`, its `run_date` null).
    `stage_files` stages every file elsewhere (Spark tasks) before this process publishes
    them in order; by default each file is staged and published in turn."""
    files = expand_paths(paths)
    if kind is not None and kind not in SCHEMAS:
        raise InputError(f"unknown kind {kind!r}", hint=f"one of: {', '.join(SCHEMAS)}")
    apply_file_mode(settings.file_mode)
    try:
        return _ingest(
            settings,
            files,
            kind,
            source_kind,
            command,
            progress,
            fingerprints,
            run_id,
            run_date,
            stage_files,
        )
    except CdrError:
        raise
    except Exception as exc:  # OSError, or DuckDB's / polars' own error saying the same
        env = environment_error(exc, settings.warehouse)
        if env is None:
            raise
        raise env from exc


def _ingest(
    settings: Settings,
    files: list[Path],
    kind: str | None,
    source_kind: str | None,
    command: str,
    progress: ProgressFn | None,
    fingerprints: Mapping[Path, Fingerprint] | None,
    run_id: str | None,
    run_date: date | None,
    stage_files: StageFiles | None,
) -> IngestResult:
    t0 = time.monotonic()
    started = datetime.now(UTC)
    run_id = run_id or new_run_id(started)
    layout = settings.layout
    ledger = Ledger(layout)
    with log_fields(run_id=run_id), writer_lock(layout, command, settings.lock_wait_seconds):
        interrupted = recover_dead(layout, ledger)
        shutil.rmtree(layout.staging, ignore_errors=True)
        layout.clean_temp_files()
        run: dict[str, Any] = {
            "run_id": run_id,
            "command": command,
            "status": "running",
            "started_at": started,
            "run_date": run_date,
        }
        ledger.write("runs", run_id, [run], RUNS_SCHEMA)
        results: list[FileResult] = []
        tables = PendingTables(layout, run_id)
        ending = "failed"
        failure: CdrError | None = None
        versions: dict[str, int] = {}
        try:
            content = LoadedContent.from_ledger(ledger)
            base_seq = int(started.timestamp() * 1_000_000) * 1000
            loaders = [
                FileLoader(
                    settings,
                    ledger,
                    run_id,
                    seq,
                    path,
                    base_seq + seq * settings.max_zip_members,  # room for its members
                    kind,
                    source_kind,
                    progress,
                    tables,
                )
                for seq, path in enumerate(files)
            ]
            # Ctrl-C and SIGTERM stop the run at a checkpoint (a chunk, a file, a partition),
            # never while a thread is being started or a file written (`interrupts`)
            if stage_files is None:
                with interrupts.deferred():
                    for loader in loaders:
                        interrupts.checkpoint()
                        results.extend(loader.run(content, (fingerprints or {}).get(loader.path)))
            elif loaders:
                # staged elsewhere, all at once; published here one by one in file order,
                # so each file meets the tables as `cdr ingest` would have left them
                staged = stage_files([loader.task_for(content) for loader in loaders])
                with interrupts.deferred():
                    for loader, one in zip(loaders, staged, strict=True):
                        interrupts.checkpoint()
                        results.extend(loader.publish(one, content))
            _compact(settings, tables, run_id)
            # a stop during the commit waits for its end: the run then counts as done, and
            # stops at the checkpoint after the ledger records it
            with interrupts.deferred(raise_at_end=False):
                versions = tables.commit()
                ending = "ok"
        except KeyboardInterrupt:
            ending = "interrupted"
            raise
        except Exception as exc:  # the ledger says what the CLI will say, not "a bug"
            failure = known_error(exc, settings.warehouse)
            raise
        finally:
            if ending != "ok":  # nothing of a table it did not commit may count as loaded
                # what it committed before it stopped (a failure between two tables'
                # commits) is what its row records
                versions = recover_runs(layout, ledger, [run_id])[run_id]
                results = _committed_only(results, set(versions))
            run.update(_run_totals(results, len(files), ending, failure))
            # its start plus how long it ran (monotonic): a clock set back mid-run made the
            # run finish before it started
            run["finished_at"] = started + timedelta(seconds=time.monotonic() - t0)
            run["table_versions"] = format_versions(versions) or None
            try:
                ledger.write("runs", run_id, [run], RUNS_SCHEMA)
            except OSError:
                if ending == "ok":  # else keep the error that stopped the run (a full disk...)
                    raise
            finally:
                shutil.rmtree(layout.staging_run(run_id), ignore_errors=True)
    interrupts.checkpoint()  # a stop that came during the commit: the run is recorded
    return IngestResult(run_id, results, time.monotonic() - t0, interrupted, versions)


def _compact(settings: Settings, tables: PendingTables, run_id: str) -> None:
    """Gather the files of new records a run appended beside a partition into one file per
    partition, before its commit (`merge.compact_appended`)."""
    with interrupts.deferred():
        for pending in tables.tables.values():
            compact_appended(
                pending,
                settings.layout.staging_run(run_id) / "duckdb_tmp",
                f"{run_id}-compact",
                f"{settings.merge_memory_mb}MiB",
            )


def _committed_only(results: list[FileResult], committed: set[str]) -> list[FileResult]:
    """The results of a run that ended before its commit (or during it), as the ledger's file
    records say after `recover_runs`: a file of a table the run did not commit loaded
    nothing (the run's totals had counted its rows as loaded)."""
    out = []
    for r in results:
        table = SCHEMAS[r.kind].name if r.kind in SCHEMAS else None
        if r.status == "loaded" and table not in committed:
            r = replace(
                r,
                status="interrupted",
                rows_loaded=0,
                rows_duplicate=0,
                rows_updated=0,
                webex_go_rows=0,
            )
        out.append(r)
    return out


def _run_totals(
    results: list[FileResult], files_seen: int, ending: str, failure: CdrError | None = None
) -> dict[str, Any]:
    """The run's closing ledger fields. A run that raised is `failed` with the exit code
    and message of its error (1, "unexpected error": a bug); one interrupted (Ctrl-C,
    SIGTERM) is `interrupted` with exit code 130."""
    finished_ok = ending == "ok"
    failed = [r.message for r in results if r.status == "failed"]
    worst = max((r.exit_code for r in results), default=EXIT_OK)
    status, code = run_ending(worst, ending, failure)
    return {
        "status": status,
        "exit_code": code,
        "files_seen": files_seen,
        "files_loaded": sum(r.status in ("loaded", "empty") for r in results),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "files_failed": len(failed),
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_duplicate": sum(r.rows_duplicate for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
        "message": "; ".join(failed)
        if finished_ok
        else (
            "interrupted (Ctrl-C, SIGTERM or SIGHUP); nothing uncommitted counts"
            if ending == "interrupted"
            else (failure.one_line() if failure else "unexpected error")
        ),
    }
