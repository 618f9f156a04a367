"""`cdr fetch --json`: what a script reads of a run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cdr_pipeline.fetch import fetch_records
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import FakeWebex, Fault


def test_a_failed_run_names_what_to_try_in_its_json(tmp_path: Path, clock: FakeClock) -> None:
    """A script reading `--json` got the error and not its hint (`rerun later ... check
    status.webex.com`), which the terminal showed and the JSON error of every other
    command carries."""
    with FakeWebex(TOKEN) as server:
        server.faults.append(Fault("/v1/cdr_feed", 503, b'{"message": "down"}', times=10))
        result = fetch_records(
            settings_for(tmp_path), "feed", NOW - timedelta(hours=20), NOW - timedelta(hours=18),
            client=make_client(server.url, clock, retries=0), now=NOW,
        )  # fmt: skip
    document = result.to_dict()
    assert result.exit_code == 1 and "HTTP 503" in document["error"]
    assert document["hint"] and "status.webex.com" in document["hint"]
    assert document["hint"] == (result.error.hint if result.error else None)
