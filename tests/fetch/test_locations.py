"""Watermarks of runs restricted to some locations (`--locations`, `[fetch] locations`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdr_pipeline.fetch import FetchResult, fetch_records
from cdr_pipeline.fetch.windows import api_time
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import FakeWebex, make_records


def test_a_run_for_some_locations_does_not_move_the_watermark_of_all(
    tmp_path: Path, clock: FakeClock
) -> None:
    """An operator checked one site (`cdr fetch --locations Paris --since ...`): the run
    moved the org's watermark, and the next scheduled `cdr fetch` started from it, so the
    records of every other location in that range were never fetched. A run restricted to
    some locations keeps a watermark of its own."""
    records = make_records(40, NOW - timedelta(hours=20), timedelta(minutes=15))
    settings = settings_for(tmp_path, lookback_hours=24, overlap_hours=2)
    with FakeWebex(TOKEN, records) as server:

        def run(**kw: object) -> FetchResult:
            client = make_client(server.url, clock)
            return fetch_records(settings, "feed", client=client, **kw)  # type: ignore[arg-type]

        paris = run(since=NOW - timedelta(hours=22), locations=["Paris"], now=NOW)
        assert paris.watermark_after is not None
        assert all(r.query.get("locations") == "Paris" for r in server.log if "cdr_" in r.path)
        server.log.clear()
        later = NOW + timedelta(hours=1)
        everyone = run(now=later)
        asked = server.windows("cdr_feed")
        # no watermark of its own yet: a first run (the last lookback_hours), not Paris's
        assert everyone.watermark_before is None
        assert asked[0][0] == api_time(later - timedelta(hours=24))
        assert all("locations" not in r.query for r in server.log if "cdr_" in r.path)
        server.log.clear()
        again = run(locations=["Paris"], now=later)
        # Paris goes on from its own watermark
        assert again.watermark_before == paris.watermark_after
        server.log.clear()
        berlin = run(locations=["Berlin", "Lyon"], now=later)
        # a set of locations without a watermark starts from the org's: it covers them all
        assert berlin.watermark_before == everyone.watermark_after


def test_a_run_for_some_locations_covers_no_day_of_the_org(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Call coverage counted the window of every saved page: a run for one site (here one
    with no call in those days) made 20-22 October covered days, so every other location's
    devices read idle in them, with no call of theirs ever fetched. Its pages are kept under
    its own watermark key now and cover nothing; the run over all locations still does."""
    day = datetime(2026, 10, 20, tzinfo=UTC)
    records = make_records(144, day + timedelta(minutes=30), timedelta(minutes=30))
    settings = settings_for(tmp_path, late_hours=0)  # days covered to the windows' end
    with FakeWebex(TOKEN, records) as server:
        serve, every = server.cdrs, server.records

        def by_location(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            names = query["locations"].split(",") if "locations" in query else None
            server.records = [r for r in every if names is None or r["Location"] in names]
            return serve(path, query)

        server.cdrs = by_location  # type: ignore[method-assign]

        def run(**kw: object) -> list[str]:
            client = make_client(server.url, clock)
            until = day + timedelta(days=3) - timedelta(milliseconds=1)
            result = fetch_records(settings, "feed", day, until, client=client, now=NOW, **kw)  # type: ignore[arg-type]
            assert result.exit_code == 0, result.error
            con = connect_snapshots(settings, table_snapshots(settings))
            try:
                rows = con.execute("select covered_day from int_call_coverage order by 1")
                return [f"{d:%m-%d}" for (d,) in rows.fetchall()]
            finally:
                con.close()

        assert run(locations=["Paris"]) == []
        saved = sorted(settings.layout.fetched.rglob("page-*.json.gz"))
        assert len(saved) == 6 and all(".locations-" in p.parent.parent.name for p in saved)
        assert run() == ["10-20", "10-21", "10-22"]
