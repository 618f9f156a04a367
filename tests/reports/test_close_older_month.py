"""The nightly closes only the month before its run date: a month it refused while
incomplete (device data late, a day of calls missing) is never closed by it once the next
month has begun, even when the data comes. It said nothing of that month any more; it now
names it every night until it is closed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.close import close_due_month, close_month
from tests.warehouse.finance_world import World, user


def test_the_nightly_names_an_older_month_it_will_never_close(tmp_path: Path) -> None:
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.ingest(tmp_path)
    settings = Settings(warehouse=tmp_path / "wh", close_after_days=5)
    close_month(settings, "2026-08", force=True, reason="first month", today=date(2026, 9, 6))

    text = close_due_month(settings, date(2026, 11, 10))
    assert "2026-10 not closed" in text
    assert "2026-09 is not closed either: the nightly closes only the previous month" in text


def test_the_open_months_are_named_as_runs(tmp_path: Path) -> None:
    """A close forced by mistake years back (1999-01 typed for 2026-01) left every month
    since open, and each night's warning named all 330 of them, one by one (3,000
    characters in the nightly's summary and log every night). Consecutive months are one
    run, six runs at most and how many more."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.ingest(tmp_path)
    settings = Settings(warehouse=tmp_path / "wh", close_after_days=5)
    close_month(settings, "1999-01", force=True, reason="typo", today=date(2026, 9, 6))
    close_month(settings, "2026-03", force=True, reason="agreed", today=date(2026, 9, 6))

    text = close_due_month(settings, date(2026, 11, 10))
    assert "1999-02..2026-02, 2026-04..2026-09 are not closed either" in text
    # the open months' part (the month's own refusal names each of its reasons before it)
    assert len(text[text.index("1999-02..") :]) < 200
