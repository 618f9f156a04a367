"""A closed month's one-page summary and its reconciliation say which entitlement rows
overlap, as the open month's do: the close stores the note with the frozen figures (the
summary of a closed month read none, and showed a reconciliation adding up a renewal typed
as a new row without a word). A month closed before closes stored it says so."""

from __future__ import annotations

import json
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.figures import month_figures
from cdr_pipeline.reports.frozen import MANIFEST
from cdr_pipeline.reports.summary import render_summary
from tests.reports.finance_helpers import CLOSED_MONTH, cdr

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
BYOD = "Webex Go (Bring Your Own Device)"
NAMED = (
    f"Sub-39015 {BYOD}: 8 unit(s) from 2026-01-01 and 4 unit(s) from 2026-10-15, in force "
    "together on 2026-10-15..2026-10-31"
)
"""The samples' year row of Sub-39015 and a top-up loaded beside it from 10-15."""


def test_a_closed_month_shows_the_overlap_note_its_close_stored(
    fresh_wh: Settings, tmp_path: Path
) -> None:
    sheet = tmp_path / "entitlements_topup.csv"
    sheet.write_text(HEADER + f"Sub-39015,{BYOD},4,2026-10-15,,12.50,USD\n", encoding="utf-8")
    assert ingest_paths(fresh_wh, [sheet]).exit_code == 0
    assert NAMED in render_summary(month_figures(fresh_wh, CLOSED_MONTH))  # open: shown

    close_month(fresh_wh, CLOSED_MONTH)
    figures = month_figures(fresh_wh, CLOSED_MONTH)
    assert figures.close is not None  # the frozen figures, and their note with them
    page = render_summary(figures)
    assert '<p class="note warn">Entitlement rows overlap, and their units add up' in page
    assert NAMED in page
    code, _, err = cdr(fresh_wh, "report", "reconciliation", "--month", CLOSED_MONTH)
    assert code == 0, err
    assert "closed on" in err and NAMED in err

    # a month closed by a release that stored no note: said, not read as "none overlap"
    manifest = fresh_wh.layout.closed_month(CLOSED_MONTH) / MANIFEST
    stored = json.loads(manifest.read_text(encoding="utf-8"))
    del stored["overlaps"]
    manifest.write_text(json.dumps(stored), encoding="utf-8")
    not_recorded = "whether entitlement rows overlapped in 2026-10 was not recorded by its close"
    page = render_summary(month_figures(fresh_wh, CLOSED_MONTH))
    assert NAMED not in page and not_recorded.capitalize() in page
    code, _, err = cdr(fresh_wh, "report", "reconciliation", "--month", CLOSED_MONTH)
    assert code == 0 and not_recorded in err, err
