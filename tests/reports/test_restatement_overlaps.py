"""`cdr report restatements` says when a closed month's entitlement rows overlap otherwise
than its close noted: a renewal loaded since the close beside the row it renews (left open)
moves `entitled_units` exactly as a top-up does, and the restatement rows alone cannot tell
finance which of the two it is; the note names the rows, as the month's reconciliation did
before its close."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.overlaps import overlap_change
from tests.reports.finance_helpers import cdr

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
BYOD = "Webex Go (Bring Your Own Device)"
NAMED = (
    f"Sub-39015 {BYOD}: 8 unit(s) from 2026-01-01 and 4 unit(s) from 2026-10-15, in force "
    "together on 2026-10-15..2026-10-31"
)
"""The samples' year row of Sub-39015 and a row loaded beside it from 10-15."""


def test_rows_overlapping_since_the_close_are_named(
    fresh_closed_wh: Settings, tmp_path: Path
) -> None:
    sheet = tmp_path / "entitlements_renewal.csv"
    sheet.write_text(HEADER + f"Sub-39015,{BYOD},4,2026-10-15,,12.50,USD\n", encoding="utf-8")
    code, _, err = cdr(fresh_closed_wh, "ingest", str(sheet))  # and the views moved to it
    assert code == 0, err

    code, out, err = cdr(fresh_closed_wh, "report", "restatements", "--format", "json")
    assert code == 0, err
    # the rows say entitled_units rose by 4; the note says which rows add them up
    assert ("reconciliation", "entitled_units", 4.0) in [
        (r["report"], r["measure"], r["change"]) for r in json.loads(out)
    ]
    (note,) = [line for line in err.splitlines() if line.startswith("note: ")]
    assert note.startswith("note: 2026-10: since its close, entitlement rows overlap")
    assert NAMED in note


def test_the_overlap_note_compared_with_the_closes() -> None:
    october = date(2026, 10, 1)
    now = f"entitlement rows overlap, and their units add up ...: {NAMED}"
    assert overlap_change("", "", october) == ""
    assert overlap_change(now, now, october) == ""  # still as closed
    assert overlap_change(None, now, october) == ""  # a close that stored none: no basis
    assert overlap_change("", now, october) == f"2026-10: since its close, {now}"
    assert overlap_change(now, "", october) == (
        f"2026-10: the entitlement rows its close noted overlap no longer: {now}"
    )
    other = now.replace("2026-10-15", "2026-10-20")
    assert overlap_change(now, other, october) == (
        f"2026-10: the entitlement rows that overlap changed since its close; now: {other}"
    )
