"""A close refused for partial call coverage names the days without call data: "27 of 30
days have call data" sent finance looking through a month of exports for the gap."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.close import CloseRefused, close_due_month, close_month
from cdr_pipeline.reports.frozen import read_close
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


def test_the_nightly_names_every_reason_a_month_stays_open_at_once(tmp_path: Path) -> None:
    """A night whose entitlement sheet failed to load, over a September with three days of
    calls missing and device data that stops on the 28th: the close stage named the failed
    file only; once it loaded, the missing days; once loaded, the device data. Finance
    wants every reason in one summary, so one rerun closes the month. No entitlement is
    loaded either: no reason to refuse on its own (usage figures only are a choice), but
    named too, or the rerun would close the month with every row no_entitlement."""
    w = World()
    for kind, time in (("PROVISIONED", "2026-08-15"), ("ACTIVATED", "2026-08-16")):
        w.event(f"{time}T00:00:00Z", "D1", kind, user(1), "+15550001")
    w.snapshot("2026-09-28T06:00:00Z", "D1", user(1), "+15550001")
    for name in ("calls_2026-09-01_2026-09-05.csv", "calls_2026-09-08_2026-10-01.csv"):
        w.leg(name, name[6:16], f"{name[6:16]}T10:00:00Z", user(3), "+1", 30, go=False)
    settings = replace(w.ingest(tmp_path), close_after_days=3)
    text = close_due_month(settings, date(2026, 10, 5), failed_files=["entitlements_topup.csv"])
    assert text.startswith(
        "2026-09 not closed: a file failed to load tonight (entitlements_topup.csv)"
    ), text
    assert "none for 2026-09-05..09-07" in text, text
    assert "device data ends at 2026-09-28 06:00 UTC" in text, text
    assert "no entitlements are loaded either" in text, text
    # what to do about each, and --force: the month is incomplete, a hand close is refused
    assert "remove it from the inbox" in text, text
    assert "load the missing call data" in text, text
    assert "load the device snapshots or events of after the month's end" in text, text
    assert "load finance's entitlements (cdr ingest FILE)" in text, text
    assert '--force --reason "why"' in text, text
    assert read_close(settings.layout, date(2026, 9, 1)) is None
    # by hand: the month's own reasons, all of them
    with pytest.raises(CloseRefused) as refused:
        close_month(settings, "2026-09")
    assert refused.value.message.endswith(
        "(its month-end figures would be those of then); no entitlements are loaded either: "
        "closed so, every reconciliation row would be frozen as no_entitlement, without cost"
    ), refused.value.message
    assert "none for 2026-09-05..09-07" in refused.value.message
