"""Minutes in the reports are seconds / 60 rounded half up to one decimal, as an analyst
works them out by hand: 9 s is 0.15 min, shown 0.2 (the double nearest 0.15 is a hair below
it, and rounding that double gave 0.1, while 15 s = 0.25 gave 0.3)."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.reports.headline import share
from cdr_pipeline.reports.registry import REPORTS
from tests.warehouse.finance_world import World, records, user

U1, U2, U3 = user(1), user(2), user(3)
SEPT = "calls_2026-09-01_2026-10-01.csv"


def _report(con: object, name: str) -> list[dict[str, object]]:
    sql = REPORTS[name].sql.replace("$month::date", "cast(null as date)")
    return records(con, sql)  # type: ignore[arg-type]


def test_minutes_round_half_up_from_the_seconds(tmp_path: Path) -> None:
    w = World()
    w.event("2026-08-15T00:00:00Z", "D1", "PROVISIONED", U1, "+15550001")
    w.snapshot("2026-10-01T06:00:00Z", "D1", U1, "+15550001")
    # three answered outbound calls to the same number, one call each:
    # U1 from Webex Go 9 s (0.15 min), U2 21 s (0.35), U3 57 s (0.95); together 87 s (1.45)
    w.leg(SEPT, "G1", "2026-09-10T10:00:00Z", U1, "+15550001", 9)
    w.leg(SEPT, "N2", "2026-09-10T11:00:00Z", U2, "+15550002", 21, go=False)
    w.leg(SEPT, "N3", "2026-09-10T12:00:00Z", U3, "+15550003", 57, go=False)
    con = w.build(tmp_path)

    callers = {r["user_uuid"]: r["talk_minutes"] for r in _report(con, "top-callers")}
    assert callers == {U1: 0.2, U2: 0.4, U3: 1.0}
    (destination,) = _report(con, "top-destinations")
    assert (destination["calls"], destination["talk_minutes"]) == (3, 1.5)
    (adoption,) = _report(con, "webex-go-adoption")
    assert (adoption["calls"], adoption["webex_go_calls"], adoption["webex_go_minutes"]) == (
        3,
        1,
        0.2,
    )
    (usage,) = records(
        con,
        "select webex_go_minutes, webex_go_device_minutes from rpt_licence_usage_monthly "
        "where month = date '2026-09-01'",
    )
    assert usage == {"webex_go_minutes": 0.2, "webex_go_device_minutes": 0.2}


def test_webex_go_share_rounds_half_up_as_by_hand(tmp_path: Path) -> None:
    """3 of 160 calls is 0.01875, shown 0.0188 by the adoption report and the headline: the
    double nearest 0.01875 lies below it, and rounding that double gave 0.0187."""
    w = World()
    for n in range(160):
        w.leg(
            SEPT,
            f"C{n}",
            f"2026-09-10T{8 + n // 60:02d}:{n % 60:02d}:00Z",
            U1,
            "+1555",
            5,
            go=n < 3,
        )
    con = w.build(tmp_path)
    (adoption,) = _report(con, "webex-go-adoption")
    assert (adoption["calls"], adoption["webex_go_calls"]) == (160, 3)
    assert adoption["webex_go_share"] == 0.0188
    assert (share(3, 160), share(1, 3), share(2, 3), share(0, 7), share(1, 0)) == (
        0.0188,
        0.3333,
        0.6667,
        0.0,
        None,
    )
