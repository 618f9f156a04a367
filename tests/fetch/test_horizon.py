"""A watermark older than what the API still serves: the run clamps its start to the API's
horizon, and the watermark must go on from there instead of staying behind forever."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cdr_pipeline.fetch import FetchResult, fetch_records
from cdr_pipeline.fetch.windows import FEED
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for, warehouse_ids
from tests.fetch.fakewebex import FakeWebex, Fault, iso, make_records


def _inserted(records: list[dict[str, object]]) -> dict[str, datetime]:
    return {
        str(r["Report ID"]): datetime.fromisoformat(str(r["Report time"]).replace("Z", "+00:00"))
        for r in records
    }


def _stream_runs(
    tmp_path: Path,
    clock: FakeClock,
    n: int,
    hours: tuple[int, int, int],
    later: datetime,
    *more: datetime,
) -> list[FetchResult]:
    """Stream runs over `n` records every 20 min from NOW - `hours[1]` h and `n` from
    `later` - `hours[2]` h: the first at NOW from NOW - `hours[0]` h, then from the
    watermark at `later` and at each of `more`."""
    start, early_h, late_h = hours
    early = make_records(n, NOW - timedelta(hours=early_h), timedelta(minutes=20), seed="a")
    late = make_records(n, later - timedelta(hours=late_h), timedelta(minutes=20), seed="b")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, early + late, inserted=_inserted(early + late)) as server:
        client = make_client(server.url, clock)
        first = fetch_records(
            settings, "stream", NOW - timedelta(hours=start), client=client, now=NOW
        )
        return [first] + [
            fetch_records(settings, "stream", client=make_client(server.url, clock), now=at)
            for at in (later, *more)
        ]


def test_stream_watermark_older_than_the_horizon_moves_on(tmp_path: Path, clock: FakeClock) -> None:
    # cron ran at NOW, then the machine was off for a day: the stream keeps only 12 h
    later = NOW + timedelta(hours=24)
    first, second, third = _stream_runs(
        tmp_path, clock, 6, (5, 4, 6), later, later + timedelta(hours=1)
    )
    assert first.watermark_after is not None
    assert second.exit_code == 0
    # the hours between the old watermark and the horizon are gone from the API: said once
    assert any("no longer served" in n for n in second.notes), second.notes
    assert second.watermark_after is not None and second.watermark_after > later - timedelta(
        hours=12
    )
    # the next run starts from the new watermark (minus the overlap), not the horizon again
    assert third.watermark_before == second.watermark_after
    assert third.windows[0].start > later - timedelta(hours=6)
    assert not any("no longer served" in n for n in third.notes)


def test_a_run_without_until_says_nothing_of_its_end(tmp_path: Path, clock: FakeClock) -> None:
    """No --until asks for all the API serves: the end is now minus the API's lag, without
    the "clamped" warning that every scheduled run used to log (cron mails each one)."""
    settings = settings_for(tmp_path)
    records = make_records(4, NOW - timedelta(hours=3), timedelta(minutes=20))
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=4), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
        ended = fetch_records(
            settings, "feed", NOW - timedelta(hours=4), NOW + timedelta(hours=1),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
    assert result.exit_code == 0 and result.notes == []
    assert result.windows[-1].end == NOW - FEED.min_lag
    # an --until later than that is still clamped, and says so
    assert ended.windows[-1].end == NOW - FEED.min_lag
    assert any("clamped" in n for n in ended.notes), ended.notes


def test_a_stream_range_older_than_its_horizon_says_where_older_records_are(
    tmp_path: Path, clock: FakeClock
) -> None:
    """`--source stream --since` a day ago: the note said the start was clamped to the
    stream's 12 h, and nothing of the feed, which still serves the rest of those records
    (the feed's note names the Control Hub report)."""
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN) as server:
        result = fetch_records(
            settings, "stream", NOW - timedelta(hours=24), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    (clamped,) = [n for n in result.notes if "clamped" in n]
    assert "cdr_stream horizon" in clamped and "--source feed" in clamped


def test_an_overlap_past_the_horizon_is_no_warning(tmp_path: Path, clock: FakeClock) -> None:
    """A stream run 11 h after the last: its watermark is within the 12 h the stream keeps,
    but the watermark minus overlap_hours (2 h) is not. The start was clamped with a warning
    that it was older than the horizon, to fetch older records from the feed, though no
    record was missed; `cdr nightly` logged it as one. The overlap stops at the horizon."""
    later = NOW + timedelta(hours=11)
    first, second = _stream_runs(tmp_path, clock, 4, (3, 2, 3), later)
    assert first.watermark_after is not None
    assert first.watermark_after > later - timedelta(hours=12)  # the watermark is served
    assert second.exit_code == 0 and second.records == 4
    assert second.windows[0].start == later - timedelta(hours=12, minutes=-1)
    assert second.warnings == [] and not any("clamped" in n for n in second.notes), second.notes


def test_a_start_at_the_horizon_is_clamped_again_after_a_wait(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A backfill from 31 days ago: its first window is clamped to the feed's 30 days when
    the run starts. A 429 asked to wait 2 minutes, after which that start was past the
    horizon, and the API refused the window (400, exit 1) until the next run. The start is
    clamped again when the request is sent."""
    settings = settings_for(tmp_path)
    edge = NOW - FEED.horizon
    # one record that the 2 minutes' wait takes past the horizon, two still served after it
    records = make_records(3, edge + timedelta(seconds=90), timedelta(minutes=30))
    t0 = clock.t
    with FakeWebex(TOKEN, records) as server:
        server.now = lambda: NOW + timedelta(seconds=clock.t - t0)
        server.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": "120"}))
        result = fetch_records(
            settings, "feed", NOW - timedelta(days=31), edge + timedelta(hours=3),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
        sent = server.windows("cdr_feed")
    assert result.exit_code == 0, result.error
    assert result.records == 2 and len(warehouse_ids(settings)) == 2
    # asked again from the horizon as it was then, a minute's margin included
    assert sent[-1][0] == iso(edge + timedelta(seconds=120, minutes=1))
    assert any("no longer served" in n for n in result.warnings), result.notes
    assert result.watermark_after == edge + timedelta(hours=3, milliseconds=1)


def test_an_overlap_clamped_again_after_a_wait_is_no_warning(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A stream run whose watermark is half an hour inside the 12 h horizon, and its overlap
    past it, waits 2 minutes on a 429: its start is clamped again, and nothing is missed
    (what is before the watermark was fetched by the last run): no warning to load it."""
    early = make_records(3, NOW - timedelta(hours=4), timedelta(minutes=20), seed="a")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, early, inserted=_inserted(early)) as server:
        first = fetch_records(settings, "stream", NOW - timedelta(hours=5),
                              client=make_client(server.url, clock), now=NOW)  # fmt: skip
        assert first.watermark_after is not None
        later = first.watermark_after + timedelta(hours=11, minutes=30)
        late = make_records(3, later - timedelta(hours=3), timedelta(minutes=20), seed="b")
        server.records, server.inserted = late, _inserted(late)
        t1 = clock.t
        server.now = lambda: later + timedelta(seconds=clock.t - t1)
        server.faults.append(Fault("/v1/cdr_stream", 429, headers={"Retry-After": "120"}))
        second = fetch_records(settings, "stream", client=make_client(server.url, clock),
                               now=later)  # fmt: skip
    assert second.exit_code == 0 and second.records == 3, second.error
    assert second.warnings == [], second.warnings
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in early + late)
