"""Warehouse state: the layout (every path), atomic file installs, the run ledger and the
writer lock. Usable by ingest, fetch, quality and batch without importing any of them."""

from cdr_pipeline.state.files import atomic_write_bytes, atomic_write_table, install_file
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA, TS, Ledger
from cdr_pipeline.state.lock import writer_lock

__all__ = [
    "FILES_SCHEMA",
    "RUNS_SCHEMA",
    "TS",
    "Layout",
    "Ledger",
    "atomic_write_bytes",
    "atomic_write_table",
    "install_file",
    "writer_lock",
]
