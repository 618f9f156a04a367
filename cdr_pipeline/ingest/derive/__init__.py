"""Per-kind derivations run by normalize after typed parsing, listed explicitly (no
registration by import side effect): input kind -> deriver."""

from __future__ import annotations

from cdr_pipeline.ingest.derive.base import Check, Deriver
from cdr_pipeline.ingest.derive.calls import derive_calls
from cdr_pipeline.ingest.derive.devices import derive_entitlements, derive_events, derive_snapshots
from cdr_pipeline.ingest.derive.directory import derive_directory

DERIVERS: dict[str, Deriver] = {
    "calls": derive_calls,
    "device_snapshots": derive_snapshots,
    "activation_events": derive_events,
    "entitlements": derive_entitlements,
    "org_directory": derive_directory,
}

__all__ = ["DERIVERS", "Check", "Deriver"]
