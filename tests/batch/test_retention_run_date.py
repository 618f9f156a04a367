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


def test_retention_never_drops_every_day_of_call_legs(tmp_path: Path) -> None:
    """A machine that booted with its clock years ahead (under cron, which does not wait for
    time sync) counted retention back from that day: every call-leg day went, for good after
    the vacuum. Retention that would drop every day drops none and says why (exit 3), in the
    nightly's stage and in its dry run's plan; a day left after the cut-off lets it drop."""
    import pytest

    from cdr_pipeline.ingest.retention import RetentionRefused, apply_retention
    from cdr_pipeline.state import tables

    settings = Settings(warehouse=tmp_path / "wh")
    today = reporting_today(settings)
    w = World()
    for n, days in enumerate((40, 41), 1):
        w.leg(
            "calls.csv", f"GO{n}", f"{today - timedelta(days=days)}T10:00:00Z", user(n), "+1555", 60
        )
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    legs = settings.layout.table("call_legs")
    version = tables.version_at(legs)

    ahead = today + timedelta(days=3650)  # the clock ten years ahead
    with pytest.raises(RetentionRefused, match="would drop every day of call legs") as refused:
        apply_retention(settings, 30, "clock-ahead", today=ahead)
    assert refused.value.exit_code == 3 and "check the machine's clock" in str(refused.value.hint)
    assert tables.version_at(legs) == version  # nothing dropped

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    plan = run_nightly(settings, inbox, run_date=today, retain_days=30, dry_run=True)
    (step,) = [s for s in plan.stages if s.name == "plan"]
    assert step.exit_code == 3 and "retention refused" in step.summary, step.summary
    night = run_nightly(settings, inbox, run_date=today, retain_days=30)
    stage = night.stage("retention")
    assert stage is not None and stage.exit_code == 3, stage
    assert tables.version_at(legs) == version
    # a day on or after the cut-off: the older day alone goes
    assert apply_retention(settings, 30, "t", today=today - timedelta(days=10)).dropped
    assert tables.version_at(legs) == version + 1
