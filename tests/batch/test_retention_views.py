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

SAMPLES = Path(__file__).parents[2] / "data" / "samples"


def test_views_and_kept_marts_leave_the_days_retention_dropped(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    settings = Settings(warehouse=tmp_path / "wh")
    summary = run_nightly(settings, inbox, run_date=date(2026, 11, 3), retain_days=40)
    assert summary.exit_code == 0, summary.stages
    assert summary.retention is not None and summary.retention.dropped
    cutoff = summary.retention.cutoff
    with duckdb.connect(str(settings.layout.duckdb), read_only=True) as con:
        built = con.execute("select table_versions from cdr_meta.build").fetchall()
        first_day = con.execute("select min(call_date) from fct_call_legs").fetchall()
        orphans = con.execute(
            "select count(*) from fct_calls c where not exists "
            "(select 1 from fct_call_legs l where l.correlation_id = c.correlation_id)"
        ).fetchall()
    assert built == [(format_versions(latest_versions(settings)),)]
    assert first_day[0][0] >= cutoff
    assert orphans == [(0,)]  # no call is kept whose legs retention dropped
