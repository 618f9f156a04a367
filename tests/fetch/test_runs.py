"""What `cdr runs` shows of a `cdr fetch` that could not load anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.interrupts import Terminated
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import FakeWebex, Fault, iso, make_records

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize("token", ["expired-" + TOKEN[8:], None], ids=["expired", "missing"])
def test_a_fetch_refused_its_token_is_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    """The night the token expired (HTTP 401 from the first request), or cron lost
    WEBEX_TOKEN, shows in `cdr runs` as a failed fetch (exit 3) with the reason, as an
    unreachable API does; it left no row, so it read as a night no fetch ran."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    wh = tmp_path / "wh"
    env = {"WEBEX_TOKEN": token} if token else {}
    with FakeWebex(TOKEN) as server:
        run = CliRunner().invoke(
            cli, ["--warehouse", str(wh), "fetch", "--base-url", server.url], env=env
        )
    assert run.exit_code == 3, run.output
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"])
    assert [r["exit_code"] for r in json.loads(runs.output)] == [3]
    (row,) = Ledger(Layout(wh)).runs().to_dicts()
    assert (row["command"], row["status"], row["exit_code"]) == ("cdr fetch", "failed", 3)
    assert ("HTTP 401" if token else "token") in row["message"]
    assert row["rows_loaded"] == 0
    assert TOKEN[8:] not in runs.output + run.output + row["message"]


def test_a_fetch_that_fails_after_loading_shows_its_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token expires after the first page loaded: `cdr fetch` exits 3, and `cdr runs`
    must say so with the reason. The run was recorded only by its ingest (ok, exit 0), so the
    night the token expired mid-run read as a good night."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    wh = tmp_path / "wh"
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(20, now - timedelta(hours=20), timedelta(minutes=30))
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 401, b'{"message": "expired"}', after=1))
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(wh), "fetch", "--base-url", server.url,
             "--since", iso(now - timedelta(hours=21)), "--until", iso(now - timedelta(hours=10))],
            env={"WEBEX_TOKEN": TOKEN, "CDR_FETCH_PAGE_SIZE": "5"},
        )  # fmt: skip
    assert run.exit_code == 3, run.output
    rows = Ledger(Layout(wh)).runs().sort("started_at").to_dicts()
    assert rows and rows[0]["rows_loaded"] > 0
    last = rows[-1]
    assert (last["command"], last["status"], last["exit_code"]) == ("cdr fetch", "failed", 3)
    assert "HTTP 401" in last["message"] and TOKEN not in last["message"]
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"])
    assert max(r["exit_code"] for r in json.loads(runs.output)) == 3


def test_a_fetched_page_that_fails_to_load_names_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: every error ends with the warehouse used and where it came from; a fetched
    page whose records failed the reject gate printed its error without that line."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    wh = tmp_path / "wh"
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(20, now - timedelta(hours=20), timedelta(minutes=30))
    for record in records:
        record["Start time"] = "not a time"
    with FakeWebex(TOKEN, records) as server:
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(wh), "fetch", "--base-url", server.url,
             "--since", iso(now - timedelta(hours=21)), "--until", iso(now - timedelta(hours=10))],
            env={"WEBEX_TOKEN": TOKEN},
        )  # fmt: skip
    assert run.exit_code == 3, run.output
    assert "error: " in run.stderr and "rows rejected" in run.stderr
    assert run.stderr.count(f"warehouse: {wh} (from --warehouse)") == 1


def test_a_page_past_the_reject_rate_loads_on_a_rerun_with_a_higher_one(tmp_path: Path) -> None:
    """The error of a page past the reject gate says to raise --max-reject-rate, which
    `cdr fetch` had not: `No such option`. The rerun with it loads the saved page."""
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(20, now - timedelta(hours=20), timedelta(minutes=30))
    for record in records[:2]:
        record["Start time"] = "not a time"
    with FakeWebex(TOKEN, records) as server:
        since, until = iso(now - timedelta(hours=21)), iso(now - timedelta(hours=10))
        args = ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", server.url,
                "--since", since, "--until", until]  # fmt: skip
        failed = CliRunner().invoke(cli, args, env={"WEBEX_TOKEN": TOKEN})
        again = CliRunner().invoke(cli, [*args, "--max-reject-rate", "0.2", "--json"],
                                   env={"WEBEX_TOKEN": TOKEN})  # fmt: skip
    assert failed.exit_code == 3 and "raise --max-reject-rate" in failed.stderr
    assert again.exit_code == 0, again.output
    result = json.loads(again.stdout)
    assert (result["rows_loaded"], result["rows_rejected"]) == (18, 2)


def test_a_fetch_says_what_its_pages_brought_as_cdr_ingest_does(tmp_path: Path) -> None:
    """`cdr fetch` printed none of its pages' notes: not the new columns kept in `extra`,
    nor, after `cdr forget`, that a page fetched again brought back records the erasure
    reached, so the DPO had no word that `state/fetched/` holds the person's data again.
    Its `--json` carries them too (`page_notes`), for a script."""
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(20, now - timedelta(hours=20), timedelta(minutes=30))
    for record in records:
        record["Brand new field"] = "x"
    wh = str(tmp_path / "wh")
    with FakeWebex(TOKEN, records) as server:
        since, until = iso(now - timedelta(hours=21)), iso(now - timedelta(hours=10))
        args = ["--warehouse", wh, "fetch", "--base-url", server.url, "--since", since,
                "--until", until]  # fmt: skip
        first = CliRunner().invoke(cli, args, env={"WEBEX_TOKEN": TOKEN})
        forget = ["--warehouse", wh, "forget", "--user", records[0]["User UUID"]]
        assert CliRunner().invoke(cli, forget).exit_code == 0
        # the window again, with a record that arrived late: other bytes, so it loads
        server.records.append(make_records(1, now - timedelta(hours=11), MINUTE, "late")[0])
        again = CliRunner().invoke(cli, [*args, "--json"], env={"WEBEX_TOKEN": TOKEN})
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert "page-001.json.gz: new columns kept in 'extra': Brand new field" in first.stderr
    assert "reached came again and stay erased" not in first.stderr
    erased = "page-001.json.gz: 2 row(s) of records an erasure (cdr forget) reached came "
    assert any(erased in note for note in json.loads(again.stdout)["page_notes"])


class StoppedClock(FakeClock):
    """SIGTERM (a scheduler's time limit) lands in the first wait of at least `at` seconds."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at

    def sleep(self, seconds: float) -> None:
        if seconds >= self.at:
            raise Terminated
        super().sleep(seconds)


@pytest.mark.parametrize("loaded", [True, False], ids=["between-windows", "first-page"])
def test_a_fetch_stopped_by_sigterm_shows_as_interrupted(tmp_path: Path, loaded: bool) -> None:
    """cron's `timeout` stops a fetch while it waits (the rate limit before its second
    window, or a 429 on its first page): `cdr runs` showed the first window's ingest as a
    whole good run, or no run at all. The last ingest's row, or a row of its own, says the
    run was interrupted (exit 130); the stop still ends the run."""
    records = make_records(40, NOW - timedelta(hours=30), timedelta(minutes=30))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        if not loaded:
            server.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": "120"}))
        clock = StoppedClock(at=30.0)  # the limiter waits a minute between windows
        with pytest.raises(Terminated):
            fetch_records(
                settings, "feed", NOW - timedelta(hours=31), NOW - timedelta(hours=10),
                client=make_client(server.url, clock), now=NOW,
            )  # fmt: skip
    rows = Ledger(settings.layout).runs().sort("started_at").to_dicts()
    assert [r["command"] for r in rows] == ["cdr fetch"]
    (row,) = rows
    assert (row["status"], row["exit_code"]) == ("interrupted", 130)
    assert "stopped (Ctrl-C, SIGTERM or SIGHUP)" in row["message"]
    assert (row["rows_loaded"] or 0) > 0 if loaded else not row["rows_loaded"]
