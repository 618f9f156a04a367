"""--force closes a month whose data is incomplete, or one that has not ended yet; never one
that has not begun: its frozen figures would be empty, and the month, once it comes, would
stay closed with nothing in it (the nightly only says it is already closed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.close import CloseRefused, close_due_month, close_month
from cdr_pipeline.reports.frozen import read_close, read_journal
from cdr_pipeline.warehouse import build_warehouse
from tests.reports.finance_helpers import cdr
from tests.warehouse.finance_world import World, user


@pytest.fixture
def wh(tmp_path: Path) -> Settings:
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    return settings


def test_a_month_that_has_not_begun_is_refused_even_forced(wh: Settings) -> None:
    # 2027-10 typed for 2026-10, with the --force a month of partial coverage needed
    with pytest.raises(CloseRefused, match=r"2027-10 has not begun \(today is 2026-11-04\)"):
        close_month(wh, "2027-10", force=True, reason="AP agreed", today=date(2026, 11, 4))
    assert read_close(wh.layout, date(2027, 10, 1)) is None
    assert read_journal(wh.layout) == []
    code, _, err = cdr(wh, "close", "2099-01", "--force", "--reason", "x")
    assert code == 3 and "has not begun" in err
    assert not wh.layout.closed_month("2099-01").exists()
    # a nightly of a --run-date to come said "`cdr close --force --reason TEXT` to close
    # it", which the close refuses: it gives the refusal's own hint
    due = Settings(warehouse=wh.warehouse, close_after_days=3)
    text = close_due_month(due, date(2099, 2, 10))
    assert "2099-01 not closed: 2099-01 has not begun" in text, text
    assert "close it on 2099-02-01 or later" in text and "never one to come" in text
    assert "--force --reason TEXT" not in text
    # a month under way can still be closed early when forced, as documented
    close = close_month(wh, "2026-11", force=True, reason="early", today=date(2026, 11, 4))
    assert close.close.forced and close.close.month == "2026-11"
