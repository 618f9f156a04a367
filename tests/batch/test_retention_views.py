"""Retention in the nightly runs after the build: the views and the marts kept in
`cdr.duckdb` must still end the night at the version retention committed."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse.snapshots import format_versions, latest_versions


def test_no_byte_view_or_kept_mart_of_cdr_duckdb_keeps_the_days_retention_dropped(
    tmp_path: Path, sample_wh: Settings
) -> None:
    """One night with retention over a built copy of the samples, which were two tests of a
    night each, checks:
    - retention runs after the build: the views and the marts kept in `cdr.duckdb` still
      end the night at the version retention committed (the build's table versions are the
      latest, no leg before the cutoff, no kept call whose legs retention dropped);
    - days past retention are gone from `cdr.duckdb` too, not only from its views: a
      refresh edits a copy of the old file, whose freed pages still held the dropped days'
      numbers and names."""
    settings, old = _built(tmp_path, sample_wh)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    retain = (TODAY - CUTOFF).days
    summary = run_nightly(settings, inbox, run_date=TODAY, retain_days=retain)
    assert summary.exit_code == 0, summary.stages
    assert summary.retention is not None and summary.retention.dropped
    assert summary.retention.cutoff == CUTOFF
    with duckdb.connect(str(settings.layout.duckdb), read_only=True) as con:
        built = con.execute("select table_versions from cdr_meta.build").fetchall()
        first_day = con.execute("select min(call_date) from fct_call_legs").fetchall()
        orphans = con.execute(
            "select count(*) from fct_calls c where not exists "
            "(select 1 from fct_call_legs l where l.correlation_id = c.correlation_id)"
        ).fetchall()
    assert built == [(format_versions(latest_versions(settings)),)]
    assert first_day[0][0] >= CUTOFF
    assert orphans == [(0,)]  # no call is kept whose legs retention dropped
    assert _left_in_the_file(settings, old) == set()


CUTOFF, TODAY = date(2026, 9, 10), date(2026, 12, 3)
"""The retention tests' drop: the sample days before CUTOFF."""


def _built(tmp_path: Path, sample_wh: Settings) -> tuple[Settings, set[str]]:
    """A warehouse of the samples, built, and the personal values only the days before
    CUTOFF hold, each checked to be in `cdr.duckdb`'s bytes: a copy of the session's
    sample warehouse (loaded once), built anew, as its views list its own folder's files."""
    from cdr_pipeline.warehouse import build_warehouse

    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)
    old = _old_values(settings, CUTOFF)
    assert old and all(v.encode() in settings.layout.duckdb.read_bytes() for v in old)
    return settings, old


def _left_in_the_file(settings: Settings, old: set[str]) -> set[str]:
    """The `old` values still in `cdr.duckdb`'s bytes, but those a later day also holds."""
    data = settings.layout.duckdb.read_bytes()
    with duckdb.connect(str(settings.layout.duckdb), read_only=True) as con:
        live = {
            str(r[0])
            for r in con.execute(
                "select value from cdr_meta.personal_values where value in (select unnest(?))",
                [sorted(old)],
            ).fetchall()
        }  # also in a column of a later day
    return {v for v in old - live if v.encode() in data}


def _old_values(settings: Settings, cutoff: date) -> set[str]:
    """Personal values of `cdr.duckdb`'s call legs that occur only before `cutoff`."""
    with duckdb.connect(str(settings.layout.duckdb), read_only=True) as con:
        rows = con.execute(
            "with v as (select call_date, unnest([calling_number, called_number, user_name, "
            "calling_line_id, called_line_id]) as v from main.stg_call_legs) "
            "select v from v where length(v) >= 8 group by v having max(call_date) < ?",
            [cutoff],
        ).fetchall()
    return {str(r[0]) for r in rows}


def test_a_drop_whose_build_never_ran_is_written_into_a_new_file_by_the_next_refresh(
    tmp_path: Path, sample_wh: Settings
) -> None:
    """A nightly killed (or out of disk) after retention committed its drop, before its
    build: the next night's build stage refreshed a copy of the old file, so the dropped
    days' numbers and names stayed in its freed pages (81 of 81 sample values)."""
    from cdr_pipeline.ingest.retention import apply_retention

    settings, old = _built(tmp_path, sample_wh)
    # what the killed night left: the drop committed, cdr.duckdb of before it
    retain = (TODAY - CUTOFF).days
    assert apply_retention(settings, retain, "killed-night", TODAY).dropped
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    summary = run_nightly(settings, inbox, run_date=TODAY, retain_days=retain)
    assert summary.exit_code == 0, summary.stages
    assert _left_in_the_file(settings, old) == set()


def test_after_a_drop_the_refresh_copies_live_rows_into_a_new_file(
    tmp_path: Path, sample_wh: Settings
) -> None:
    """A drop no longer costs a whole build (about a minute a night at 10M legs): the
    refreshed copy's live rows go into a new file, which keeps no byte of the dropped days
    and answers as a whole build does; the mark is gone, so the next night refreshes."""
    from cdr_pipeline.ingest.retention import apply_retention
    from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
    from tests.warehouse.test_refresh import _digest

    settings, old = _built(tmp_path, sample_wh)
    assert apply_retention(settings, (TODAY - CUTOFF).days, "night", TODAY).dropped
    assert settings.layout.whole_build_mark.exists()

    result = refresh_warehouse(settings)
    assert not result.full  # a refresh, not the whole build
    assert not settings.layout.whole_build_mark.exists()
    assert _left_in_the_file(settings, old) == set()
    refreshed = _digest(settings.layout.duckdb)
    build_warehouse(settings)
    assert _digest(settings.layout.duckdb) == refreshed
