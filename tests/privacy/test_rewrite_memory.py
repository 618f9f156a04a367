"""`cdr forget` rewrites each partition holding the person within `merge_memory_mb`: its
memory follows the partition, not the number of columns it blanks. The touched test was
written into every dropped column's `case` (an IN-subquery hash join per column and kind,
ninety for the call legs): at 512 MiB a 900-row partition ran out of memory, exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import MergeOutOfMemory
from cdr_pipeline.privacy.forget import forget
from tests.reports.finance_helpers import query


def _a_user(settings: Settings) -> str:
    """The user with the most legs."""
    rows = query(
        settings,
        "select user_uuid from fct_call_legs where user_uuid is not null "
        "group by 1 order by count(*) desc, 1 limit 1",
    )
    return str(rows[0][0])


def test_the_touched_test_is_computed_once_per_row() -> None:
    """The rewrite's SQL holds the touched test once, not once per dropped column."""
    from cdr_pipeline.privacy.rewrite import _select, touched_predicate
    from cdr_pipeline.schema import SCHEMAS

    schema = SCHEMAS["calls"]
    present = {c.name for c in schema.stored_columns}
    touched = touched_predicate(schema, present)
    sql = _select(schema, present, touched, (), [Path("x.parquet")])
    assert touched.count(" in (select value from ") >= 5  # a test per replaced column
    assert sql.count(touched) == 1


def test_forget_rewrites_within_merge_memory(sample_wh: Settings, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", merge_memory_mb=128)
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    # the copy's rows, read from the sample's views; forget reads tables (no build of the
    # copy before it: the forget builds it)
    result = forget(settings, user=_a_user(sample_wh))
    assert result.rows > 0 and all(t.version is not None for t in result.tables if t.partitions)


def test_a_rewrite_past_merge_memory_is_exit_6_naming_the_setting(
    sample_wh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the floor the setting allows (nothing fits in 1 MiB), so the error path is
    real: nothing committed, the message names what to raise."""
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    user = _a_user(sample_wh)  # the copy's rows; forget reads tables, stops before a build
    object.__setattr__(settings, "merge_memory_mb", 1)
    legs = settings.layout.table("call_legs") / "_delta_log"
    before = sorted(legs.glob("*.json"))
    with pytest.raises(MergeOutOfMemory) as exc:
        forget(settings, user=user)
    assert "needed more than merge_memory_mb (1MiB)" in exc.value.message
    assert exc.value.exit_code == 6
    assert sorted(legs.glob("*.json")) == before


def test_a_rewrite_deletes_what_a_killed_rewrite_spilled(tmp_path: Path) -> None:
    """A forget or retention killed while DuckDB spilled (memory past `merge_memory_mb`)
    left its spill files, raw rows of the person, under state/privacy/.spill: DuckDB never
    deletes another process's spill files, and `cdr forget` searches no file under
    state/privacy/, so they outlived the erasure without a word. The next rewrite, under the
    writer lock (no other rewrite runs), deletes them first."""
    from cdr_pipeline.privacy.rewrite import rewrite_connection

    settings = Settings(warehouse=tmp_path / "wh")
    spill = settings.layout.state / "privacy" / ".spill"
    spill.mkdir(parents=True)
    left = spill / "duckdb_temp_4242_0_storage_S32K-0.tmp"
    left.write_text("Walter Headless,+14155550177")
    con = rewrite_connection(settings, pa.table({"kind": [], "value": [], "pseudonym": []}))
    con.close()
    assert not left.exists()


def test_a_rewrite_deletes_what_a_killed_ingest_left(tmp_path: Path) -> None:
    """An ingest killed mid-run leaves its staged rows and merge spill under state/staging/
    and a half-written data file under tables/ (never committed, never read): raw rows of
    everyone in its input. Only the next ingest deleted them, so a `cdr forget` run before
    it left the person there after its vacuum, and forget searches neither place (tables/
    is rewritten by commits; a spill block is binary). A rewrite, under the writer lock as
    an ingest's start is, deletes them first."""
    from cdr_pipeline.privacy.rewrite import rewrite_connection

    settings = Settings(warehouse=tmp_path / "wh")
    layout = settings.layout
    staged = layout.staging_run("20261205T000000000Z-dead01") / "00001" / "part-0.parquet"
    spill = layout.staging_run("20261205T000000000Z-dead01") / "duckdb_temp_block-42.block"
    final = layout.table("call_legs") / "call_date=2026-10-05" / "part-x.parquet"
    half = layout.temp_beside(final, "dead01")
    kept = layout.table("call_legs") / "call_date=2026-10-05" / "part-y.parquet"
    for path in (staged, spill, half, kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Walter Headless,+14155550177")
    con = rewrite_connection(settings, pa.table({"kind": [], "value": [], "pseudonym": []}))
    con.close()
    assert not layout.staging.exists()
    assert not half.exists() and layout.temp_files() == []
    assert kept.exists()  # a data file of the table is the commits' to replace
