"""Entitlements that change inside a month, worked out by hand: a subscription that ends
mid-month while its devices move to another, a purchase cut mid-month and a top-up bought
mid-month. Each instant's holdings are compared with the rows in force that day, not the
month's peak with the rows of its last day (reporting time zone UTC)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from cdr_pipeline.reports.figures import figures_on
from cdr_pipeline.reports.overlaps import overlap_note
from cdr_pipeline.reports.summary import render_summary
from tests.warehouse.finance_world import BYOD, World, records, user

SEPT_FILE = "calls_2026-09-01_2026-10-01.csv"
COLUMNS = (
    "subscription_id, entitled_units, consumed_peak, consumed_month_end, variance_units, "
    "unassigned_units, unassigned_cost, status"
)


def _held(w: World, device: str, n: int, sub: str, *, moved_to: str | None = None) -> None:
    """A device provisioned and activated in August, listed on 09-01 and 10-01; with
    `moved_to`, listed in that subscription from 09-16 00:00 on."""
    uid, number = user(n), f"+1555000{n}"
    w.event("2026-08-15T00:00:00Z", device, "PROVISIONED", uid, number, subscription=sub)
    w.event("2026-08-16T00:00:00Z", device, "ACTIVATED", uid, number, subscription=sub)
    w.snapshot("2026-09-01T00:00:00Z", device, uid, number, subscription=sub)
    later = moved_to or sub
    w.snapshot("2026-09-16T00:00:00Z", device, uid, number, subscription=later)
    w.snapshot("2026-10-01T06:00:00Z", device, uid, number, subscription=later)


@pytest.fixture(scope="module")
def september_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """The reconciliation rows of September by subscription, the overlap notes of August,
    September and every month, and September's finance summary page."""
    w = World()
    # Sub-A ends on 09-15 (valid_to inclusive); its two phones move to Sub-B, bought from
    # 09-16, at midnight between the two
    w.entitlements.append(f"Sub-A,{BYOD},2,2026-01-01,2026-09-15,10.00,USD")
    w.entitlements.append(f"Sub-B,{BYOD},2,2026-09-16,,10.00,USD")
    _held(w, "D1", 1, "Sub-A", moved_to="Sub-B")
    _held(w, "D2", 2, "Sub-A", moved_to="Sub-B")
    # Sub-C is cut from 2 units to 1 on 09-16, after D4 was deleted on 09-10
    w.entitlements.append(f"Sub-C,{BYOD},2,2026-01-01,2026-09-15,10.00,USD")
    w.entitlements.append(f"Sub-C,{BYOD},1,2026-09-16,,10.00,USD")
    _held(w, "D3", 3, "Sub-C")
    uid4, number4 = user(4), "+15550004"
    w.event("2026-08-15T00:00:00Z", "D4", "PROVISIONED", uid4, number4, subscription="Sub-C")
    w.event("2026-08-16T00:00:00Z", "D4", "ACTIVATED", uid4, number4, subscription="Sub-C")
    w.snapshot("2026-09-01T00:00:00Z", "D4", uid4, number4, subscription="Sub-C")
    w.event("2026-09-10T00:00:00Z", "D4", "DELETED", uid4, number4, subscription="Sub-C")
    # Sub-D holds two phones all month but bought 1 unit to 09-15 and 3 from 09-16
    w.entitlements.append(f"Sub-D,{BYOD},1,2026-01-01,2026-09-15,10.00,USD")
    w.entitlements.append(f"Sub-D,{BYOD},3,2026-09-16,,10.00,USD")
    _held(w, "D5", 5, "Sub-D")
    _held(w, "D6", 6, "Sub-D")
    # Sub-H holds two phones against 2 units, beside a row typed with its dates reversed
    w.entitlements.append(f"Sub-H,{BYOD},2,2026-01-01,,10.00,USD")
    w.entitlements.append(f"Sub-H,{BYOD},1,2026-09-20,2026-09-10,10.00,USD")
    _held(w, "D7", 7, "Sub-H")
    _held(w, "D8", 8, "Sub-H")
    # Sub-E's year purchase was renewed as a new row from 09-16 while the old one was left
    # open: both are in force from then, and their units add up
    w.entitlements.append(f"Sub-E,{BYOD},1,2026-01-01,,10.00,USD")
    w.entitlements.append(f"sub-e,{BYOD},1,2026-09-16,2027-09-15,10.00,USD")
    _held(w, "D9", 10, "Sub-E")
    # Sub-F bought a top-up from 10-05, after the device data stops (10-01 06:00): October's
    # figures read the units in force on 10-01, without it
    w.entitlements.append(f"Sub-F,{BYOD},1,2026-01-01,,10.00,USD")
    w.entitlements.append(f"Sub-F,{BYOD},1,2026-10-05,,10.00,USD")
    w.leg(SEPT_FILE, "DESK", "2026-09-15T10:00:00Z", user(9), "+15559", 30, go=False)
    con = w.build(tmp_path_factory.mktemp("entitlement_changes"))
    rows = records(
        con,
        f"select {COLUMNS} from rpt_licence_reconciliation where month = date '2026-09-01'",
    )
    notes = {
        "2026-08": overlap_note(con, date(2026, 8, 1)),
        "2026-09": overlap_note(con, date(2026, 9, 1)),
        "2026-10": overlap_note(con, date(2026, 10, 1)),
        "all": overlap_note(con, None),
        # the finance summary's page of September, made by the library's own wiring
        # (`figures_on`, what `month_figures` makes of its pinned connection) on this
        # connection: a pinned one of its own costs seconds
        "summary": render_summary(figures_on(con, date(2026, 9, 1), {})),
        "in_force": "; ".join(
            ",".join(str(v) for v in row)
            for row in con.execute(
                "select subscription_key, subscription_id, units, valid_from, valid_to "
                "from int_entitlements_in_force order by all"
            ).fetchall()
        ),
    }
    return {str(r.pop("subscription_id")): r for r in rows}, notes


@pytest.fixture(scope="module")
def september(
    september_world: tuple[dict[str, dict[str, object]], dict[str, str]],
) -> dict[str, dict[str, object]]:
    return september_world[0]


def test_a_subscription_ending_mid_month_is_read_on_its_last_day_in_force(
    september: dict[str, dict[str, object]],
) -> None:
    """Sub-A bought 2 units to 09-15 and held both until then: its month is matched, with
    the 2 units of its last day in force, nothing unassigned at month end (nothing was
    bought then). It said `no_entitlement` with 0 units bought, as if the phones had been
    held without licence. Sub-B, bought from 09-16, holds them from then: matched too."""
    assert september["Sub-A"] == {
        "entitled_units": 2,
        "consumed_peak": 2,
        "consumed_month_end": 0,
        "variance_units": 0,
        "unassigned_units": 0,
        "unassigned_cost": 0.0,
        "status": "matched",
    }
    assert september["Sub-B"] == {
        "entitled_units": 2,
        "consumed_peak": 2,
        "consumed_month_end": 2,
        "variance_units": 0,
        "unassigned_units": 0,
        "unassigned_cost": 0.0,
        "status": "matched",
    }


def test_a_cut_after_the_peak_is_not_over(september: dict[str, dict[str, object]]) -> None:
    """Sub-C held 2 of its 2 units until 09-10 and 1 of 1 from the cut on 09-16: never more
    than in force. Its peak (2) against its month-end units (1) said `over`."""
    assert september["Sub-C"] == {
        "entitled_units": 1,
        "consumed_peak": 2,
        "consumed_month_end": 1,
        "variance_units": -1,
        "unassigned_units": 0,
        "unassigned_cost": 0.0,
        "status": "matched",
    }


def test_a_top_up_after_the_peak_leaves_the_first_half_over(
    september: dict[str, dict[str, object]],
) -> None:
    """Sub-D held 2 phones against 1 unit bought until the top-up to 3 on 09-16: over for
    15 days. Its peak (2) against its month-end units (3) said `under`."""
    assert september["Sub-D"] == {
        "entitled_units": 3,
        "consumed_peak": 2,
        "consumed_month_end": 2,
        "variance_units": 1,
        "unassigned_units": 1,
        "unassigned_cost": 10.0,
        "status": "over",
    }


def test_a_row_ending_before_it_starts_is_never_in_force(
    september: dict[str, dict[str, object]],
) -> None:
    """Sub-H bought 2 units and holds 2 phones all September: matched, as Sub-B is from
    09-16. A row typed with its dates the wrong way round (from 09-20 to 09-10) loads, and
    the quality suite fails it: it is never in force. Its days counted backwards took its
    unit off those in force from 09-11 to 09-19, and 2 held against 1 said `over`."""
    assert september["Sub-H"] == september["Sub-B"]


def test_overlapping_entitlement_rows_add_up_and_the_reconciliation_names_them(
    september_world: tuple[dict[str, dict[str, object]], dict[str, str]],
) -> None:
    """Sub-E's renewal was loaded as a new row from 09-16 (its id typed in lower case) while
    the year's row stayed open: September counts 2 units bought for 1 phone, as a top-up
    would, without a word. The figures add them up (documented); the reconciliation's note
    names the two rows, so finance can end the old one. Rows that follow each other
    (Sub-C), a row never in force (Sub-H) and rows of other subscriptions (Sub-A, Sub-B)
    are no overlap, nor is August, before the renewal."""
    rows, notes = september_world
    assert rows["Sub-E"]["entitled_units"] == 2
    expected = (
        f"Sub-E {BYOD}: 1 unit(s) from 2026-01-01 and 1 unit(s) from 2026-09-16, in force "
        "together on 2026-09-16..2026-09-30; where a row replaces another"
    )
    assert expected in notes["2026-09"], notes["2026-09"]
    assert notes["2026-09"].startswith("entitlement rows overlap, and their units add up")
    for other in ("Sub-A", "Sub-B", "Sub-C", "Sub-D", "Sub-H", "Sub-F"):
        assert other not in notes["2026-09"]
    # of every month: to the day the device data stops
    assert notes["all"] == notes["2026-09"].replace("2026-09-30", "2026-10-01")
    assert notes["2026-08"] == ""
    # the finance summary, the page finance reads, says it too
    assert (
        '<p class="note warn">Entitlement rows overlap, and their units add up'
        in (notes["summary"])
    )
    assert expected in notes["summary"]


def test_the_overlap_note_names_only_days_the_figures_cover(
    september_world: tuple[dict[str, dict[str, object]], dict[str, str]],
) -> None:
    """October is the month the device data stops in (10-01 06:00): its reconciliation reads
    the units in force on 10-01. Its note named days past it: Sub-F's top-up from 10-05,
    which October's figures do not add up, and Sub-E's renewal to 2027-09-15. It names the
    rows that add up on 10-01 and that day only."""
    _, notes = september_world
    note = notes["2026-10"]
    assert (
        f"Sub-E {BYOD}: 1 unit(s) from 2026-01-01 and 1 unit(s) from 2026-09-16, in force "
        "together on 2026-10-01;"
    ) in note, note
    assert "Sub-F" not in note and "Sub-F" not in notes["all"]
    named = re.findall(r"\d{4}-\d{2}-\d{2}", note)
    assert max(named) == "2026-10-01", note


def test_the_rows_in_force_are_one_view_the_reconciliation_and_its_note_read(
    september_world: tuple[dict[str, dict[str, object]], dict[str, str]],
) -> None:
    """The reconciliation and its note of overlapping rows chose the rows in force each with
    a query of its own (one row per case-folded key, the later load winning, rows of 0 units
    and reversed ranges left out): one day they would disagree. Both read
    `int_entitlements_in_force`: Sub-H's reversed row is not in it, Sub-E's two spellings
    are two rows of one subscription_key (their valid_from differ), each in its own
    spelling."""
    _, notes = september_world
    assert notes["in_force"].split("; ") == [
        "SUB-A,Sub-A,2,2026-01-01,2026-09-15",
        "SUB-B,Sub-B,2,2026-09-16,None",
        "SUB-C,Sub-C,1,2026-09-16,None",
        "SUB-C,Sub-C,2,2026-01-01,2026-09-15",
        "SUB-D,Sub-D,1,2026-01-01,2026-09-15",
        "SUB-D,Sub-D,3,2026-09-16,None",
        "SUB-E,Sub-E,1,2026-01-01,None",
        "SUB-E,sub-e,1,2026-09-16,2027-09-15",
        "SUB-F,Sub-F,1,2026-01-01,None",
        "SUB-F,Sub-F,1,2026-10-05,None",
        "SUB-H,Sub-H,2,2026-01-01,None",
    ]
