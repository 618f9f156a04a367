"""A forced close of a month without any call data, before finance's entitlements were
loaded: the reconciliation's status is the first that applies (README, `status`), so its
rows freeze as `no_call_data`, which comes before `no_entitlement`. The refusal before it
and the warning after it said the rows would be, and were, frozen as `no_entitlement`, and
so did the README: a controller reading the warning looked for a status no row had."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.reports.close import CloseRefused, close_month
from tests.warehouse.finance_world import World, user


def test_a_forced_close_without_call_data_or_entitlements_says_no_call_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """D1 is held all of September 2026 (provisioned in August, seen on October 1); no call
    export and no entitlement is loaded: coverage `none` (0 of 30 days)."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    settings = w.ingest(tmp_path)  # the close reads the tables: no cdr.duckdb needed
    with pytest.raises(CloseRefused) as refused:
        close_month(settings, "2026-09")
    assert refused.value.message.endswith(
        "no entitlements are loaded either: closed so, every reconciliation row would be "
        "frozen as no_call_data, without cost"
    ), refused.value.message
    with caplog.at_level("WARNING", logger="cdr_pipeline"):
        closed = close_month(settings, "2026-09", force=True, reason="usage figures only")
    assert (closed.close.call_coverage, closed.close.forced) == ("none", True)
    frozen = pl.read_parquet(settings.layout.closed_month("2026-09") / "reconciliation.parquet")
    assert frozen.select("subscription_id", "status", "idle_cost").rows() == [
        ("Sub-1", "no_call_data", None)
    ]
    assert "every reconciliation row is no_call_data, without cost" in caplog.text
    assert "no_entitlement" not in caplog.text
