"""A --run-date to come (a typo, a simulated night) must not move retention's cutoff past
today: the nightly would drop call legs that are not yet `retain_days` old, for good after
the next vacuum. The close already counts from today at the latest; retention does too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.close import reporting_today
from tests.warehouse.finance_world import World, user


def test_a_run_date_to_come_drops_no_call_leg_younger_than_retain_days(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    today = reporting_today(settings)
    w = World()
    w.leg("calls.csv", "GO1", f"{today - timedelta(days=2)}T10:00:00Z", user(1), "+15550001", 60)
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    summary = run_nightly(
        settings, inbox, run_date=today + timedelta(days=365), retain_days=30, dry_run=True
    )
    assert summary.retention.cutoff == today - timedelta(days=30)
    assert summary.retention.dropped == []
