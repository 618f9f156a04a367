"""Only a folder named YYYY-MM under `closed/` is a closed month: a copy of one beside it
(a file manager's `2026-10 - Copy`, a `2026-10.bak`) or a folder named otherwise is no
second close of that month."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.frozen import list_closed
from tests.reports.finance_helpers import CLOSED_MONTH, cdr


@pytest.fixture
def wh(fresh_closed_wh: Settings) -> Settings:
    """A writable warehouse of the samples with October closed, for this test alone."""
    return fresh_closed_wh


def _month_rows(settings: Settings, report: str) -> int:
    code, out, err = cdr(settings, "report", report, "--format", "csv")
    assert code == 0, err
    return sum(1 for r in csv.DictReader(io.StringIO(out)) if r["month"][:7] == CLOSED_MONTH)


@pytest.mark.parametrize("copy", [f"{CLOSED_MONTH} - Copy", f"{CLOSED_MONTH}.bak", "backup"])
def test_a_copy_of_a_closed_month_beside_it_is_ignored_with_a_warning(
    wh: Settings, copy: str
) -> None:
    """A backup copy of closed/2026-10 made beside it was read as a second close of 2026-10
    (its manifest names the month): every report of all months listed the month's frozen
    rows twice, exit 0, and a copy named `backup` stopped them with an unexpected error."""
    rows = {name: _month_rows(wh, name) for name in ("reconciliation", "licence-usage")}
    assert all(rows.values())
    shutil.copytree(wh.layout.closed_month(CLOSED_MONTH), wh.layout.closed / copy)

    assert [c.month for c in list_closed(wh.layout)] == [CLOSED_MONTH]
    for name, count in rows.items():
        assert _month_rows(wh, name) == count
    code, _, err = cdr(wh, "report", "restatements")
    assert code == 0 and "unexpected" not in err
    assert f"{copy} is not a closed month's folder" in err and "ignored" in err


def test_a_folder_of_no_calendar_month_is_ignored(wh: Settings) -> None:
    for name in ("2026-13", "0000-01"):
        shutil.copytree(wh.layout.closed_month(CLOSED_MONTH), wh.layout.closed / name)
    assert [c.month for c in list_closed(wh.layout)] == [CLOSED_MONTH]
    code, _, err = cdr(wh, "report", "reconciliation", "--format", "csv")
    assert code == 0 and "unexpected" not in err, err


def test_a_folder_holding_another_months_close_is_refused(wh: Settings) -> None:
    """closed/2026-11 copied from closed/2026-10 (a wrong restore) answered `cdr report
    reconciliation --month 2026-11` with October's frozen rows, saying "2026-11: closed",
    exit 0, and every report of all months listed October twice. It is refused, exit 3,
    naming the manifest and both months; the month whose folder it is stays readable."""
    shutil.copytree(wh.layout.closed_month(CLOSED_MONTH), wh.layout.closed / "2026-11")
    for args in (["--month", "2026-11"], []):
        code, out, err = cdr(wh, "report", "reconciliation", "--format", "csv", *args)
        assert code == 3, out
        assert "the close manifest of 2026-10, in the folder of 2026-11" in err
    code, out, _ = cdr(wh, "report", "reconciliation", "--month", CLOSED_MONTH, "--format", "csv")
    assert code == 0 and out.count(f"\n{CLOSED_MONTH}-01,") >= 1
