"""A closed month's frozen finance figures read on the analyst tier show what the tier
shows: pseudonyms and masked numbers, never the raw user ids, e-mails and numbers the
close froze from the full tier."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.figures import month_figures
from cdr_pipeline.reports.finance import finance_pack, finance_summary
from tests.reports.finance_helpers import CLOSED_MONTH


@pytest.mark.parametrize("name", ["anomalies", "reclaim-candidates"])
def test_frozen_rows_on_the_analyst_tier_are_those_it_computes(
    fresh_closed_wh: Settings, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """`CDR_TIER=analyst cdr report anomalies --month 2026-10` of a closed month answered
    with the frozen rows as the close wrote them: raw user UUIDs and phone numbers (the
    reclaim list e-mails too), and without the `phone_number_pseudonym` column the months
    computed beside them have, so a shared export of the tier leaked them."""
    wh = fresh_closed_wh  # October closed by close_month
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


@pytest.mark.parametrize("closed", [True, False])
def test_the_finance_pack_and_summary_honour_the_analyst_tier(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: bool
) -> None:
    """`CDR_TIER` overrides the finance reports' tier (README), and `cdr report
    reclaim-candidates` honoured it, but `finance-pack` and `finance-summary` read the full
    tier whatever it said: their reclaim and anomaly rows named user ids, e-mails and
    numbers. They now show what the tier shows, frozen or computed."""
    # a fresh warehouse of the samples, October closed by close_month or not
    wh: Settings = request.getfixturevalue("fresh_closed_wh" if closed else "fresh_wh")
    full = month_figures(wh, CLOSED_MONTH)
    raw = {
        v
        for name in ("anomalies", "reclaim-candidates")
        for c in ("user_uuid", "phone_number")
        for v in full.tables[name].column(c).to_pylist()
        if v
    }
    assert raw

    monkeypatch.setenv("CDR_TIER", "analyst")
    figures = month_figures(wh, CLOSED_MONTH)
    for name, table in figures.tables.items():
        if name in ("anomalies", "reclaim-candidates"):
            assert "phone_number_pseudonym" in table.column_names
        shown = {v for c in table.column_names for v in table.column(c).to_pylist()}
        assert not raw & shown, name
    pack = tmp_path / "pack.xlsx"
    finance_pack(wh, CLOSED_MONTH, pack)
    text, _ = finance_summary(wh, CLOSED_MONTH)
    assert not any(v in text for v in raw)
    columns = openpyxl.load_workbook(pack)["Columns"]
    meanings = {r[1]: r[2] for r in columns.iter_rows(values_only=True)}
    assert meanings["phone_number_pseudonym"] == "the pseudonym of `phone_number` (analyst tier)"
