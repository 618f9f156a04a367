"""A --run-date to come (a typo, a simulated night) must not move retention's cutoff past
today: the nightly would drop call legs that are not yet `retain_days` old, for good after
the next vacuum. The close already counts from today at the latest; retention does too."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.cli.main import cli
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


def test_a_plan_says_retention_drops_the_old_days_of_the_files_it_would_load(
    tmp_path: Path,
) -> None:
    """The plan of a night whose files hold days past `--retain-days` said `drop 0
    partition(s)` and `retention would drop: nothing` (it counted only what the warehouse
    held); the night then loaded the files and dropped their old days. It says the cutoff
    and that the new files' days before it go too."""
    today = date(2026, 12, 6)
    w = World()
    w.leg("calls.csv", "GO1", f"{today - timedelta(days=90)}T10:00:00Z", user(1), "+15550001", 60)
    inbox = w.write(tmp_path / "inbox")
    wh = tmp_path / "wh"
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--dry-run"]
    args += ["--run-date", str(today), "--retain-days", "30"]
    result = CliRunner().invoke(cli, args, env={"CDR_CONFIG": "", "TZ": "UTC"})
    assert result.exit_code == 0, result.output
    cutoff = min(today, reporting_today(Settings(warehouse=wh))) - timedelta(days=30)
    assert f"drop 0 partition(s) before {cutoff} and any day before it in the 1 new" in " ".join(
        result.output.split()
    )
    assert f"retention would drop before {cutoff}: nothing (and any day before it in the new" in (
        result.output
    )
    assert not wh.exists()


def test_a_retain_days_past_any_date_is_a_usage_of_exit_3_not_a_crash(tmp_path: Path) -> None:
    """`--retain-days 99999999999` overflowed the date arithmetic: exit 1, "report it"."""
    (tmp_path / "inbox").mkdir()
    args = ["--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", str(tmp_path / "inbox")]
    result = CliRunner().invoke(cli, [*args, "--dry-run", "--retain-days", "99999999999"])
    assert result.exit_code == 3, result.output
    assert "--retain-days: bad value for 'retain_days'" in result.output
    assert "must be between 1 and 36,525" in result.output
