"""A partition merge that needs more memory than DuckDB is given (`merge_memory_mb`) raises
MergeOutOfMemory, exit 6 naming the setting: it was "unexpected OutOfMemoryException ...
report it", exit 1. Real merges of real table files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_ENVIRONMENT, ConfigError, MergeOutOfMemory
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.merge import merge_staged
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.schema import schemas_by_table
from tests.ingest.helpers import settings


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    export = tmp_path / "calls.csv"
    write_call_export(export, legs=3_000, seed=8, start=date(2026, 9, 1), days=3)
    wh = tmp_path / "wh"
    assert ingest_paths(settings(wh, merge_memory_mb=64), [export]).exit_code == 0
    return wh


def _merge_again(wh: Path, memory_limit: str) -> int:
    """Merge the table's own files into it again, as a re-delivery of every record would."""
    pending = PendingTables(settings(wh).layout, "again").table(schemas_by_table()["call_legs"])
    staged = {value: files[0] for value, files in pending.snapshot.files.items()}
    counts = merge_staged(pending, staged, wh / "tmp", "again", memory_limit)
    return counts.loaded + counts.duplicate


def test_a_merge_past_its_memory_is_exit_6_naming_the_setting(warehouse: Path) -> None:
    with pytest.raises(MergeOutOfMemory) as failed:
        _merge_again(warehouse, "1MiB")
    assert failed.value.exit_code == EXIT_ENVIRONMENT
    assert "merge_memory_mb (1MiB)" in failed.value.message
    assert "raise merge_memory_mb" in (failed.value.hint or "")
    # with room, the same merge runs (64 MiB ran out once in a full suite: 63.9 of 64 MiB)
    assert _merge_again(warehouse, "128MiB") == 3_000


def test_merge_memory_is_a_setting_with_a_floor() -> None:
    assert Settings(merge_memory_mb=256).merge_memory_mb == 256
    with pytest.raises(ConfigError, match="merge_memory_mb"):
        Settings(merge_memory_mb=8)
