"""A close refused for partial call coverage names the days without call data: "27 of 30
days have call data" sent finance looking through a month of exports for the gap."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.close import CloseRefused, close_month
from tests.warehouse.finance_world import World, user


def test_a_close_refused_for_partial_coverage_names_the_days_without_calls(
    tmp_path: Path,
) -> None:
    """September's exports declare 09-01..09-04 and 09-08..09-29 (end exclusive): 09-05,
    09-06, 09-07 and 09-30 have no call data, 26 of 30 days do."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.entitle("Sub-1", "BYOD", 1, "10.00")
    for name in ("calls_2026-09-01_2026-09-05.csv", "calls_2026-09-08_2026-09-30.csv"):
        w.leg(name, name[6:16], f"{name[6:16]}T10:00:00Z", user(3), "+1", 30, go=False)
    w.ingest(tmp_path)
    with pytest.raises(CloseRefused) as refused:
        close_month(Settings(warehouse=tmp_path / "wh"), "2026-09")
    assert (
        "call coverage is partial (26 of 30 days have call data; none for "
        "2026-09-05..09-07, 2026-09-30)"
    ) in refused.value.message
