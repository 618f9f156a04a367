"""A year's export spells each subscription one way: as the closed months froze it.

October closed with Sub-9 (bought, no phone: spelled as its entitlement
row). A renewal typed `SUB-9` since spells it `SUB-9` in every month computed now (the views
match ids without regard to case, and spell one as its rows do): the export of every month
showed October's frozen `Sub-9` beside `SUB-9`, one subscription under two names that a
pivot table splits. The frozen rows stay as frozen; the computed ones take their spelling."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.frozen import read_close, read_frozen
from cdr_pipeline.warehouse import refresh_warehouse
from tests.reports.finance_helpers import CLOSED_MONTH

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
BYOD = "Webex Go (Bring Your Own Device)"


def _load(settings: Settings, path: Path, rows: str) -> None:
    path.write_text(HEADER + rows, encoding="utf-8")
    assert ingest_paths(settings, [path]).exit_code == 0


def test_the_months_computed_now_spell_a_subscription_as_its_close_froze_it(
    fresh_wh: Settings, tmp_path: Path
) -> None:
    _load(fresh_wh, tmp_path / "ent_sub9.csv", f"Sub-9,{BYOD},4,2026-01-01,2026-10-31,10,USD\n")
    close_month(fresh_wh, CLOSED_MONTH)
    close = read_close(fresh_wh.layout, date(2026, 10, 1))
    assert close is not None
    frozen = read_frozen(fresh_wh.layout, close, "reconciliation")
    assert "Sub-9" in frozen.column("subscription_id").to_pylist()
    _load(fresh_wh, tmp_path / "ent_renewal.csv", f"SUB-9,{BYOD},4,2026-11-01,,10,USD\n")
    refresh_warehouse(fresh_wh)  # as a nightly's build does: the views read both loads

    rows = run_report(fresh_wh, "reconciliation").rows()
    spelled = {r["subscription_id"] for r in rows if r["subscription_id"].upper() == "SUB-9"}
    months = {str(r["month"])[:7] for r in rows if r["subscription_id"].upper() == "SUB-9"}
    assert spelled == {"Sub-9"}, spelled
    assert len(months) > 1, months  # October (frozen) and months computed now
    # the frozen figures themselves are unchanged, and a month's own report agrees
    assert read_frozen(fresh_wh.layout, close, "reconciliation").equals(frozen)
    october = run_report(fresh_wh, "reconciliation", CLOSED_MONTH).rows()
    assert {r["subscription_id"] for r in october if r["subscription_id"].upper() == "SUB-9"} == {
        "Sub-9"
    }
