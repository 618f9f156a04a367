"""webex-go-adoption: calls, Webex Go users and minutes all by the call's location and month
(a hand-written world: one call starts at Paris and reaches a Webex Go user in Bengaluru)."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.reports.registry import REPORTS
from tests.warehouse.finance_world import World, records, user

U1, U2, U3 = user(1), user(2), user(3)


def test_go_users_and_minutes_follow_the_call_location(tmp_path: Path) -> None:
    w = World()
    f = "calls_2026-09-01_2026-10-01.csv"
    # call c1: a desk phone in Paris calls a Webex Go user in Bengaluru (one leg, two records)
    w.leg(f, "P1", "2026-09-10T10:00:00Z", U1, "+331", 90, go=False, location="Paris",
          correlation="c1", local_id="a", remote_id="b")  # fmt: skip
    w.leg(f, "B1", "2026-09-10T10:00:01Z", U2, "+911", 90, location="Bengaluru",
          correlation="c1", local_id="b", remote_id="a", direction="TERMINATING")  # fmt: skip
    # call c2: two Webex Go users of Bengaluru talk 120 s (one leg, both records Webex Go)
    w.leg(f, "B2", "2026-09-11T10:00:00Z", U2, "+911", 120, location="Bengaluru",
          correlation="c2", local_id="c", remote_id="d")  # fmt: skip
    w.leg(f, "B3", "2026-09-11T10:00:00Z", U3, "+912", 120, location="Bengaluru",
          correlation="c2", local_id="d", remote_id="c", direction="TERMINATING")  # fmt: skip
    con = w.build(tmp_path)
    sql = REPORTS["webex-go-adoption"].sql
    got = {
        r["location_name"]: r
        for r in records(con, sql.replace("$month::date", "cast(null as date)"))
    }
    assert set(got) == {"Paris", "Bengaluru"}
    paris, bengaluru = got["Paris"], got["Bengaluru"]
    # c1 counts at Paris (its first record), with its Webex Go leg, user and minutes
    assert (paris["calls"], paris["webex_go_calls"], paris["webex_go_share"]) == (1, 1, 1.0)
    assert (paris["webex_go_users"], paris["webex_go_legs"], paris["webex_go_minutes"]) == (
        1,
        1,
        1.5,
    )
    # c2: two users, two Webex Go records, one conversation of 2 minutes
    assert (bengaluru["calls"], bengaluru["webex_go_calls"], bengaluru["webex_go_users"]) == (
        1,
        1,
        2,
    )
    assert (bengaluru["webex_go_legs"], bengaluru["webex_go_minutes"]) == (2, 2.0)


def test_headline_idle_figures_are_unknown_without_full_call_coverage(tmp_path: Path) -> None:
    from cdr_pipeline.reports import headline_figures
    from cdr_pipeline.warehouse import build_warehouse

    w = World()
    w.event("2026-09-01T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.snapshot("2026-09-20T06:00:00Z", "D1", U1, "+15550001")
    w.entitle("Sub-1", "Webex Go (Bring Your Own Device)", 2, "10.00")
    # priced without a currency: its cost is shown apart ("(no currency)"), as the finance
    # summary shows it, not dropped with the rows that have no currency for want of a price
    w.entitlements.append("Sub-2,Webex Go (Bring Your Own Device),1,2026-01-01,,9.00,")
    # bought without a unit price: no currency's idle cost holds it, and the headline said
    # nothing (the finance summary says so)
    w.entitlements.append("Sub-3,Webex Go (Bring Your Own Device),4,2026-01-01,,,USD")
    # calls on two days only: September is partly covered
    w.leg("calls.csv", "X1", "2026-09-03T10:00:00Z", U2, "+15550002", 30, go=False)
    w.leg("calls.csv", "X2", "2026-09-04T10:00:00Z", U2, "+15550002", 30, go=False)
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    figures = headline_figures(settings)
    assert (figures["month"], figures["licences_bought"], figures["licences_held_peak"]) == (
        "2026-09",
        7,
        1,
    )
    assert figures["idle_licences"] is None
    assert figures["idle_cost"] == {"(no currency)": None, "USD": None}
    assert figures["cost_note"].startswith("1 subscription row(s) have entitlements in force")
    assert "without a unit price" in figures["cost_note"]
