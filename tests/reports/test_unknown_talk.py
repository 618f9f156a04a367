"""A leg with no Duration has no known talk time: docs/webex-dch.md keeps a missing duration
NULL and flags it, never 0. fct_calls gave such an answered call talk_seconds 0 and the top
lists counted it as 0 talk minutes, as if it had been answered and hung up at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cdr_pipeline.reports.registry import REPORTS
from cdr_pipeline.reports.run import month_scope, unknown_talk_note
from cdr_pipeline.reports.unknown_minutes import unknown_go_note
from tests.warehouse.finance_world import World, records, user

U1, U2, U3 = user(1), user(2), user(3)
SEPT = "calls_2026-09-01_2026-10-01.csv"
SEPT_FIRST = date(2026, 9, 1)


def _report(con: object, name: str) -> list[dict[str, object]]:
    sql = REPORTS[name].sql.replace("$month::date", "cast(null as date)")
    return records(con, sql)  # type: ignore[arg-type]


def test_unknown_duration_stays_unknown_through_fct_calls_and_the_top_lists(
    tmp_path: Path,
) -> None:
    w = World()
    # U1: one answered leg, no Duration; U2: two answered legs of one call, one 30 s and
    # one without a Duration; U3: one answered leg of 60 s. All to the same number.
    w.leg(SEPT, "A1", "2026-09-10T10:00:00Z", U1, "+15550001", None, go=False)
    w.leg(SEPT, "B1", "2026-09-10T11:00:00Z", U2, "+15550002", 30, go=False, correlation="cB")
    w.leg(SEPT, "B2", "2026-09-10T11:00:05Z", U2, "+15550002", None, go=False, correlation="cB")
    w.leg(SEPT, "C1", "2026-09-10T12:00:00Z", U3, "+15550003", 60, go=False)
    con = w.build(tmp_path)

    calls = records(
        con,
        "select originating_user_uuid as u, leg_count, talk_seconds, has_unknown_talk "
        "from fct_calls order by first_start_time",
    )
    assert [(c["u"], c["leg_count"], c["talk_seconds"], c["has_unknown_talk"]) for c in calls] == [
        (U1, 1, None, True),
        (U2, 2, 30, True),
        (U3, 1, 60, False),
    ]
    callers = {r["user_uuid"]: r["talk_minutes"] for r in _report(con, "top-callers")}
    assert callers == {U1: None, U2: 0.5, U3: 1.0}
    (row,) = _report(con, "top-destinations")
    assert (row["calls"], row["answered_calls"], row["talk_minutes"]) == (3, 3, 1.5)
    # `cdr report` prints the note on stderr: the sums are of the known talk time only
    for name in ("top-callers", "top-destinations"):
        note = unknown_talk_note(con, REPORTS[name].talk_of or "", SEPT_FIRST)
        assert note.startswith("talk_minutes leaves out 2 answered call(s)"), note
        assert unknown_talk_note(con, REPORTS[name].talk_of or "", date(2026, 8, 1)) == ""


def test_webex_go_minutes_of_legs_without_a_duration_are_unknown(tmp_path: Path) -> None:
    """webex-go-adoption showed 0.0 Webex Go minutes at a site whose Go legs had no Duration,
    and the licence usage report 0.0 Webex Go (device) minutes for a group whose had none."""
    w = World()
    # a device of each user, and one held without calls, each on a subscription of its own
    w.held_through_september(
        [
            ("D1", U1, "+15550001", "Sub-1"),
            ("D2", U2, "+15550002", "Sub-2"),
            ("D4", user(4), "+15550004", "Sub-4"),
        ]
    )
    w.leg(SEPT, "G1", "2026-09-10T10:00:00Z", U1, "+15550001", None, location="Branch")
    w.leg(SEPT, "G2", "2026-09-10T11:00:00Z", U2, "+15550002", 30, location="HQ")
    w.leg(SEPT, "G3", "2026-09-10T11:30:00Z", U2, "+15550002", None, location="HQ")
    w.leg(SEPT, "N1", "2026-09-10T12:00:00Z", U3, "+15550003", 60, go=False, location="Desk")
    con = w.build(tmp_path)
    rows = {r["location_name"]: r for r in _report(con, "webex-go-adoption")}
    assert {k: (r["webex_go_legs"], r["webex_go_minutes"]) for k, r in rows.items()} == {
        "Branch": (1, None),
        "HQ": (2, 0.5),
        "Desk": (0, 0.0),
    }
    usage = records(
        con,
        "select subscription_id, webex_go_legs, webex_go_minutes, webex_go_device_minutes "
        "from rpt_licence_usage_monthly where month = date '2026-09-01'",
    )
    assert {r["subscription_id"]: tuple(r.values())[1:] for r in usage} == {
        "Sub-1": (1, None, None),  # its one leg has no Duration: unknown, not 0
        "Sub-2": (2, 0.5, 0.5),  # the known 30 s; the leg without a Duration left out
        "Sub-4": (0, 0.0, 0.0),  # no Webex Go leg: 0
    }
    # `cdr report` says so on stderr, as of the top lists' talk minutes: of the month (the
    # legs it reads) and of every month; a month without such records says nothing
    for name, records_left_out in (("licence-usage", 2), ("webex-go-adoption", 2)):
        for first_day in (SEPT_FIRST, None):
            with month_scope(con, first_day, call_days=name == "webex-go-adoption"):
                note = unknown_go_note(con, name, first_day)
            assert f"leave out {records_left_out} Webex Go record(s)" in note or (
                f"leaves out {records_left_out} Webex Go record(s)" in note
            ), (name, note)
        with month_scope(con, date(2026, 8, 1), call_days=name == "webex-go-adoption"):
            assert unknown_go_note(con, name, date(2026, 8, 1)) == ""
