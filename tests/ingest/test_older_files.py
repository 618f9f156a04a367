"""A partition whose file an older release wrote, without a column the schema has since
gained, takes new records: the merge read that column from the held file and failed with an
unexpected BinderException (exit 1), on the first ingest after an upgrade that touched an old
day. The views already read such a file (a column it lacks is NULL); so does the merge."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.merge import merge_staged
from cdr_pipeline.ingest.pending import PendingTables
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.schema import schemas_by_table
from tests.ingest.helpers import settings


def test_a_held_file_without_a_newer_column_merges(tmp_path: Path) -> None:
    export = tmp_path / "calls.csv"
    write_call_export(export, legs=100, seed=8, start=date(2026, 9, 1), days=1)
    wh = tmp_path / "wh"
    assert ingest_paths(settings(wh), [export]).exit_code == 0
    pending = PendingTables(settings(wh).layout, "again").table(schemas_by_table()["call_legs"])
    staged: dict[str, Path] = {}
    for value, files in pending.snapshot.files.items():
        held = pq.read_table(files[0], partitioning=None)
        old = files[0].with_name("older-release.parquet")
        pq.write_table(held.drop_columns(["user_name", "wxcc_consult_merge_status"]), old)
        pending.rewritten[value] = old  # the partition's file, as an older release wrote it
        staged[value] = files[0]  # every record again, with every column
    counts = merge_staged(pending, staged, wh / "tmp", "again")
    assert counts.loaded + counts.duplicate == 100
    for new in pending.rewritten.values():
        assert new is not None
        names = pq.read_schema(new).names
        assert "user_name" in names and "wxcc_consult_merge_status" in names
