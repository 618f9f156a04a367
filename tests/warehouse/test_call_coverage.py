"""int_call_coverage on hand-made ledger and leg rows: which days a call source covers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

SQL = Path(__file__).parents[2] / "sql" / "int_call_coverage.sql"
MACROS = SQL.with_name("_macros.sql")


def _covered(
    tz: str,
    files: list[tuple[str, str]],
    partitions: dict[str, list[str]] | None = None,
    cutoffs: tuple[str, ...] = (),
    skipped_copies: tuple[tuple[str, str], ...] = (),
    late_hours: float = 2.0,
) -> list[date]:
    """The covered days of `files` ((path, status), of the call legs), and of
    `skipped_copies` ((path, path of the file whose content it repeats)), which the ledger
    records as skipped without a table."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(MACROS.read_text())
    con.execute(
        f"create table cfg_settings as select '{tz}' as reporting_timezone, "
        f"{late_hours} as late_hours"
    )
    con.execute("create table stg_ledger_retention (table_name varchar, cutoff date)")
    for cutoff in cutoffs:
        con.execute("insert into stg_ledger_retention values ('call_legs', ?)", [cutoff])
    con.execute(
        "create table stg_ledger_files (path varchar, table_name varchar, status varchar, "
        "partitions varchar[], content_sha256 varchar)"
    )
    for path, status in files:
        con.execute(
            "insert into stg_ledger_files values (?, 'call_legs', ?, ?, ?)",
            [path, status, (partitions or {}).get(path, []), f"sha-{path}"],
        )
    for path, original in skipped_copies:
        con.execute(
            "insert into stg_ledger_files values (?, null, 'skipped', [], ?)",
            [path, f"sha-{original}"],
        )
    return [r[0] for r in con.execute(SQL.read_text() + " order by 1").fetchall()]


def _days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def test_declared_range_covers_its_days_even_without_rows() -> None:
    # every row a duplicate of an earlier load: the ledger still knows the file and its range
    got = _covered("UTC", [("exports/dch_2026-09-01_2026-10-01.csv", "loaded")])
    assert got == _days("2026-09-01", "2026-09-30")


def test_a_declared_end_written_inclusive_reaches_the_calls_of_that_day() -> None:
    """`dch_2026-09-01_2026-09-30.csv`, as a person names September's export, holding calls
    of every day to the 30th: read end exclusive, it covered 09-01..09-29 (29 of 30 days),
    September's coverage was partial with the 30th's calls loaded, its idle figures unknown
    and its close refused. A call dated on or after the declared end cannot be in an export
    whose end is exclusive: the file covers up to its last call's day, 09-30."""
    name = "exports/dch_2026-09-01_2026-09-30.csv"
    calls = {name: [f"2026-09-{d:02d}" for d in range(1, 31)]}
    assert _covered("UTC", [(name, "loaded")], calls) == _days("2026-09-01", "2026-09-30")
    # an end read right (exclusive) is kept: its calls end before it
    exclusive = "exports/dch_2026-09-01_2026-10-01.csv"
    calls = {exclusive: ["2026-09-01", "2026-09-30"]}
    assert _covered("UTC", [(exclusive, "loaded")], calls) == _days("2026-09-01", "2026-09-30")
    # and a file without calls of its last declared day still covers the declared days only
    calls = {name: ["2026-09-01", "2026-09-29"]}
    assert _covered("UTC", [(name, "loaded")], calls) == _days("2026-09-01", "2026-09-29")


def test_a_header_only_export_skipped_as_a_copy_covers_its_own_day() -> None:
    """Daily exports of September, the weekends without a call: each weekend day's export is
    the header alone, the same bytes every such day, so the ingest loads the first (empty)
    and skips the others as copies, recording no table for them. Only the first weekend day
    was covered: 23 of 30 days, September partial, its idle figures unknown. A copy of a
    call-leg file without rows covers its own declared day: all 30. A copy of a file with
    calls (September's export copied under October's name) or of a failed file covers
    nothing."""
    files = [
        ("d/dch_2026-09-05_2026-09-06.csv", "empty"),
        ("d/x_2026-09-30_2026-10-01.csv", "failed"),
    ]
    weekdays = [f"d/dch_{d}_{d + timedelta(days=1)}.csv" for d in _days("2026-09-01", "2026-09-30")]
    files += [(n, "loaded") for n in weekdays if date.fromisoformat(n[6:16]).weekday() < 5]
    copies = tuple(
        (n, "d/dch_2026-09-05_2026-09-06.csv")
        for n in weekdays
        if date.fromisoformat(n[6:16]).weekday() >= 5 and n[6:16] != "2026-09-05"
    )
    assert len(copies) == 7
    assert _covered("UTC", files, skipped_copies=copies) == _days("2026-09-01", "2026-09-30")
    failed_copy = (("d/y_2026-10-01_2026-10-02.csv", "d/x_2026-09-30_2026-10-01.csv"),)
    misnamed = (("d/dch_2026-10-02_2026-10-03.csv", "d/dch_2026-09-01_2026-09-02.csv"),)
    got = _covered("UTC", files, skipped_copies=copies + failed_copy + misnamed)
    assert got == _days("2026-09-01", "2026-09-30")


def test_a_declared_range_survives_a_copys_mark_in_the_name() -> None:
    """September's export downloaded a second time is saved by the browser as
    `dch_2026-09-01_2026-10-01 (1).csv` (Windows Explorer's copy: `... - Copy.csv`): the
    name no longer ended in its dates, so it declared nothing and covered its calls' days,
    09-02..09-29 (no call on the 1st nor on the 30th): 28 of 30 days, September
    partial and its idle figures unknown. The mark keeps the declared range: 30 days."""
    for name in ("dch_2026-09-01_2026-10-01 (1).csv", "dch_2026-09-01_2026-10-01 - Copy.csv"):
        calls = {name: ["2026-09-02", "2026-09-29"]}
        got = _covered("UTC", [(name, "loaded")], calls)
        assert got == _days("2026-09-01", "2026-09-30"), name


def test_a_failed_file_covers_nothing_and_a_plain_file_its_first_to_last_day() -> None:
    files = [("x/broken_2026-08-01_2026-09-01.csv", "failed"), ("x/today.csv", "loaded")]
    got = _covered("UTC", files, {"x/today.csv": ["2026-10-05", "2026-10-03"]})
    assert got == _days("2026-10-03", "2026-10-05")
    # the call dates are UTC days, 10-03 00:00Z .. 10-06 00:00Z = 10-02 20:00 .. 10-05 20:00
    # in New York: the whole New York days inside are 10-03 and 10-04
    ny = _covered("America/New_York", files, {"x/today.csv": ["2026-10-05", "2026-10-03"]})
    assert ny == _days("2026-10-03", "2026-10-04")


def test_fetch_windows_cover_only_whole_days() -> None:
    # two windows (end inclusive, to the millisecond) that join: 10-01 00:00 .. 10-03 11:59:59.999
    pages = [
        "state/fetched/feed/org/20261001T000000000Z_20261002T235959999Z/page-001.json.gz",
        "state/fetched/feed/org/20261003T000000000Z_20261003T115959999Z/page-001.json.gz",
    ]
    got = _covered("UTC", [(p, "loaded") for p in pages])
    assert got == _days("2026-10-01", "2026-10-02")  # 10-03 is only half covered


def test_days_are_those_of_the_reporting_time_zone() -> None:
    # a UTC window of 10-01 04:00 .. 10-03 03:59:59.999 is exactly 10-01 and 10-02 in New York
    # (calls taken as all in at the window's end: late_hours 0)
    page = "state/fetched/feed/org/20261001T040000000Z_20261003T035959999Z/page-001.json.gz"
    ny = _covered("America/New_York", [(page, "loaded")], late_hours=0)
    assert ny == _days("2026-10-01", "2026-10-02")
    assert _covered("UTC", [(page, "loaded")], late_hours=0) == _days("2026-10-02", "2026-10-02")


def test_a_fetched_day_is_covered_once_its_late_calls_are_in() -> None:
    """The API files a call by when it finished (the feed's Report time) or reached the
    cloud (the stream's insertion time), not by its start: windows fetched to midnight
    covered the day before, though a call started at 23:50 that ended at 00:10 was still to
    come, and its phone read idle. Joined windows now cover calls started up to `late_hours`
    (2 h by default) before their last end; a declared export is by start already."""
    stream = "state/fetched/stream/org"
    to_midnight = f"{stream}/20261001T000000000Z_20261002T235959999Z/page-001.json.gz"
    assert _covered("UTC", [(to_midnight, "loaded")]) == _days("2026-10-01", "2026-10-01")
    later = f"{stream}/20261003T000000000Z_20261003T015959999Z/page-001.json.gz"
    pages = [(to_midnight, "loaded"), (later, "loaded")]
    assert _covered("UTC", pages) == _days("2026-10-01", "2026-10-02")
    assert _covered("UTC", pages, late_hours=3) == _days("2026-10-01", "2026-10-01")
    export = ("exports/dch_2026-10-01_2026-10-03.csv", "loaded")
    assert _covered("UTC", [export]) == _days("2026-10-01", "2026-10-02")


def test_a_name_with_impossible_dates_covers_its_call_dates() -> None:
    # February 30th in a file name (a typo): no declared range, and no cast error that would
    # break every view reading coverage for as long as the ledger holds the file
    files = [("x/dch_2026-02-30_2026-03-01.csv", "loaded")]
    got = _covered("UTC", files, {"x/dch_2026-02-30_2026-03-01.csv": ["2026-02-27"]})
    assert got == _days("2026-02-27", "2026-02-27")


def test_days_before_the_latest_retention_cutoff_are_not_covered() -> None:
    files = [("exports/dch_2026-09-01_2026-10-01.csv", "loaded")]
    # legs of UTC days before 09-24 dropped (an earlier, older cutoff changes nothing)
    got = _covered("UTC", files, cutoffs=("2026-09-10", "2026-09-24"))
    assert got == _days("2026-09-24", "2026-09-30")
    # in New York 09-23 ends at 09-24 04:00 UTC: its first hours' legs are gone with 09-23
    # (and 09-30 ends at 10-01 04:00 UTC, after the export's last UTC day)
    ny = _covered("America/New_York", files, cutoffs=("2026-09-24",))
    assert ny == _days("2026-09-24", "2026-09-29")
    assert _covered("UTC", files) == _days("2026-09-01", "2026-09-30")


def test_a_declared_range_is_of_utc_days_as_the_report_is() -> None:
    """Control Hub's report is in UTC and cannot be rendered in another zone (docs/webex-dch.md),
    so its days are UTC days: an export of 09-01..10-01 holds calls up to 10-01T00:00Z, 20:00
    of 09-30 in New York. The last four hours of that day are in the next export, so 09-30 is
    not covered (read as New York days, the range claimed all of September, and a phone
    whose only call came that evening was idle in a month that closed as complete)."""
    files = [("exports/dch_2026-09-01_2026-10-01.csv", "loaded")]
    assert _covered("America/New_York", files) == _days("2026-09-01", "2026-09-29")
    # east of UTC the first hours are missing: 09-01 in Auckland began at 08-31T12:00Z
    assert _covered("Pacific/Auckland", files) == _days("2026-09-02", "2026-09-30")
    # with the next export loaded, New York's September is whole
    files.append(("exports/dch_2026-10-01_2026-11-01.csv", "loaded"))
    assert _covered("America/New_York", files)[:30] == _days("2026-09-01", "2026-09-30")


def test_a_day_ends_where_the_clocks_first_show_the_next_midnight() -> None:
    # Atlantic/Azores goes back from 01:00 (UTC+0) to 00:00 (UTC-1) on 2026-10-25, so the
    # clocks show 00:00 of the 25th at 00:00Z and again at 01:00Z. The 24th ends at 00:00Z
    # (a call at 00:30Z is dated the 25th), inside an export declared to 10-25 (UTC); DuckDB's
    # timezone() took the second midnight (01:00Z) and left the 24th uncovered, Spark's the
    # first (the two engines' views differed)
    got = _covered("Atlantic/Azores", [("e/dch_2026-10-20_2026-10-25.csv", "loaded")])
    assert got == _days("2026-10-20", "2026-10-24")
