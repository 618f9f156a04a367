"""The analyst tier's pseudonym maps follow the grace period of the table files: a map stays
until `vacuum_grace_hours` after the build that replaced it, so a `cdr.duckdb` held open
read-only keeps its analyst views through the next builds, however long ago its own map was
written (with nightly builds a day apart, the last map used to go the moment the next one
replaced it)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse

DAY = 86400


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_held_reader_keeps_its_map_until_the_grace_after_its_replacement(
    tmp_path: Path, samples_dir: Path
) -> None:
    settings = Settings(warehouse=tmp_path / "wh")  # grace 24 hours
    september = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    assert ingest_paths(settings, [september]).exit_code == 0
    build_warehouse(settings)
    (first,) = settings.layout.pseudonym_maps()
    _age(first, 2 * DAY)  # the last build was two days ago
    held = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        count = "select count(*) from analyst.fct_calls"
        before = held.execute(count).fetchall()
        october = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"
        assert ingest_paths(settings, [october]).exit_code == 0
        refresh_warehouse(settings)  # writes a new map: the first is replaced only now
        assert first.exists()
        assert len(settings.layout.pseudonym_maps()) == 2
        vacuum_tables(settings)
        assert first.exists()
        assert held.execute(count).fetchall() == before  # the held version, still readable
    finally:
        held.close()
    # a day and more after it was replaced, vacuum deletes it; the newest map stays
    second = max(settings.layout.pseudonym_maps(), key=lambda p: p.stat().st_mtime)
    _age(second, DAY + 60)
    gone = vacuum_tables(settings).deleted["pseudonym maps"]
    assert gone == [str(first)]
    assert settings.layout.pseudonym_maps() == [second]
