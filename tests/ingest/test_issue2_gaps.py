"""Ingest behaviour the other ingest tests leave open: header matching in full
(BOM, trimming, collapsed whitespace, case folding) with drift recorded in the ledger, and the
quirks of docs/webex-dch.md#quirks-checklist without a fixture of their own (late data, volume,
renamed locations). Expected values are written out by hand from the files built here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl

from cdr_pipeline.samples import write_call_export
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row
from tests.ingest.helpers import (
    ROOT,
    fixture,
    load,
    partition_files,
    settings,
    table,
    unlisted_files,
)

BOM = b"\xef\xbb\xbf"


def _ledger(wh: Path) -> pl.DataFrame:
    return Ledger(settings(wh).layout).files()


# -- point 7: header matching and drift ----------------------------------------------------------

# one spelling per DCH header: BOM on the first, padded, doubled and tabbed inner whitespace,
# odd case, underscores for spaces
MESSY = {
    "Start time": "\ufeff  START   time",
    "Answer time": "answer\ttime",
    "Duration": " DURATION ",
    "Calling number": "Calling    Number",
    "Called number": "called_number",
    "User": "uSeR",
    "Calling line ID": "  calling  line  id  ",
    "Report ID": "REPORT  ID",
    "Report time": "report_TIME ",
    "Sub client type": "Sub   Client   Type",
}


def _messy_header_file(tmp_path: Path) -> Path:
    """bom_crlf.csv's six records under messy spellings, without "Ring duration" and
    "User type", plus two columns no schema knows."""
    keep = [h for h in HEADERS if h not in ("Ring duration", "User type")]
    header = [MESSY.get(h, h) for h in keep] + ["Future   Column", "zz_extra"]
    rows = [
        [v for h, v in zip(HEADERS, row(i), strict=True) if h in keep] + [f"f{i}", f"z{i}"]
        for i in range(6)
    ]
    text = csv_text(header, rows)
    assert text.startswith("\ufeff")  # the BOM is in the header cell, written as UTF-8
    path = tmp_path / "messy_headers.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_header_matching_strips_bom_trims_collapses_and_casefolds(tmp_path: Path) -> None:
    wh, ref = tmp_path / "wh", tmp_path / "ref"
    result = load(wh, _messy_header_file(tmp_path))
    (f,) = result.files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 6, 6, 0)
    load(ref, fixture("bom_crlf.csv"))
    got, want = table(wh), table(ref)
    # every messy spelling landed in its column: equal to the clean export...
    missing = ["ring_duration_seconds", "user_type"]
    same = [c for c in want.columns if c not in (*missing, "extra")]
    assert got.select(same).equals(want.select(same))
    assert got["start_time"].null_count() == 0 and got["report_id"].null_count() == 0
    assert got["sub_client_type"].null_count() == want["sub_client_type"].null_count()
    # ...the absent columns are NULL...
    for col in missing:
        assert got[col].null_count() == 6, col
    # ...and the unknown ones are kept in `extra`, under their header as written
    assert got["extra"].to_list() == [
        f'{{"Future   Column":"f{i}","zz_extra":"z{i}"}}' for i in range(6)
    ]


def test_header_drift_is_recorded_in_the_ledger(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    src = _messy_header_file(tmp_path)
    load(wh, fixture("bom_crlf.csv"), src, fixture("drift_columns.csv"))
    files = _ledger(wh)
    by_path = {r["path"]: r for r in files.iter_rows(named=True)}
    clean, messy, drift = (
        by_path[str(fixture("bom_crlf.csv"))],
        by_path[str(src)],
        by_path[str(fixture("drift_columns.csv"))],
    )
    # the fixtures hold the DCH columns of docs/webex-dch.md, not every column the schema knows:
    # the clean export is the baseline, and the drift is what the others lack beyond it
    assert clean["unknown_columns"] == []
    assert not {"ring_duration_seconds", "user_type"} & set(clean["missing_columns"])
    assert messy["unknown_columns"] == ["Future   Column", "zz_extra"]
    assert set(messy["missing_columns"]) - set(clean["missing_columns"]) == {
        "ring_duration_seconds",
        "user_type",
    }
    assert drift["unknown_columns"] == ["Future column"]
    assert {"ring_duration_seconds", "user_type"} <= set(drift["missing_columns"])
    # a messy spelling of a known column is not drift
    for spelled in MESSY.values():
        assert spelled not in messy["unknown_columns"]


# -- late data, volume, Site UUID (docs/webex-dch.md#quirks-checklist) ----------------------------


def test_late_records_merge_into_their_old_partition(wh: Path, tmp_path: Path) -> None:
    """Late data (docs/webex-dch.md#late-and-updated-records): a record that arrives days later
    lands in the partition of its call date, next to what that partition already holds, and changes
    no other partition."""
    load(wh, fixture("bom_crlf.csv"))  # records 0..5 over 2026-10-01..03
    before = partition_files(wh)
    assert sorted(before) == [f"2026-10-0{d}" for d in (1, 2, 3)]
    late = tmp_path / "late.csv"
    late.write_bytes(
        BOM + csv_text(HEADERS, [row(9, **{"Start time": "2026-10-01T08:00:00Z"})]).encode()
    )
    (f,) = load(wh, late).files
    assert (f.rows_loaded, f.partitions) == (1, ["2026-10-01"])
    after = partition_files(wh)
    assert sorted(after) == sorted(before)
    assert after["2026-10-01"] != before["2026-10-01"]  # a new file for the late record's day
    for name in ("2026-10-02", "2026-10-03"):
        assert after[name] == before[name], name  # the same files: not rewritten
    day1 = table(wh).filter(pl.col("call_date") == date(2026, 10, 1))
    assert sorted(day1["report_id"].str.slice(-2).to_list()) == ["00", "03", "09"]


def test_one_call_flow_of_over_a_thousand_legs_keeps_every_leg(wh: Path, tmp_path: Path) -> None:
    """Volume (docs/webex-dch.md#call-legs): a single call flow (one correlation id) with 1,200 legs
    in a month, as hunt groups produce: the key is the Report ID, so no leg is taken for a
    duplicate."""
    legs = [
        row(
            0,
            **{
                "Report ID": f"hunt-{i:05d}",
                "Start time": f"2026-10-{1 + i % 28:02d}T10:{i % 60:02d}:00.000Z",
                "Report time": f"2026-10-{1 + i % 28:02d}T11:00:00.000Z",
                "Correlation ID": "c0ffee00-0000-4000-8000-hunt00000001",
            },
        )
        for i in range(1200)
    ]
    src = tmp_path / "hunt_group.csv"
    src.write_bytes(BOM + csv_text(HEADERS, legs).encode())
    (f,) = load(wh, src, chunk_rows=100).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate, f.rows_rejected) == (1200, 1200, 0, 0)
    df = table(wh)
    assert df.height == 1200 and df["report_id"].n_unique() == 1200
    assert df["correlation_id"].unique().to_list() == ["c0ffee00-0000-4000-8000-hunt00000001"]
    assert df["call_date"].n_unique() == 28


def test_site_uuid_is_kept_when_the_location_is_renamed(wh: Path, tmp_path: Path) -> None:
    """Renamed locations (docs/webex-dch.md#value-formats): the Location column holds a name that
    can be renamed; the Site UUID is stored so that joins can use it. Two exports of one site,
    before and after a rename."""
    site = "5173c0de-0000-4000-8000-000000000042"
    header = [*HEADERS, "Site UUID"]
    old = tmp_path / "before_rename.csv"
    old.write_bytes(csv_text(header, [[*row(0), site], [*row(1), site]]).encode())
    new = tmp_path / "after_rename.csv"
    renamed = [*row(2, Location="Dallas Campus"), site]
    new.write_bytes(csv_text(header, [renamed]).encode())
    result = load(wh, old, new)
    assert [f.rows_loaded for f in result.files] == [2, 1]
    assert all(f.unknown_columns == [] for f in result.files)  # a known column, not drift
    df = table(wh)
    assert df["site_uuid"].to_list() == [site] * 3
    assert df["location_name"].to_list() == ["Dallas HQ", "Dallas HQ", "Dallas Campus"]
    assert df["extra"].null_count() == 3


# -- point 5: kill -9 from outside, at a moment the test does not choose ---------------------------


CDR = [sys.executable, "-m", "cdr_pipeline"]


def test_external_kill_9_mid_ingest_then_rerun_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """The fault hook kills the process at a chosen merge; here the process is killed from
    outside while it stages, whatever it is doing then. The rerun runs in this process (the
    views `cdr ingest` would refresh are not looked at)."""
    src = tmp_path / "export.csv"
    write_call_export(src, legs=60_000, seed=8, start=date(2026, 9, 1), days=20)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        # small chunks: the first rows are staged long before the end, so the kill lands
        [*CDR, "--warehouse", str(killed), "ingest", str(src), "--chunk-rows", "2000"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        staging = killed / "state" / "staging"
        deadline = time.monotonic() + 120
        while not any(staging.rglob("*.parquet")) and proc.poll() is None:
            assert time.monotonic() < deadline, "the ingest never started staging"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        rc = proc.wait(timeout=60)
    assert rc == -signal.SIGKILL, "the ingest ended before the kill: nothing was tested"
    rerun = load(killed, src)
    assert rerun.exit_code == 0, rerun.files
    clean = tmp_path / "clean"
    load(clean, src)
    got = table(killed)
    assert got.height == 60_000 and got["report_id"].is_unique().all()
    assert got.equals(table(clean))
    assert Ledger(Layout(killed)).runs()["status"].to_list() == ["interrupted", "ok"]
    assert unlisted_files(killed) == []
