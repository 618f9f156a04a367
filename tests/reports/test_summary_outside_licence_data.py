"""The one-page summary of a month the licence data does not reach (after the month of the
device data horizon, or before the first licence held), worked out by hand: the licence
reports have no row for it, so nothing there says what was held or bought. The page must
say the month is outside the device data, not that nothing was bought."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse
from tests.reports.finance_helpers import cdr
from tests.warehouse.finance_world import World, user


def _summary_text(settings: Settings, tmp_path: Path, month: str) -> str:
    out = tmp_path / f"{month}.html"
    code, _, err = cdr(settings, "report", "finance-summary", "--month", month, "--out", str(out))
    assert code == 0, err
    return " ".join(out.read_text(encoding="utf-8").split())


def _one_device(tmp_path: Path, export: str, call_at: str) -> Settings:
    """D1 (BYOD, user 1) provisioned 2026-02-01, activated an hour later, last seen by a
    snapshot of 2026-04-02T00:00Z; 2 units of Sub-1 at 10.00 USD from 2026-01-01; one Webex
    Go call of 60 s at `call_at` in the export `export`. Loaded and built."""
    w = World()
    w.event("2026-02-01T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.event("2026-02-01T01:00:00Z", "D1", "ACTIVATED", user(1), "+15550001")
    w.snapshot("2026-04-02T00:00:00Z", "D1", user(1), "+15550001")
    w.entitle("Sub-1", "BYOD", 2, "10.00")
    w.leg(export, "L1", call_at, user(1), "+1", 60)
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    return settings


@pytest.fixture(scope="module")
def april_call(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """`_one_device` with its call on 2026-04-01 (in calls_2026-04-01_2026-04-02.csv), for
    the tests that only read it."""
    root = tmp_path_factory.mktemp("april_call")
    return _one_device(root, "calls_2026-04-01_2026-04-02.csv", "2026-04-01T10:00:00Z")


def test_a_month_past_the_device_data_is_not_reported_as_nothing_bought(tmp_path: Path) -> None:
    """D1 (BYOD, Sub-1) is provisioned 2026-02-01 and last seen by a snapshot of
    2026-04-02T00:00Z: the device data horizon, so the licence months are February to April.
    Sub-1 bought 2 units from 2026-01-01, open-ended, at 10.00 USD.

    April (the horizon's month) is inside: 1 held at peak, 2 bought (the rows in force on the
    horizon's day, 04-02), so its page reads "2 / 1" (bought / held).
    May is past the horizon: the reconciliation has no row for it (its months end at the
    horizon's), so the page had "0 / 0 licences held (peak) / bought" and "No subscription
    held or bought licences this month", though the 2 units bought from January are still
    in force in May. It now says the month lies outside the device data (February to April
    2026, device data up to 2026-04-02 00:00 UTC) and shows neither figure ("– / –"); the
    finance pack's cover says so too, its sheets being empty for that reason.
    January, before the first licence held, is outside too, though 2 units were in force."""
    settings = _one_device(tmp_path, "calls_2026-02-01_2026-03-01.csv", "2026-02-10T10:00:00Z")

    april = _summary_text(settings, tmp_path, "2026-04")
    assert "<b>2 / 1</b>" in april
    assert "outside the device data" not in april

    for month in ("2026-05", "2026-01"):
        page = _summary_text(settings, tmp_path, month)
        assert "<b>0 / 0</b>" not in page
        assert "<b>– / –</b>" in page
        assert "No subscription held or bought licences this month" not in page
        assert (
            "outside the device data: the licence reports cover February 2026 to April 2026 "
            "(device data up to 2026-04-02 00:00 UTC)" in page
        )

    pack = tmp_path / "may.xlsx"
    code, _, err = cdr(settings, "report", "finance-pack", "--month", "2026-05", "--out", str(pack))
    assert code == 0, err
    cover = dict(openpyxl.load_workbook(pack)["Cover"].iter_rows(min_row=3, values_only=True))
    assert str(cover["Device data"]).startswith(
        "May 2026 is outside the device data: the licence reports cover February 2026 to "
        "April 2026 (device data up to 2026-04-02 00:00 UTC)."
    )
    pack = tmp_path / "april.xlsx"
    code, _, err = cdr(settings, "report", "finance-pack", "--month", "2026-04", "--out", str(pack))
    assert code == 0, err
    assert "Device data" not in dict(
        openpyxl.load_workbook(pack)["Cover"].iter_rows(min_row=3, values_only=True)
    )


def test_an_empty_licence_report_of_a_month_outside_the_device_data_says_why(
    tmp_path: Path,
) -> None:
    """The same world: D1 held from 2026-02-01, device data up to 2026-04-02, 2 units of
    Sub-1 bought from January. `cdr report reconciliation --month 2026-05` printed an empty
    table and nothing else, as if nothing had been held or bought in May; it now says on
    stderr that May is outside the device data (February to April 2026). April, inside,
    has its row (2 bought, 1 held at peak) and no such note."""
    w = World()
    w.event("2026-02-01T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.snapshot("2026-04-02T00:00:00Z", "D1", user(1), "+15550001")
    w.entitle("Sub-1", "BYOD", 2, "10.00")
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [w.write(tmp_path / "in")]).exit_code == 0
    build_warehouse(settings)
    note = (
        "note: May 2026 is outside the device data: the licence reports cover February 2026 "
        "to April 2026 (device data up to 2026-04-02 00:00 UTC)."
    )
    for report in ("reconciliation", "licence-usage"):
        code, out, err = cdr(settings, "report", report, "--month", "2026-05", "--format", "csv")
        assert code == 0, err
        assert out.splitlines()[1:] == []
        assert note in " ".join(err.split())
    code, out, err = cdr(
        settings, "report", "reconciliation", "--month", "2026-04", "--format", "csv"
    )
    assert code == 0, err
    header, first = (line.split(",") for line in out.splitlines()[:2])
    row = dict(zip(header, first, strict=True))
    assert (row["entitled_units"], row["consumed_peak"]) == ("2", "1")
    assert "outside the device data" not in err


def test_the_summary_states_the_device_data_horizon_without_reclaim_candidates(
    april_call: Settings, tmp_path: Path
) -> None:
    """D1 (BYOD) is provisioned 2026-02-01, activated an hour later, makes a Webex Go call
    on 2026-04-01 and is last seen by a snapshot of 2026-04-02T00:00Z (the horizon). Idle
    since the call for 1 day (< idle_days 30), never Lost/Stolen: no reclaim candidate.
    The page took "Device data up to ..." from the first reclaim candidate's as_of_time, so
    an org without any candidate had no horizon on its page; it now reads it from the views:
    "Device data up to 2026-04-02 00:00 UTC."."""
    page = _summary_text(april_call, tmp_path, "2026-04")
    assert '<h2>Reclaim candidates</h2> <p class="note">None.</p>' in page
    assert "Device data up to 2026-04-02 00:00 UTC." in page


def test_an_empty_licence_report_warns_once_of_views_behind_the_tables(tmp_path: Path) -> None:
    """The one-device world (device data up to 2026-04-02), then a call export loaded
    without a build: the views lag the tables. `cdr report reconciliation --month
    2026-05` read the views for the report and again, on a second connection, for the note
    saying May is outside the device data, so the warning that the views lag came twice.
    The note is now read on the report's own connection: one warning, and the note."""
    settings = _one_device(tmp_path, "calls_2026-04-01_2026-04-02.csv", "2026-04-01T10:00:00Z")
    late = World()
    late.leg("calls_2026-04-02_2026-04-03.csv", "L2", "2026-04-02T10:00:00Z", user(1), "+1", 60)
    assert ingest_paths(settings, [late.write(tmp_path / "late")]).exit_code == 0
    for report in ("reconciliation", "licence-usage"):
        code, out, err = cdr(settings, "report", report, "--month", "2026-05", "--format", "csv")
        assert code == 0, err
        assert out.splitlines()[1:] == []
        assert err.count("answers leave the newer data out") == 1, err
        assert "note: May 2026 is outside the device data" in err


def test_the_headline_of_a_month_past_the_device_data_is_not_0_held_0_bought(
    april_call: Settings, tmp_path: Path
) -> None:
    """The same world (D1 held from 2026-02-01, device data up to 2026-04-02, 2 units of
    Sub-1 bought from January), its one call on 2026-05-10: the last month with calls, which
    the headline (cdr demo) reports, is May, past the device data. It read 0 held at month
    end (peak 0) vs 0 bought, 0 idle, though 2 units bought from January are in force in
    May; the licence figures are now unknown (None) and the note says why. In April, with
    the call there, the figures are those of the reports: 1 held (month end: the horizon),
    peak 1, 2 bought."""
    from cdr_pipeline.reports import headline_figures

    may = headline_figures(
        _one_device(tmp_path / "may", "calls_2026-05-10_2026-05-11.csv", "2026-05-10T10:00:00Z")
    )
    assert may["month"] == "2026-05"
    licences = ("licences_held_month_end", "licences_held_peak", "licences_bought")
    assert [may[k] for k in (*licences, "idle_licences")] == [None, None, None, None]
    assert may["licence_note"].startswith(
        "May 2026 is outside the device data: the licence reports cover February 2026 to April 2026"
    )
    april = headline_figures(april_call)
    assert (april["month"], [april[k] for k in licences]) == ("2026-04", [1, 1, 2])
    assert april["licence_note"] == ""
