"""`closed/journal.jsonl` with a line cdr did not write (a note typed into it, a line an
editor broke): close and reopen refuse before they change anything, naming the line."""

from __future__ import annotations

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT
from cdr_pipeline.reports.frozen import read_close, read_journal
from cdr_pipeline.reports.run import parse_month
from tests.reports.finance_helpers import CLOSED_MONTH, cdr


def test_a_journal_line_that_is_no_entry_refuses_close_and_reopen_unchanged(
    fresh_closed_wh: Settings,
) -> None:
    """A note typed into the journal made `cdr close` of a reopened month end with an
    unexpected error (exit 1) after its folder was already in place, and `cdr reopen`
    moved the frozen figures away and appended its line to the broken journal."""
    wh = fresh_closed_wh  # October closed by close_month
    journal = wh.layout.closed / "journal.jsonl"
    before = journal.read_text(encoding="utf-8") + "checked by AP, figures agreed\n"
    journal.write_text(before, encoding="utf-8")
    month = parse_month(CLOSED_MONTH)
    assert month is not None

    for args in (["reopen", CLOSED_MONTH, "--reason", "late export"], ["close", CLOSED_MONTH]):
        code, _, err = cdr(wh, *args)
        assert code == EXIT_BAD_INPUT, err
        assert "journal.jsonl line 2: not a journal entry" in err and "unexpected" not in err
        assert read_close(wh.layout, month) is not None  # still closed, frozen figures in place
        assert journal.read_text(encoding="utf-8") == before

    journal.write_text(before.splitlines(keepends=True)[0], encoding="utf-8")
    code, _, err = cdr(wh, "reopen", CLOSED_MONTH, "--reason", "late export")
    assert code == 0, err
    assert [e["action"] for e in read_journal(wh.layout)] == ["close", "reopen"]
