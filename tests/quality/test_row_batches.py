"""What the row batches hand the checks: a row's partition day in UTC whatever the machine's zone, a
required text value as stored unless it is blanks only."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.quality.batches import connect, row_batches
from cdr_pipeline.quality.suites import build_suites


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_a_leg_in_its_utc_day_passes_on_a_machine_east_of_utc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tz: str | None
) -> None:
    """Another writer's start_time without a zone (a TIMESTAMP, read as UTC as the table's
    are): on a machine in Asia/Tokyo the check took the day in DuckDB's session zone, the
    machine's, and a leg of 20:00 UTC on 09-03 in call_date=2026-09-03 read as misplaced
    in 2026-09-04 (an error-severity failure of a clean row)."""
    folder = tmp_path / "call_date=2026-09-03"
    folder.mkdir()
    start = pa.array([datetime(2026, 9, 3, 20, 0)], pa.timestamp("us", tz=tz))
    pq.write_table(pa.table({"report_id": ["r1"], "start_time": start}), folder / "p.parquet")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        con = connect(tmp_path / "tmp")
        suite = build_suites()["call_legs"]
        frames = list(row_batches(con, suite, [folder / "p.parquet"], 10, None))
        con.close()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert frames[0]["call_date"].isna().all()


def test_a_required_value_with_blanks_around_it_is_read_as_stored(tmp_path: Path) -> None:
    """The row batches read a required text column of blanks only as NULL (a7987ee), but
    trimmed every other value too: a Direction ' ORIGINATING' (another writer's), which the
    views compare to 'ORIGINATING' as stored and so never take for the calling side, then
    passed its error-severity set check. Only a value of blanks only becomes NULL."""
    folder = tmp_path / "call_date=2026-09-03"
    folder.mkdir()
    start = pa.array([datetime(2026, 9, 3, 9, 0)] * 2, pa.timestamp("us", tz="UTC"))
    rows = {"report_id": ["r1", "r2"], "start_time": start, "direction": [" ORIGINATING", " "]}
    pq.write_table(pa.table(rows), folder / "p.parquet")
    con = connect(tmp_path / "tmp")
    suite = build_suites()["call_legs"]
    frame = next(iter(row_batches(con, suite, [folder / "p.parquet"], 10, None)))
    con.close()
    assert frame["direction"][0] == " ORIGINATING"  # fails the set, as stored
    assert frame["direction"].isna()[1]  # blanks only: missing


def test_a_value_blank_to_the_ingest_is_blank_to_the_checks(tmp_path: Path) -> None:
    """The ingest quarantines a required text value that polars' `strip_chars()` makes empty
    (Unicode White_Space); the row batches read only spaces, tabs, line ends and no-break
    spaces as blank, so another writer's Direction of an ideographic or em space reached the
    set check as a value instead of a missing one. Both now call the same values blank."""
    import polars as pl

    candidates = [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\u200b", "\ufeff"]
    blank_to_ingest = pl.Series(candidates).str.strip_chars().eq("").to_list()
    folder = tmp_path / "call_date=2026-09-03"
    folder.mkdir()
    start = pa.array([datetime(2026, 9, 3, 9, 0)] * len(candidates), pa.timestamp("us", tz="UTC"))
    rows = {
        "report_id": [f"r{i}" for i in range(len(candidates))],
        "start_time": start,
        "direction": [f"{c}{c}" for c in candidates],
    }
    pq.write_table(pa.table(rows), folder / "p.parquet")
    con = connect(tmp_path / "tmp")
    suite = build_suites()["call_legs"]
    frame = next(iter(row_batches(con, suite, [folder / "p.parquet"], 100, None)))
    con.close()
    blank_to_checks = frame["direction"].isna().tolist()
    assert sum(blank_to_ingest) > 20
    assert blank_to_checks == blank_to_ingest


def _legs(folder: Path, durations: pa.Array) -> Path:
    folder.mkdir()
    start = pa.array([datetime(2026, 9, 3, 9, 0)] * len(durations), pa.timestamp("us", tz="UTC"))
    rows = {"report_id": [f"r{i}" for i in range(len(durations))], "start_time": start}
    pq.write_table(pa.table({**rows, "duration_seconds": durations}), folder / "p.parquet")
    return folder / "p.parquet"


def test_a_number_stored_as_text_is_checked_as_a_number(tmp_path: Path) -> None:
    """A file another writer put in the table with duration_seconds as text ("30"): the
    views cast it to the table's type and read 30, but the checks read it as stored, so the
    number checks (never negative, at most a day) compared text with numbers and failed
    with 0 unexpected rows, naming nothing. The batches read each column as the views do."""
    text = _legs(tmp_path / "call_date=2026-09-03", pa.array(["30", "-5"]))
    number = _legs(tmp_path / "call_date=2026-09-04", pa.array([7], pa.int64()))
    con = connect(tmp_path / "tmp")
    suite = build_suites()["call_legs"]
    frames = list(row_batches(con, suite, [text, number], 10, None))
    con.close()
    values = [v for frame in frames for v in frame["duration_seconds"].tolist()]
    assert sorted(values) == [-5, 7, 30]  # numbers: -5 fails the check, the others pass


def test_a_stored_value_the_table_type_cannot_take_is_damage_naming_the_file(
    tmp_path: Path,
) -> None:
    """Text that is no number (another writer's "n/a"): the view's cast fails, and `cdr
    build` names the file as damage (exit 6); validation says the same, not a bug, whether
    DuckDB fails before the first batch or (an OSError of the batch stream) after it."""
    good = _legs(tmp_path / "call_date=2026-09-02", pa.array(["30"] * 50))
    bad = _legs(tmp_path / "call_date=2026-09-03", pa.array(["n/a"]))
    con = connect(tmp_path / "tmp")
    suite = build_suites()["call_legs"]
    for files in ([bad], [good, bad]):
        with pytest.raises(WarehouseDamaged, match=rf"{bad} holds duration_seconds as VARCHAR"):
            list(row_batches(con, suite, files, 10, None))
    con.close()


def test_webex_go_sub_client_type_in_any_case_is_a_documented_value(tmp_path: Path) -> None:
    """`is_webex_go` compares Sub client type in any case (docs/webex-dch.md#webex-go-
    detection), so a leg of `mobile_network` is tagged Webex Go; yet its set check compared
    as stored and `cdr validate` warned every night about a leg it had handled, the warning
    that should mean "a value that leaves its leg untagged". Only the case and blanks around
    it (the tag trims them) are forgiven: another spelling still warns, as delivered."""
    folder = tmp_path / "call_date=2026-09-03"
    folder.mkdir()
    values = [
        "mobile_network",
        "Mobile_Network",
        " MOBILE_NETWORK\u00a0",  # blanks around it: tagged Webex Go as well
        "MOBILE_NETWORK",
        "Mobile Network",
        None,
    ]
    start = pa.array([datetime(2026, 9, 3, 9, 0)] * len(values), pa.timestamp("us", tz="UTC"))
    ids = [f"r{i}" for i in range(len(values))]
    rows = {"report_id": ids, "start_time": start, "sub_client_type": values}
    pq.write_table(pa.table(rows), folder / "p.parquet")
    con = connect(tmp_path / "tmp")
    suite = build_suites()["call_legs"]
    frame = next(iter(row_batches(con, suite, [folder / "p.parquet"], 10, None)))
    con.close()
    (spec,) = [e for e in suite.expectations if e.id == "call_legs.sub_client_type.in_set"]
    read = frame["sub_client_type"].tolist()
    assert [v in spec.value_set for v in read[:5]] == [True, True, True, True, False]
    assert read[4] == "Mobile Network" and frame["sub_client_type"].isna()[5]
