"""A closed month's frozen finance figures read on the analyst tier show what the tier
shows: pseudonyms and masked numbers, never the raw user ids, e-mails and numbers the
close froze from the full tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import close_month
from tests.reports.finance_helpers import CLOSED_MONTH, copy_warehouse


@pytest.mark.parametrize("name", ["anomalies", "reclaim-candidates"])
def test_frozen_rows_on_the_analyst_tier_are_those_it_computes(
    sample_wh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """`CDR_TIER=analyst cdr report anomalies --month 2026-10` of a closed month answered
    with the frozen rows as the close wrote them: raw user UUIDs and phone numbers (the
    reclaim list e-mails too), and without the `phone_number_pseudonym` column the months
    computed beside them have, so a shared export of the tier leaked them."""
    wh = copy_warehouse(sample_wh, tmp_path)
    close_month(wh, CLOSED_MONTH)
    full = run_report(wh, name, CLOSED_MONTH)
    assert full.closed_at is not None and full.table.num_rows
    raw = {v for v in full.table.column("user_uuid").to_pylist() if v}
    assert raw

    monkeypatch.setenv("CDR_TIER", "analyst")
    frozen = run_report(wh, name, CLOSED_MONTH)
    computed = run_report(wh, name, CLOSED_MONTH, current=True)
    assert frozen.closed_at is not None and computed.closed_at is None
    assert frozen.table.column_names == computed.table.column_names
    assert "phone_number_pseudonym" in frozen.table.column_names
    # no data since the close: the frozen rows are those the tier computes now
    assert frozen.table.to_pylist() == computed.table.to_pylist()
    every = run_report(wh, name) if name == "anomalies" else frozen
    shown = {v for c in every.table.column_names for v in every.table.column(c).to_pylist()}
    assert not raw & shown
