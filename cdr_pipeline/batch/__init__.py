"""Orchestration of whole flows (demo, nightly) as library code; the CLI only calls it.

Each flow returns a summary whose `exit_code` is the worst of its stages (0 ok, 3 bad input,
4 data quality, 1 unexpected), so the CLI, tests and notebooks see the same outcome.
"""

from cdr_pipeline.batch.demo import find_samples, run_demo
from cdr_pipeline.batch.nightly import archive_loaded, run_nightly, scan_inbox
from cdr_pipeline.batch.stages import (
    DemoSummary,
    FlowSummary,
    InboxFile,
    NightlySummary,
    StageOutcome,
    worst,
)
from cdr_pipeline.ingest import Fingerprint

__all__ = [
    "DemoSummary",
    "Fingerprint",
    "FlowSummary",
    "InboxFile",
    "NightlySummary",
    "StageOutcome",
    "archive_loaded",
    "find_samples",
    "run_demo",
    "run_nightly",
    "scan_inbox",
    "worst",
]
