"""The nightly's automatic close: once the configured days of the new month have passed
it closes the previous month, before reporting; late data for a closed month is named in
the night's restatements. (Moved from test_close.py, as it was.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import close_due_month
from cdr_pipeline.reports.frozen import read_close
from tests.reports.finance_helpers import CLOSED_MONTH, held_device_of, late_call_file


def test_nightly_closes_the_previous_month_after_the_configured_days(
    validated_wh: Settings, tmp_path: Path
) -> None:
    settings = validated_wh  # the samples' loads validated: the night has none to validate
    off = close_due_month(settings, date(2026, 11, 4))
    assert "not configured" in off
    settings = Settings(warehouse=settings.warehouse, close_after_days=3)
    early = close_due_month(settings, date(2026, 11, 2))
    assert "after 3 day(s)" in early and "(1 so far)" in early
    assert read_close(settings.layout, date(2026, 10, 1)) is None

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # the plan says the night would close the month (it said nothing of a close), only
    # once it is due, and no more once it is closed (below)
    plan = run_nightly(settings, inbox, run_date=date(2026, 11, 4), dry_run=True)
    assert f"build; close {CLOSED_MONTH} (unless" in plan.stages[0].summary
    plan = run_nightly(settings, inbox, run_date=date(2026, 11, 2), dry_run=True)
    assert "close" not in plan.stages[0].summary
    # a run date to come: the close refuses a month that has not begun, and the plan says so
    plan = run_nightly(settings, inbox, run_date=date(9999, 12, 31), dry_run=True)
    assert "not close 9999-11 (it has not begun)" in plan.stages[0].summary
    due = run_nightly(settings, inbox, run_date=date(2026, 11, 4))
    assert due.exit_code == 0, due.stages
    names = [s.name for s in due.stages]
    assert names.index("close") == names.index("reports") - 1  # frozen before reporting
    stage = due.stage("close")
    assert stage is not None and stage.summary.startswith(f"closed {CLOSED_MONTH}")
    close = read_close(settings.layout, date(2026, 10, 1))
    assert close is not None and close.closed_by == "cdr nightly"
    plan = run_nightly(settings, inbox, run_date=date(2026, 11, 4), dry_run=True)
    assert "close" not in plan.stages[0].summary
    # the summary written beside the CSVs shows the closed month
    html = (settings.layout.reports / "2026-11-04" / "finance-summary_2026-10.html").read_text()
    assert "closed on" in html and "October 2026" in html

    # an incomplete month is not closed by the nightly: it says why, the run goes on
    later = close_due_month(settings, date(2026, 12, 10))
    assert "2026-11 not closed" in later and "coverage is none" in later
    assert read_close(settings.layout, date(2026, 11, 1)) is None


def test_a_nightly_says_which_closed_months_late_data_would_restate(
    validated_wh: Settings, tmp_path: Path
) -> None:
    """Late data for a closed month moves no frozen figure, so nobody sees it unless they
    ask for the restatements: the nightly writes them beside its reports and names the
    months they move."""
    # the samples' loads validated: the nights validate the late file only
    settings = replace(validated_wh, close_after_days=3)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = run_nightly(settings, inbox, run_date=date(2026, 11, 4))
    assert first.exit_code == 0, first.stages
    stage = first.stage("reports")
    assert stage is not None and "would change" not in stage.summary
    header_only = settings.layout.reports / "2026-11-04" / "restatements.csv"
    lines = header_only.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("month,report") and len(lines) == 1  # every closed month holds

    late_call_file(inbox, held_device_of(settings, CLOSED_MONTH))
    second = run_nightly(settings, inbox, run_date=date(2026, 11, 5))
    assert second.exit_code == 0, second.stages
    stage = second.stage("reports")
    assert stage is not None
    assert f"closed month(s) {CLOSED_MONTH} would change if recomputed now" in stage.summary
    written = (settings.layout.reports / "2026-11-05" / "restatements.csv").read_text("utf-8-sig")
    assert written.count(f"{CLOSED_MONTH}-01,licence-usage") >= 1
    # the frozen figures stay as they were
    assert run_report(settings, "licence-usage", CLOSED_MONTH).closed_at is not None
