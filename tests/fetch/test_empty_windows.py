"""A window the API answers without a record (HTTP 404 'No CDRs') is call data all the same:
nothing was called then. Call coverage (`int_call_coverage`, which reads the ingest ledger)
must count its hours, or a quiet night leaves its day uncovered and the month's idle figures
unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import FakeWebex, make_records, parse

DAY = datetime(2026, 10, 20, tzinfo=UTC)


def test_a_window_without_records_covers_its_hours(tmp_path: Path, clock: FakeClock) -> None:
    # a record every 30 min over 20-22 October, none in the nights of the 21st and the 22nd
    # (00:00-12:00); fetched as six windows of 12 h, the third and the fifth answered
    # 'No CDRs'
    nights = [(DAY + timedelta(days=d), DAY + timedelta(days=d, hours=12)) for d in (1, 2)]
    records = [
        r
        for r in make_records(144, DAY + timedelta(minutes=30), timedelta(minutes=30))
        if not any(a <= parse(r["Report time"]) < b for a, b in nights)
    ]
    # calls taken as all in at a window's end (late_hours 0): the point is the empty windows
    settings = settings_for(tmp_path, late_hours=0)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings,
            "feed",
            DAY,
            DAY + timedelta(days=3) - timedelta(milliseconds=1),
            client=make_client(server.url, clock),
            now=NOW,
        )
    assert result.exit_code == 0 and result.error is None
    assert [w.records == 0 for w in result.windows] == [False, False, True, False, True, False]
    # the empty window is accounted for: the watermark passes it to the end of the range
    assert result.watermark_after == DAY + timedelta(days=3)
    con = connect_snapshots(settings, table_snapshots(settings))
    try:
        rows = con.execute("select covered_day from int_call_coverage order by 1").fetchall()
    finally:
        con.close()
    # 20, 21 and 22 October are each wholly inside the fetched windows (before: the 21st
    # and the 22nd, half of each answered without a record, were no call data; and the
    # second empty window's page must not pass for the first one's, loaded already)
    assert [f"{d:%m-%d}" for (d,) in rows] == ["10-20", "10-21", "10-22"]
