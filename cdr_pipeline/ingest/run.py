"""An ingest run: files and folders in, committed partitions and a ledger entry out.

The run holds the writer lock, records itself in the ledger (`running`, then `ok` or
`failed`; a run a new writer finds still `running` died and becomes `interrupted`), clears
what a crashed run left behind, and loads each file in turn (`load.FileLoader`). A bad input
file never raises: its result says what went wrong and the run's exit code is 3.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_OK, InputError
from cdr_pipeline.ingest.digest import Fingerprint
from cdr_pipeline.ingest.load import FileLoader, LoadedContent
from cdr_pipeline.ingest.merge import clean_temp_files
from cdr_pipeline.ingest.results import FileResult, IngestResult, ProgressFn
from cdr_pipeline.logfields import log_fields
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.text import stamp_ms


def new_run_id(now: datetime) -> str:
    return f"{stamp_ms(now)}-{secrets.token_hex(3)}"


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
) -> IngestResult:
    """Load files or folders into the warehouse. Never raises for a bad input file: the file's
    result says what went wrong and `exit_code` is 3. Raises LockBusy when another writer runs.
    `fingerprints` are digests the caller already computed (the nightly scan); one is reused
    only while the file's size and modification time are unchanged. `run_id` is the
    caller's (the nightly's, so its log lines and ledger rows share one id), else a new one."""
    files = expand_paths(paths)
    if kind is not None and kind not in SCHEMAS:
        raise InputError(f"unknown kind {kind!r}", hint=f"one of: {', '.join(SCHEMAS)}")
    t0 = time.monotonic()
    started = datetime.now(UTC)
    run_id = run_id or new_run_id(started)
    layout = settings.layout
    ledger = Ledger(layout)
    with log_fields(run_id=run_id), writer_lock(layout, command, settings.lock_wait_seconds):
        interrupted = ledger.mark_interrupted()
        shutil.rmtree(layout.staging, ignore_errors=True)
        clean_temp_files(layout)
        run: dict[str, Any] = {
            "run_id": run_id,
            "command": command,
            "status": "running",
            "started_at": started,
        }
        ledger.write("runs", run_id, [run], RUNS_SCHEMA)
        results: list[FileResult] = []
        finished_ok = False
        try:
            content = LoadedContent.from_ledger(ledger)
            base_seq = int(started.timestamp() * 1_000_000) * 1000
            for seq, path in enumerate(files):
                loader = FileLoader(
                    settings, ledger, run_id, seq, path, base_seq + seq, kind, source_kind, progress
                )
                results.extend(loader.run(content, (fingerprints or {}).get(path)))
            finished_ok = True
        finally:
            run.update(_run_totals(results, len(files), finished_ok))
            ledger.write("runs", run_id, [run], RUNS_SCHEMA)
            shutil.rmtree(layout.staging_run(run_id), ignore_errors=True)
    return IngestResult(run_id, results, time.monotonic() - t0, interrupted)


def _run_totals(results: list[FileResult], files_seen: int, finished_ok: bool) -> dict[str, Any]:
    """The run's closing ledger fields. A run that raised is `failed` with exit code 1."""
    code = max((r.exit_code for r in results), default=EXIT_OK)
    failed = [r.message for r in results if r.status == "failed"]
    return {
        "status": "ok" if finished_ok and code == EXIT_OK else "failed",
        "finished_at": datetime.now(UTC),
        "exit_code": code if finished_ok else 1,
        "files_seen": files_seen,
        "files_loaded": sum(r.status in ("loaded", "empty") for r in results),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "files_failed": len(failed),
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_duplicate": sum(r.rows_duplicate for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
        "message": "; ".join(failed) if finished_ok else "unexpected error",
    }
