"""Two exports of the same records from report templates of different releases: the newer
carries `Device MAC` and `Sub client type`, the older lacks the columns. A column an export
lacks is unknown there, not empty, yet the older export, loaded later with the same report
time, won the tie and erased both: the device's MAC gone and a Webex Go leg no longer
Webex Go. A copy of the same version keeps what the held copy says of the columns its
source lacks, whichever export loads first; a later version takes its own values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row
from tests.ingest.helpers import load, table

LACKED = ("Device MAC", "Sub client type")
OLDER = [h for h in HEADERS if h not in LACKED]


def _export(path: Path, headers: list[str], report_time: str = "2026-10-02T11:05:00.000Z") -> Path:
    legs = []
    for i in (1, 2):
        leg = dict(zip(HEADERS, row(i, **{"Report time": report_time}), strict=True))
        leg["Sub client type"] = "MOBILE_NETWORK" if i == 1 else ""
        legs.append([leg[h] for h in headers])
    path.write_text(csv_text(headers, legs), encoding="utf-8")
    return path


@pytest.mark.parametrize("newer_first", [True, False])
def test_an_export_lacking_columns_keeps_what_the_other_export_said(
    tmp_path: Path, newer_first: bool
) -> None:
    wh = tmp_path / "wh"
    newer = _export(tmp_path / "newer.csv", HEADERS)
    older = _export(tmp_path / "older.csv", OLDER)
    first, second = (newer, older) if newer_first else (older, newer)
    load(wh, first)
    (f,) = load(wh, second).files
    assert f.rows_read == 2 and f.rows_loaded + f.rows_duplicate == 2
    if newer_first:  # the older copy adds nothing: a re-delivery, the held rows stay
        assert (f.rows_loaded, f.rows_duplicate) == (0, 2)
    got = table(wh).sort("report_id")
    assert got["device_mac"].to_list() == ["6C710D8ABC10", "6C710D8ABC10"]
    assert got["sub_client_type"].to_list() == ["MOBILE_NETWORK", None]
    assert got["is_webex_go"].to_list() == [True, False]


def test_a_later_version_lacking_a_column_takes_its_own_values(tmp_path: Path) -> None:
    """A record reported again later is another version: what it lacks is not carried."""
    wh = tmp_path / "wh"
    load(wh, _export(tmp_path / "newer.csv", HEADERS))
    later = _export(tmp_path / "later.csv", OLDER, report_time="2026-10-02T12:00:00.000Z")
    (f,) = load(wh, later).files
    assert f.rows_updated == 2
    got = table(wh).sort("report_id")
    assert got["device_mac"].to_list() == [None, None]
    assert got["is_webex_go"].to_list() == [False, False]


def test_a_device_list_lacking_columns_keeps_what_the_same_snapshot_said(tmp_path: Path) -> None:
    """The same read of the device list saved twice, once with every column and once by a
    script that keeps fewer: the later file erased the device's deployment and subscription,
    its licence then reconciled with no entitlement. An entitlement sheet lacking a column
    is an amendment (what was bought), and keeps nothing."""
    wh = tmp_path / "wh"
    t, dev = "2026-09-01T06:00:00Z", "Y2lzY29zcGFyazovL3VzL0RFVklDRS8x"
    full = tmp_path / "full.csv"
    full.write_text(
        "snapshot_time,org_uuid,device_id,deployment,subscription_id,status\n"
        f"{t},org-1,{dev},BYOD,Sub-1,ONLINE\n",
        encoding="utf-8",
    )
    short = tmp_path / "short.csv"
    short.write_text(f"snapshot_time,org_uuid,device_id,status\n{t},org-1,{dev},ONLINE\n")
    load(wh, full)
    (f,) = load(wh, short).files
    assert (f.rows_loaded, f.rows_duplicate) == (0, 1)
    got = table(wh, "device_snapshots")
    assert got.select("deployment", "subscription_id").rows() == [("BYOD", "Sub-1")]
    sheet = "subscription_id,licence_type,units,valid_from,unit_price\n"
    first = tmp_path / "ent.csv"
    first.write_text(sheet + "Sub-1,BYOD,10,2026-01-01,12.50\n")
    amended = tmp_path / "ent2.csv"
    amended.write_text("subscription_id,licence_type,units,valid_from\nSub-1,BYOD,12,2026-01-01\n")
    load(wh, first)
    load(wh, amended)
    got = table(wh, "entitlements")
    assert got.select("units", "unit_price").rows() == [(12, None)]
