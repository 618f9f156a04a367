"""A quarter of Webex Go licences in America/New_York, worked out by hand, closed, then hit by
late data: the reports of the closed months must keep saying what the close froze.

The world (reporting time zone America/New_York: EST until 2024-03-10, EDT after; January
is [01-01T05:00Z, 02-01T05:00Z), February [02-01T05:00Z, 03-01T05:00Z), a leap month,
March [03-01T05:00Z, 04-01T04:00Z)). Device data up to the snapshot of 2024-04-01T12:00Z.

Sub-A BYOD (entitled 3 to 02-14, then 4; 10.00 USD: over in January and February, as four
phones are held at once from 02-01T04:30Z, before the fourth unit is bought):
- D1 provisioned 01-10, activated 01-11; its only call 2024-03-01T03:00Z, i.e. Feb 29
  22:00 local: used in February, not March.
- D2 provisioned and activated at 2024-02-01T04:30Z/04:45Z: January 31 local, one
  licence-day of January, activated in January.
- D3 provisioned 01-05, activated 01-06, deleted 02-15T12:00Z; a call of its user that
  afternoon (no device then) is an anomaly, not use. D3b, the user's new device,
  provisioned 02-20, activated 02-21, calls 03-05.
- D7 provisioned 01-15, deleted at 2024-03-01T05:00Z, the first instant of March: held at
  February's end, not in March.
Sub-A Mobile (1 unit, 20.00 USD): number N6 on DM1 (01-08 to 02-05T12:00Z) and DM2 (from
02-05T11:00Z): one unit; DM2 calls 03-20.
Sub-B BYOD (3 units at 9.00 EUR; from 03-01 one more at 5.00 USD: mixed currencies):
- D4 provisioned 01-03, activated 01-04, Lost/Stolen 02-10, activated again 02-12; a call
  02-11 from the old phone (an anomaly, and use: the licence was held).
- D5a and D5b, two devices of one user from 01-02: D5a activated, calls 02-05; D5b never
  activated (its code, issued 01-02T12:00Z, expires 90 days later: at the horizon).
- D6 provisioned 2024-03-10T06:30Z (01:30 EST on the day clocks change), deleted at
  2024-03-11T04:00Z (midnight EDT): one licence-day, March 10; calls 03-10.
Sub-C BYOD: a row of 0 units at 5.00 USD (a row taken back: never in force), no device, so
no reconciliation row of its own.
Call data: an export of January with no rows at all (a month without calls is still
covered), and one of February and March, to April 1 (UTC days, as Control Hub's report is:
March 31 in New York ends at 04-01T04:00Z).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.frozen import read_close
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from tests.reports.finance_helpers import cdr, copy_warehouse
from tests.warehouse.finance_world import CALL_HEADER, World, user

TZ = "America/New_York"
BYOD_NAME = "Webex Go (Bring Your Own Device)"
MOBILE_NAME = "Webex Go Mobile (Mobile Operator)"
CLOSED = ("2024-01", "2024-02", "2024-03")


def _world() -> World:
    w = World()
    ev = w.event
    n = {d: f"+1212555010{i}" for i, d in enumerate(["D0", "D1", "D2", "D3", "D4", "D5a"])}
    ev("2024-01-10T15:00:00Z", "D1", "PROVISIONED", user(1), n["D1"], subscription="Sub-A")
    ev("2024-01-11T15:00:00Z", "D1", "ACTIVATED", user(1), n["D1"], subscription="Sub-A")
    ev("2024-02-01T04:30:00Z", "D2", "PROVISIONED", user(2), n["D2"], subscription="Sub-A")
    ev("2024-02-01T04:45:00Z", "D2", "ACTIVATED", user(2), n["D2"], subscription="Sub-A")
    ev("2024-01-05T12:00:00Z", "D3", "PROVISIONED", user(3), n["D3"], subscription="Sub-A")
    ev("2024-01-06T12:00:00Z", "D3", "ACTIVATED", user(3), n["D3"], subscription="Sub-A")
    ev("2024-02-15T12:00:00Z", "D3", "DELETED", user(3), n["D3"], subscription="Sub-A")
    ev("2024-02-20T12:00:00Z", "D3b", "PROVISIONED", user(3), n["D3"], subscription="Sub-A")
    ev("2024-02-21T12:00:00Z", "D3b", "ACTIVATED", user(3), n["D3"], subscription="Sub-A")
    ev("2024-01-15T12:00:00Z", "D7", "PROVISIONED", user(8), "+12125550108", subscription="Sub-A")
    ev("2024-01-15T13:00:00Z", "D7", "ACTIVATED", user(8), "+12125550108", subscription="Sub-A")
    ev("2024-03-01T05:00:00Z", "D7", "DELETED", user(8), "+12125550108", subscription="Sub-A")
    for device, at in (("DM1", "2024-01-08T12:00:00Z"), ("DM2", "2024-02-05T11:00:00Z")):
        ev(at, device, "PROVISIONED", user(6), "+12125550106", deployment="MOBILE_OPERATOR",
           subscription="Sub-A")  # fmt: skip
    ev("2024-01-08T13:00:00Z", "DM1", "ACTIVATED", user(6), "+12125550106",
       deployment="MOBILE_OPERATOR", subscription="Sub-A")  # fmt: skip
    ev("2024-02-05T11:30:00Z", "DM2", "ACTIVATED", user(6), "+12125550106",
       deployment="MOBILE_OPERATOR", subscription="Sub-A")  # fmt: skip
    ev("2024-02-05T12:00:00Z", "DM1", "DELETED", user(6), "+12125550106",
       deployment="MOBILE_OPERATOR", subscription="Sub-A")  # fmt: skip
    sub_b = {"subscription": "Sub-B"}
    ev("2024-01-03T12:00:00Z", "D4", "PROVISIONED", user(4), n["D4"], **sub_b)
    ev("2024-01-04T12:00:00Z", "D4", "ACTIVATED", user(4), n["D4"], **sub_b)
    ev("2024-02-10T12:00:00Z", "D4", "LOST_STOLEN", user(4), n["D4"], **sub_b)
    ev("2024-02-10T12:00:01Z", "D4", "ACTIVATION_CODE_ISSUED", user(4), n["D4"], **sub_b)
    ev("2024-02-12T12:00:00Z", "D4", "ACTIVATED", user(4), n["D4"], **sub_b)
    ev("2024-01-02T12:00:00Z", "D5a", "PROVISIONED", user(5), n["D5a"], **sub_b)
    ev("2024-01-02T13:00:00Z", "D5a", "ACTIVATED", user(5), n["D5a"], **sub_b)
    ev("2024-01-02T12:00:00Z", "D5b", "PROVISIONED", user(5), "+12125550115", **sub_b)
    ev("2024-01-02T12:00:00Z", "D5b", "ACTIVATION_CODE_ISSUED", user(5), "+12125550115", **sub_b)
    ev("2024-03-10T06:30:00Z", "D6", "PROVISIONED", user(7), "+12125550107", **sub_b)
    ev("2024-03-10T06:45:00Z", "D6", "ACTIVATED", user(7), "+12125550107", **sub_b)
    ev("2024-03-11T04:00:00Z", "D6", "DELETED", user(7), "+12125550107", **sub_b)
    at = "2024-04-01T12:00:00Z"  # the device data horizon: every device still held
    for device, uid, number, sub in (
        ("D1", 1, n["D1"], "Sub-A"),
        ("D2", 2, n["D2"], "Sub-A"),
        ("D3b", 3, n["D3"], "Sub-A"),
        ("D4", 4, n["D4"], "Sub-B"),
        ("D5a", 5, n["D5a"], "Sub-B"),
    ):
        w.snapshot(at, device, user(uid), number, subscription=sub)
    w.snapshot(at, "D5b", user(5), "+12125550115", subscription="Sub-B",
               status="PENDING_ACTIVATION")  # fmt: skip
    w.snapshot(at, "DM2", user(6), "+12125550106", subscription="Sub-A",
               deployment="MOBILE_OPERATOR")  # fmt: skip
    w.entitlements += [
        f"Sub-A,{BYOD_NAME},3,2024-01-01,2024-02-14,10.00,USD",
        f"Sub-A,{BYOD_NAME},4,2024-02-15,,10.00,USD",
        f"Sub-A,{MOBILE_NAME},1,2024-01-01,,20.00,USD",
        f"Sub-B,{BYOD_NAME},3,2024-01-01,,9.00,eur",
        f"Sub-B,{BYOD_NAME},1,2024-03-01,,5.00,USD",
        f"Sub-C,{BYOD_NAME},0,2024-01-01,,5.00,USD",
    ]
    w.calls["dch_2024-01-01_2024-02-01.csv"] = []  # January: an export without any call
    feb_mar = "dch_2024-02-01_2024-04-02.csv"  # UTC days: March 31 in New York ends 04-01T04Z
    w.leg(feb_mar, "C1", "2024-03-01T03:00:00Z", user(1), n["D1"], 120)
    w.leg(feb_mar, "C2", "2024-02-15T15:00:00Z", user(3), n["D3"], 60)
    w.leg(feb_mar, "C3", "2024-02-11T12:00:00Z", user(4), n["D4"], 180)
    w.leg(feb_mar, "C4", "2024-02-05T12:00:00Z", user(5), n["D5a"], 240)
    w.leg(feb_mar, "C5", "2024-03-05T12:00:00Z", user(3), n["D3"], 60)
    w.leg(feb_mar, "C6", "2024-03-10T08:00:00Z", user(7), "+12125550107", 30)
    w.leg(feb_mar, "C8", "2024-03-20T12:00:00Z", user(6), "+12125550106", 300)
    return w


# (month, subscription, licence type) -> entitled, peak, month end, licence-days, used,
# idle (idle + never activated), unit price, currency, idle cost, status, unassigned units,
# unassigned cost
NO_PRICE = (None, None, None)
"""unit_price, currency, idle_cost of rows in force in two currencies."""
RECONCILIATION: dict[tuple[str, str, str], tuple[Any, ...]] = {
    # January: D1 22 days + D2 1 + D3 27 + D7 17; four held at once from 02-01T04:30Z
    ("2024-01", "Sub-A", BYOD_NAME): (3, 4, 4, 67, 0, 4, 10.0, "USD", 40.0, "over", 0, 0.0),
    ("2024-01", "Sub-A", MOBILE_NAME): (1, 1, 1, 24, 0, 1, 20.0, "USD", 20.0, "matched", 0, 0.0),
    # D4 29 days, D5a and D5b 30 each; D5b never activated
    ("2024-01", "Sub-B", BYOD_NAME): (3, 3, 3, 89, 0, 3, 9.0, "EUR", 27.0, "matched", 0, 0.0),
    # February (29 days): D1 29 + D2 29 + D3 15 + D3b 10 + D7 29; D1 used on Feb 29 local;
    # over: D1, D2, D3 and D7 held at once until 02-14 while 3 were bought (4 from 02-15)
    ("2024-02", "Sub-A", BYOD_NAME): (4, 4, 4, 112, 1, 4, 10.0, "USD", 40.0, "over", 0, 0.0),
    ("2024-02", "Sub-A", MOBILE_NAME): (1, 1, 1, 29, 0, 1, 20.0, "USD", 20.0, "matched", 0, 0.0),
    # D4 used (its old phone's call, while the licence was held), D5a used, D5b never
    ("2024-02", "Sub-B", BYOD_NAME): (3, 3, 3, 87, 2, 1, 9.0, "EUR", 9.0, "matched", 0, 0.0),
    # March: D7 gone at the first instant; D3b used; D1 and D2 idle
    ("2024-03", "Sub-A", BYOD_NAME): (4, 3, 3, 93, 1, 2, 10.0, "USD", 20.0, "under", 1, 10.0),
    ("2024-03", "Sub-A", MOBILE_NAME): (1, 1, 1, 31, 1, 0, 20.0, "USD", 0.0, "matched", 0, 0.0),
    # D6 adds one unit for one day (peak 4, month end 3); EUR and USD rows: no price
    ("2024-03", "Sub-B", BYOD_NAME): (4, 4, 3, 94, 1, 3, *NO_PRICE, "mixed_currency", 1, None),
}
RECON_COLUMNS = (
    "entitled_units", "consumed_peak", "consumed_month_end", "licence_days", "licences_used",
    "idle_licences", "unit_price", "currency", "idle_cost", "status", "unassigned_units",
    "unassigned_cost",
)  # fmt: skip


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    return {
        (f"{r['month']:%Y-%m}", r["subscription_id"], r["licence_type"]): tuple(
            r[c] for c in RECON_COLUMNS
        )
        for r in rows
        if f"{r['month']:%Y-%m}" in CLOSED
    }


@pytest.fixture(scope="module")
def closed_quarter(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The world loaded, built, and its three months closed."""
    root = tmp_path_factory.mktemp("quarter")
    _world().ingest(root, reporting_timezone=TZ)
    settings = Settings(warehouse=root / "wh", reporting_timezone=TZ)
    build_warehouse(settings)
    for month in CLOSED:
        result = close_month(settings, month)
        assert not result.close.forced and result.close.call_coverage == "full"
    return settings


@pytest.fixture(scope="module")
def late(closed_quarter: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the closed quarter after late data for February: a 10-minute call of D2
    (idle no more) and an amended entitlement (5 units from 02-15, not 4). The tests that
    take it only read it."""
    tmp_path = tmp_path_factory.mktemp("late")
    wh = copy_warehouse(closed_quarter, tmp_path)
    wh = Settings(warehouse=wh.warehouse, reporting_timezone=TZ)
    w = World()
    w.leg("late_calls.csv", "L1", "2024-02-20T12:00:00Z", user(2), "+12125550102", 600)
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "late_calls.csv").write_text(
        "\n".join([CALL_HEADER, *w.calls["late_calls.csv"], ""]), encoding="utf-8"
    )
    (folder / "entitlements_fix.csv").write_text(
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
        f"Sub-A,{BYOD_NAME},5,2024-02-15,,10.00,USD\n",
        encoding="utf-8",
    )
    assert ingest_paths(wh, [folder]).exit_code == 0
    refresh_warehouse(wh)  # the views moved to the new versions, as `cdr ingest` does
    return wh


def test_the_closed_quarter_says_what_was_worked_out_by_hand(closed_quarter: Settings) -> None:
    frozen: list[dict[str, Any]] = []
    for month in CLOSED:
        result = run_report(closed_quarter, "reconciliation", month)
        assert result.closed_at is not None
        frozen += result.rows()
    assert _by_key(frozen) == RECONCILIATION
    # the org's peak: the eight units of January to March were all held at one instant
    code, out, _ = cdr(closed_quarter, "close", "2024-02")
    assert code == 0 and "already closed" in out


@pytest.fixture(scope="module")
def utc(closed_quarter: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The same tables as the closed quarter, its views rebuilt in UTC (a copy built with
    the default settings). The tests that take it only read it."""
    return copy_warehouse(closed_quarter, tmp_path_factory.mktemp("utc"))


def test_a_closed_month_keeps_its_figures_in_every_report_of_all_months(late: Settings) -> None:
    now = _by_key(run_report(late, "reconciliation", "2024-02", current=True).rows())
    # the late data moves February (hand-worked: D2 used; 5 units bought from 02-15, 3 idle;
    # still over until 02-14, when 4 were held against 3 bought)
    assert now[("2024-02", "Sub-A", BYOD_NAME)] == (
        5, 4, 4, 112, 2, 3, 10.0, "USD", 30.0, "over", 1, 10.0
    )  # fmt: skip
    # ... but the closed months answer from their close, with or without --month
    assert _by_key(run_report(late, "reconciliation", "2024-02").rows()) == {
        k: v for k, v in RECONCILIATION.items() if k[0] == "2024-02"
    }
    every = run_report(late, "reconciliation")
    assert _by_key(every.rows()) == RECONCILIATION
    assert every.frozen_months == CLOSED
    code, _, err = cdr(late, "report", "reconciliation", "--format", "csv")
    assert code == 0
    assert "2024-01, 2024-02, 2024-03: closed, frozen figures" in err
    # --current recomputes every month, closed ones too
    assert (
        _by_key(run_report(late, "reconciliation", current=True).rows())[
            ("2024-02", "Sub-A", BYOD_NAME)
        ]
        == now[("2024-02", "Sub-A", BYOD_NAME)]
    )
    # the drift is reported, and --as-of the close reproduces the frozen month
    changed = {(f"{r['month']:%Y-%m}", r["measure"]) for r in restatements(late).rows()}
    assert ("2024-02", "idle_cost") in changed and ("2024-01", "idle_cost") not in changed
    close = run_report(late, "reconciliation", "2024-02")
    assert close.closed_at is not None
    as_of = run_report(late, "reconciliation", "2024-02", as_of=close.closed_at)
    assert as_of.rows() == close.rows()


def test_a_close_records_the_settings_its_figures_were_cut_with(
    closed_quarter: Settings, utc: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    close = read_close(closed_quarter.layout, date(2024, 2, 1))
    assert close is not None
    assert close.settings == {"reporting_timezone": TZ, "code_expiry_days": 90, "idle_days": 30}
    # the same tables, the views rebuilt in UTC: every closed month moves (January's
    # Jan 31 local of D2 is February in UTC), and restatements say why, not only what
    with caplog.at_level(logging.WARNING):
        moved = {f"{r['month']:%Y-%m}" for r in restatements(utc).rows()}
    assert moved == set(CLOSED)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        m.startswith(f"2024-01 was closed with reporting_timezone={TZ}, code_expiry_days=90")
        and "the views now use reporting_timezone=UTC" in m
        for m in warned
    ), warned


def test_every_month_of_a_report_names_the_closed_months_cut_in_another_time_zone(
    closed_quarter: Settings, utc: Settings
) -> None:
    # the same tables, the views rebuilt in UTC, April computed: the year's export has the
    # quarter cut at New York's midnights and April at UTC's, so a day at a boundary counts
    # in two months or in none; finance must be told, not only that the rows are frozen
    code, out, err = cdr(utc, "report", "reconciliation", "--format", "csv")
    assert code == 0, err
    assert "2024-04-01," in out  # a month computed now, in UTC
    assert (
        f"reconciliation: 2024-01, 2024-02, 2024-03 closed with reporting_timezone={TZ}, "
        "code_expiry_days=90, idle_days=30; the other months are computed with "
        "reporting_timezone=UTC" in " ".join(err.split())
    ), err
    # the settings of the close: no warning
    code, _, err = cdr(closed_quarter, "report", "licence-usage", "--format", "csv")
    assert code == 0 and "closed with" not in err, err


def test_the_finance_pack_and_summary_say_which_time_zone_cuts_the_month(
    utc: Settings, tmp_path: Path
) -> None:
    # February closed in New York ends at 2024-03-01T05:00Z: C1 at 03:00Z that day is
    # February's. Times in the pack are UTC, so the month's zone must be on the cover, and
    # it is the close's even when the views are built in another zone since
    for month, zone in (("2024-02", TZ), ("2024-04", "UTC")):
        out = tmp_path / f"{month}.xlsx"
        code, _, err = cdr(utc, "report", "finance-pack", "--month", month, "--out", str(out))
        assert code == 0, err
        book = openpyxl.load_workbook(out)
        cover = {r[0]: r[1] for r in book["Cover"].iter_rows(values_only=True) if r[0]}
        assert cover["Reporting time zone"] == zone
        assert cover["Times in the sheets"] == "UTC"
        code, html, err = cdr(utc, "report", "finance-summary", "--month", month)
        assert code == 0, err
        assert f"month of {zone}" in html


def test_restatements_of_one_month_are_that_months_only(late: Settings) -> None:
    """`cdr report restatements --month 2024-03` answered every closed month: the flag was
    dropped without a word (as --as-of would have been, had it not been refused), so a
    controller asking what would change in March read February's changes as March's."""
    code, every, _ = cdr(late, "report", "restatements", "--format", "csv")
    assert code == 0
    assert {line[:7] for line in every.splitlines()[1:]} == {"2024-02", "2024-03"}
    code, march, _ = cdr(late, "report", "restatements", "--month", "2024-03", "--format", "csv")
    assert code == 0
    assert march.splitlines()[1:] == [
        line for line in every.splitlines()[1:] if line.startswith("2024-03")
    ]
    code, _, err = cdr(late, "report", "restatements", "--month", "2024-01")
    # "2024-01 is not closed, or it still holds" left the controller to guess which
    assert code == 0 and "no restatements: 2024-01 is closed and still holds" in err
    code, _, err = cdr(late, "report", "restatements", "--month", "2023-12")
    assert (
        code == 0
        and ("no restatements: 2023-12 is not closed (closed months: 2024-01, 2024-02, 2024-03)")
        in err
    )
    code, _, err = cdr(late, "report", "restatements", "--month", "2024-1")
    assert code == 3 and "bad month" in err
