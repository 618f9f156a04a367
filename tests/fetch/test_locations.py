"""Watermarks of runs restricted to some locations (`--locations`, `[fetch] locations`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cdr_pipeline.fetch import FetchResult, fetch_records
from cdr_pipeline.fetch.windows import api_time
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
