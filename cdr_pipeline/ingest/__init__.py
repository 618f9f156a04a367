"""Streaming ingest, one module per stage: sources (sniff) -> csv_reader / json_reader (read
chunk) -> normalize (+ derive) -> stager -> merge; load (one file), run (one run)."""

from __future__ import annotations

from cdr_pipeline.ingest.digest import Fingerprint
from cdr_pipeline.ingest.paths import input_bytes
from cdr_pipeline.ingest.results import FileResult, IngestResult, ProgressEvent, ProgressFn
from cdr_pipeline.ingest.run import expand_paths, ingest_paths, new_run_id

__all__ = [
    "FileResult",
    "Fingerprint",
    "IngestResult",
    "ProgressEvent",
    "ProgressFn",
    "expand_paths",
    "ingest_paths",
    "input_bytes",
    "new_run_id",
]
