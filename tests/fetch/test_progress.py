"""Progress of a fetch: a backfill at the API's rate limit takes about a minute a window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.ingest import ProgressEvent
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import FakeWebex, make_records


def test_each_window_done_is_reported_as_progress(tmp_path: Path, clock: FakeClock) -> None:
    """`cdr fetch --since` thirty days back said nothing for an hour (the API allows one
    window a minute), and an operator took it for hung; each window done is an event for the
    progress line now: the records so far and the windows done of all."""
    records = make_records(40, NOW - timedelta(hours=30), timedelta(minutes=30))
    events: list[ProgressEvent] = []
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings_for(tmp_path), "feed", NOW - timedelta(hours=31), NOW - timedelta(hours=2),
            client=make_client(server.url, clock), now=NOW, progress=events.append,
        )  # fmt: skip
    assert result.exit_code == 0 and len(result.windows) == 3
    assert [(e.bytes_read, e.total_bytes, e.done) for e in events] == [
        (1, 3, False), (2, 3, False), (3, 3, True),
    ]  # fmt: skip
    assert events[-1].rows_read == result.records == sum(w.records for w in result.windows)
    assert {e.source for e in events} == {"cdr_feed, 3 window(s)"}
