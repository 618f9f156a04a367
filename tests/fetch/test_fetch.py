"""End to end: fetch_records against a real local HTTP server into a real warehouse."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import EXIT_LOCKED, ConfigError
from cdr_pipeline.fetch import fetch_records
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import writer_lock
from tests.fetch.conftest import (
    NOW,
    TOKEN,
    FakeClock,
    fetch_window,
    make_client,
    settings_for,
    warehouse,
    warehouse_ids,
)
from tests.fetch.fakewebex import ORG_UUID, FakeWebex, Fault, make_records, parse, report_zip

ISO = "%Y-%m-%dT%H:%M:%S.000Z"


def test_feed_pages_are_saved_then_ingested(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(70, NOW - timedelta(hours=30), timedelta(minutes=15))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        since = (NOW - timedelta(hours=31)).strftime(ISO)
        until = (NOW - timedelta(hours=10)).strftime(ISO)
        result = fetch_records(
            settings, "feed", since, until, client=make_client(server.url, clock), now=NOW
        )
        wanted = {r["Report ID"] for r in records if r["Report time"] <= until}
    assert result.exit_code == 0 and result.error is None
    # 21 h in windows of at most 12 h, inclusive ends that never overlap
    assert [(w.start, w.end) for w in result.windows] == [
        (NOW - timedelta(hours=31), NOW - timedelta(hours=19, milliseconds=1)),
        (NOW - timedelta(hours=19), NOW - timedelta(hours=10)),
    ]
    assert len(result.pages) >= 3 and result.records == len(wanted)
    ids = warehouse_ids(settings)
    assert sorted(ids) == sorted(wanted)
    # saved pages: gzip of the raw {"items": [...]} body, under state/fetched/feed/<org>/<window>
    org_dir = settings.layout.fetched / "feed" / "11111111-2222-3333-4444-555555555555"
    saved = sorted(org_dir.rglob("page-*.json.gz"))
    assert saved == sorted(result.pages)
    items = [i for p in saved for i in json.loads(gzip.decompress(p.read_bytes()))["items"]]
    assert {i["Report ID"] for i in items} == wanted
    assert set(warehouse(settings)["source_kind"].to_list()) == {"api_feed"}
    # older than the late-data horizon: the watermark is the end of the last window + 1 ms
    assert result.watermark_before is None
    assert result.watermark_after == NOW - timedelta(hours=10) + timedelta(milliseconds=1)
    # the second window waited for the rate limit (1 initial request per minute)
    assert sum(clock.sleeps) >= 60.0 - 1e-6


@pytest.mark.parametrize("source", ["feed", "stream"])
def test_a_range_of_whole_windows_asks_no_window_of_one_instant(
    tmp_path: Path, clock: FakeClock, source: str
) -> None:
    """`--since 06:00 --until 18:00` is 12 h, one window of the feed (2 h: the stream's):
    it was planned as 06:00..17:59:59.999 and a window of 18:00 alone (startTime equal to
    endTime), which the API refuses (exit 1) after the rate limit's minute. A record at
    18:00 is still read."""
    span = timedelta(hours=12 if source == "feed" else 2)
    since, until = NOW - timedelta(hours=9) - span, NOW - timedelta(hours=9)
    records = make_records(5, since, span / 4)  # the last at `until` itself
    inserted = {r["Report ID"]: parse(r["Report time"]) for r in records}
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records, inserted=inserted) as server:
        result = fetch_records(
            settings, source, since, until, client=make_client(server.url, clock), now=NOW
        )
        asked = server.windows(f"cdr_{source}")
    assert result.exit_code == 0, result.error
    assert [(w.start, w.end) for w in result.windows] == [(since, until)] and len(asked) == 1
    assert sorted(warehouse_ids(settings)) == sorted(inserted) and clock.sleeps == []


def test_saved_page_loads_with_plain_cdr_ingest(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings,
            "feed",
            NOW - timedelta(hours=21),
            NOW - timedelta(hours=12),
            client=make_client(server.url, clock),
            now=NOW,
        )
    page = result.pages[0]
    n_items = len(json.loads(gzip.decompress(page.read_bytes()))["items"])
    other = tmp_path / "other"
    run = CliRunner().invoke(cli, ["--warehouse", str(other), "ingest", "--json", str(page)])
    assert run.exit_code == 0, run.output
    files = json.loads(run.output)["files"]
    assert files[0]["status"] == "loaded" and files[0]["rows_loaded"] == n_items


def test_late_data_horizon_holds_the_watermark(tmp_path: Path, clock: FakeClock) -> None:
    # records up to 3 h ago; the last window [now-2h, now-5min] is empty and still "late"
    records = make_records(40, NOW - timedelta(hours=13), timedelta(minutes=15))
    assert records[-1]["Report time"] < (NOW - timedelta(hours=3)).strftime(ISO)
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings,
            "feed",
            NOW - timedelta(hours=14),
            client=make_client(server.url, clock),
            now=NOW,
        )
        statuses = [r.status for r in server.log if r.path == "/v1/cdr_feed"]
    assert [w.empty for w in result.windows] == [False, True]
    assert result.windows[-1].end == NOW - timedelta(minutes=5)
    assert 404 in statuses and result.exit_code == 0
    # first window ends at now-2h-1ms (outside the horizon), the empty one does not count
    assert result.watermark_after == NOW - timedelta(hours=2)
    assert any("empty and within 2 h" in n for n in result.notes)
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in records)


@pytest.mark.parametrize("lookback", [1.0, 0.0])
def test_a_first_run_that_cannot_pass_its_window_holds_the_watermark_before_it(
    tmp_path: Path, lookback: float
) -> None:
    """A first run whose only window was empty and still late (a lookback within the late
    horizon), or that planned none (a lookback shorter than the API's 5 minutes of lag),
    wrote no watermark: the next run began again at now - lookback_hours, after the window,
    and the records that arrived late in it were never asked for."""
    settings = settings_for(tmp_path, lookback_hours=lookback)
    late = make_records(3, NOW - timedelta(minutes=40), timedelta(minutes=1), seed="late")
    with FakeWebex(TOKEN) as server:
        first = fetch_records(settings, "feed", client=make_client(server.url, FakeClock()),
                              now=NOW)  # fmt: skip
        server.records = late  # they reach the API after the first run
        later = NOW + timedelta(hours=3)
        again = fetch_records(settings, "feed", client=make_client(server.url, FakeClock()),
                              now=later)  # fmt: skip
    assert first.exit_code == 0 and first.records == 0
    assert first.watermark_after is not None and first.watermark_after <= NOW - timedelta(minutes=5)
    assert again.exit_code == 0
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in late)


def test_non_empty_late_window_advances_to_last_report_time(
    tmp_path: Path, clock: FakeClock
) -> None:
    records = make_records(20, NOW - timedelta(hours=3), timedelta(minutes=6))
    settings = settings_for(tmp_path)
    last = max(datetime.fromisoformat(r["Report time"].replace("Z", "+00:00")) for r in records)
    assert last > NOW - timedelta(hours=2)
    with FakeWebex(TOKEN, records) as server:
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=4), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
    assert result.watermark_after == last + timedelta(milliseconds=1)


def test_watermark_resume_rereads_only_the_overlap(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(60, NOW - timedelta(hours=13), timedelta(minutes=12))
    settings = settings_for(tmp_path, overlap_hours=2)
    with FakeWebex(TOKEN, records) as server:
        first = fetch_records(
            settings, "feed", NOW - timedelta(hours=14), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
        mark = first.watermark_after
        assert mark is not None
        server.log.clear()
        later = NOW + timedelta(hours=6)
        second = fetch_records(settings, "feed", client=make_client(server.url, clock), now=later)
        asked = server.windows("cdr_feed")
    assert second.watermark_before == mark
    expected_start = mark - timedelta(hours=2)
    assert asked[0][0] == expected_start.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{expected_start.microsecond // 1000:03d}Z"
    )
    # nothing earlier than the watermark minus the overlap was asked for
    assert min(s for s, _ in asked) == asked[0][0]
    assert second.watermark_after is not None and second.watermark_after >= mark
    ids = warehouse_ids(settings)
    assert len(ids) == len(set(ids)) == len(records)
    stored = Ledger(settings.layout).read("watermarks")
    assert stored.height == 1 and stored["source"][0] == "feed"


def test_crash_between_fetch_and_ingest_then_rerun(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(50, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    since, until = NOW - timedelta(hours=21), NOW - timedelta(hours=9)
    with FakeWebex(TOKEN, records) as server:
        # another writer holds the warehouse: every ingest of this run fails after the pages
        # were saved (as if the process had died between fetch and ingest)
        with writer_lock(settings.layout, "someone else"):
            crashed = fetch_records(
                settings, "feed", since, until, client=make_client(server.url, clock), now=NOW
            )
        assert crashed.exit_code == EXIT_LOCKED and crashed.pages
        assert warehouse_ids(settings) == []
        assert crashed.watermark_after == crashed.windows[0].start
        rerun = fetch_records(
            settings, "feed", since, until, client=make_client(server.url, clock), now=NOW
        )
        served = {
            r["Report ID"]
            for r in server.records
            if since.strftime(ISO) <= r["Report time"] <= until.strftime(ISO)
        }
    assert rerun.exit_code == 0
    assert sorted(rerun.replayed_pages) == sorted(crashed.pages)
    assert rerun.watermark_after == until + timedelta(milliseconds=1)
    ids = warehouse_ids(settings)
    assert len(ids) == len(set(ids))  # nothing doubled
    assert set(ids) == served  # nothing lost


def test_token_never_written_or_logged(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    records = make_records(25, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    caplog.set_level(logging.DEBUG, logger="cdr_pipeline")
    with FakeWebex(TOKEN, records) as server:
        # the server echoes the token in an error body (pages are data: saved as sent)
        echo = json.dumps({"message": f"upstream failed for access_token={TOKEN}"}).encode()
        server.faults.append(Fault("/v1/cdr_feed", 502, body=echo, times=1))
        ok = fetch_records(
            settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
        server.faults.append(Fault("/v1/cdr_feed", 500, body=echo, times=99))
        failed = fetch_records(
            settings, "feed", NOW - timedelta(hours=11), NOW - timedelta(hours=10),
            client=make_client(server.url, clock), now=NOW,
        )  # fmt: skip
        assert all(r.authorized for r in server.log if r.status != 500)
    assert ok.exit_code == 0 and ok.pages
    assert failed.error is not None and failed.exit_code == 1
    texts = [caplog.text, failed.error.message, failed.error.hint or "", repr(ok), repr(failed)]
    for path in settings.warehouse.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if path.suffix == ".parquet":
            data = repr(pq.read_table(path).to_pylist()).encode()
        texts.append(data.decode("utf-8", "replace"))
    assert len(texts) > 10
    joined = "\n".join(texts)
    assert TOKEN not in joined
    assert TOKEN[:20] not in joined
    assert "[REDACTED]" in joined  # the error message kept its text, without the token


def test_stream_uses_insertion_time_and_2h_windows(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(30, NOW - timedelta(hours=5), timedelta(minutes=8))
    # inserted 20 min after the report time; one record is very late (backfilled)
    inserted = {
        r["Report ID"]: datetime.fromisoformat(r["Report time"].replace("Z", "+00:00"))
        + timedelta(minutes=20)
        for r in records
    }
    late_id = records[0]["Report ID"]
    inserted[late_id] = NOW - timedelta(minutes=30)
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records, inserted=inserted) as server:
        result = fetch_records(
            settings, "stream", NOW - timedelta(hours=5), client=make_client(server.url, clock),
            now=NOW,
        )  # fmt: skip
        asked = server.windows("cdr_stream")
    assert len(asked) == 3  # 5 h minus 1 min in windows of at most 2 h
    for start, end in asked:
        span = datetime.fromisoformat(end[:-1]) - datetime.fromisoformat(start[:-1])
        assert span < timedelta(hours=2)
    assert asked[-1][1] == (NOW - timedelta(minutes=1)).strftime(ISO)
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in records)
    assert set(warehouse(settings)["source_kind"].to_list()) == {"api_stream"}
    assert result.watermark_after is not None


def test_report_download_zip_without_extension(tmp_path: Path, clock: FakeClock) -> None:
    records = make_records(40, NOW - timedelta(days=40), timedelta(hours=1), seed="rep")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN) as server:
        server.reports["R-42"] = report_zip(records)
        result = fetch_records(
            settings, report_id="R-42", client=make_client(server.url, clock), now=NOW
        )
        missing = fetch_records(settings, report_id="nope", client=make_client(server.url, clock))
    assert missing.error is not None and "not found" in missing.error.message
    assert missing.exit_code == 1
    assert result.exit_code == 0
    (saved,) = result.pages
    assert saved.suffix == "" and saved.read_bytes()[:4] == b"PK\x03\x04"
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in records)
    assert set(warehouse(settings)["source_kind"].to_list()) == {"report"}


def test_a_report_link_naming_its_file_with_blanks_and_accents_is_downloaded(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A downloadURL naming the report's file as it is (`Detailed Call History Zürich.zip`):
    http.client refused the blank as a 'control character', retried as a connection error
    and reported 'cannot reach' (exit 1), and crashed on the `ü` ('report it'). The link is
    sent percent-encoded in UTF-8, as browsers and curl send it."""
    records = make_records(5, NOW - timedelta(days=40), timedelta(hours=1), seed="rep")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN) as server:
        server.reports["R-42"] = report_zip(records)
        server.report_file = "Detailed Call History Zürich.zip"
        client = make_client(server.url, clock, retries=0)
        result = fetch_records(settings, report_id="R-42", client=client, now=NOW)
    assert result.error is None and result.exit_code == 0
    assert server.log[-1].path == "/download/R-42/Detailed%20Call%20History%20Z%C3%BCrich.zip"
    assert sorted(warehouse_ids(settings)) == sorted(r["Report ID"] for r in records)


def test_a_report_fetched_again_accounts_for_its_records(tmp_path: Path, clock: FakeClock) -> None:
    """The same report downloaded again (its content unchanged) is skipped by the ingest
    ledger: the run said '0 records; 0 rows loaded, 0 duplicate, 0 rejected' of a report of
    40, as pages fetched again did before they were counted 'in pages loaded before'."""
    records = make_records(40, NOW - timedelta(days=40), timedelta(hours=1), seed="rep")
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN) as server:
        server.reports["R-42"] = report_zip(records[:25])
        other = fetch_records(settings, report_id="R-42", client=make_client(server.url, clock))
        server.reports["R-42"] = report_zip(records)
        runs = [
            fetch_records(settings, report_id="R-42", client=make_client(server.url, clock))
            for _ in range(2)
        ]
    assert other.records == 25 and runs[0].records == 40 and runs[0].rows_loaded_before == 0
    again = runs[1]
    assert again.exit_code == 0 and again.total("rows_loaded") == 0
    assert again.records == again.rows_loaded_before == 40
    assert again.to_dict()["rows_loaded_before"] == 40


def test_config_is_validated(tmp_path: Path, no_token_env: None) -> None:
    # the [fetch] table is checked by load_settings (every command), not only by a fetch
    cfg = tmp_path / "cdr.toml"
    names = ", ".join(f'"L{i}"' for i in range(11))
    for text, message in [
        ("[fetch]\npage_sise = 10\n", "unknown key 'fetch.page_sise'"),
        (f"[fetch]\nlocations = [{names}]\n", "at most 10 names"),
        ('[fetch]\nregion = "mars"\n', "must be one of us, eu"),
    ]:
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=message) as info:
            load_settings(cfg, env={})
        assert str(cfg) in info.value.message
    with pytest.raises(ConfigError, match="no Webex API token"):
        fetch_records(settings_for(tmp_path))


def test_cli_fetch_with_base_url_and_token_file(tmp_path: Path, no_token_env: None) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(30, now - timedelta(hours=20), timedelta(minutes=10))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)  # a token others can read is refused
    config = tmp_path / "cdr.toml"
    config.write_text(
        f'warehouse = "wh"\n[fetch]\ntoken_file = "{token_file}"\npage_size = 20\n'
        'locations = ["Test Site"]\n'
    )
    since = (now - timedelta(hours=21)).strftime(ISO)
    until = (now - timedelta(hours=12)).strftime(ISO)
    with FakeWebex(TOKEN, records) as server:
        run = CliRunner().invoke(
            cli,
            ["--config", str(config), "fetch", "--base-url", server.url, "--since", since,
             "--until", until],
        )  # fmt: skip
        feed = [r for r in server.log if r.path == "/v1/cdr_feed"]
    assert run.exit_code == 0, run.output
    assert "fetch feed: 1 window(s)" in run.output and "watermark: none ->" in run.output
    assert feed[0].query["locations"] == "Test Site" and feed[0].query["max"] == "20"
    assert TOKEN not in run.output
    wanted = {r["Report ID"] for r in records if since <= r["Report time"] <= until}
    assert wanted and set(warehouse_ids(settings_for(tmp_path))) == wanted
    # saved pages (and all else written) are owner-only: call records are personal data
    pages = [p for p in (tmp_path / "wh" / "state" / "fetched").rglob("*") if p.is_file()]
    assert pages and all(p.stat().st_mode & 0o077 == 0 for p in pages)


def test_cli_fetch_reports_an_unreachable_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("WEBEX_TOKEN", TOKEN)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "cdr.toml"
    config.write_text('[fetch]\nretries = 0\norg_id = "org-1"\n')
    run = CliRunner().invoke(
        cli,
        ["--config", str(config), "--warehouse", str(tmp_path / "wh"), "fetch",
         "--base-url", f"http://127.0.0.1:{port}", "--since", "2020-01-01"],
    )  # fmt: skip
    assert run.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}/v1/cdr_feed" in run.output
    # said once: the library's log line (`ERROR cdr_pipeline.fetch.runner: cannot reach
    # ...`) repeated the command's `error:` with its hint; the result carries the error
    assert run.stderr.count("cannot reach") == 1, run.stderr
    assert "clamped" in run.output and "hint:" in run.output
    # and the clamp once: the library logged its notes as warnings too, each line twice
    assert run.stderr.count("older than the cdr_feed horizon") == 1, run.stderr
    # README: every error ends with the warehouse used and where it came from
    assert run.stderr.rstrip().endswith(f"warehouse: {tmp_path / 'wh'} (from --warehouse)")
    assert TOKEN not in run.output
    # a run of `cdr runs` all the same: it ended before it could ingest anything
    (row,) = Ledger(Layout(tmp_path / "wh")).runs().to_dicts()
    assert (row["command"], row["status"], row["exit_code"]) == ("cdr fetch", "failed", 1)
    assert "cannot reach" in row["message"] and row["rows_loaded"] == 0


def test_cli_fetch_of_nothing_is_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch whose window holds no records ingests nothing, and still shows in `cdr runs`
    (a cron job that ran and found nothing is not a job that never ran)."""
    monkeypatch.setenv("WEBEX_TOKEN", TOKEN)
    wh = tmp_path / "wh"
    now = datetime.now(UTC).replace(microsecond=0)
    since = (now - timedelta(hours=21)).strftime(ISO)
    until = (now - timedelta(hours=12)).strftime(ISO)
    with FakeWebex(TOKEN, []) as server:
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(wh), "fetch", "--base-url", server.url, "--since", since,
             "--until", until],
        )  # fmt: skip
    assert run.exit_code == 0, run.output
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"])
    (row,) = json.loads(runs.output)
    assert (row["command"], row["status"], row["exit_code"]) == ("cdr fetch", "ok", 0)
    # the window's answer without a record is kept as an empty page, which call coverage
    # counts (tests/fetch/test_empty_windows.py)
    assert (row["files_seen"], row["files_loaded"], row["rows_loaded"]) == (1, 1, 0)


# an org id of dots (a typo in [fetch] org_id) named the parent folder: its pages were saved
# beside the org folders, where the replay at the start of a run never looks
@pytest.mark.parametrize("org", ["org-1", "..", "."])
def test_saved_pages_are_replayed_even_when_the_api_is_gone(
    tmp_path: Path, clock: FakeClock, org: str
) -> None:
    import socket

    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path, org_id=org)
    since, until = NOW - timedelta(hours=21), NOW - timedelta(hours=12)
    with FakeWebex(TOKEN, records) as server:
        with writer_lock(settings.layout, "someone else"):
            crashed = fetch_records(
                settings, "feed", since, until, client=make_client(server.url, clock), now=NOW
            )
        served = {r["Report ID"] for r in records if r["Report time"] <= until.strftime(ISO)}
    assert crashed.exit_code == EXIT_LOCKED and warehouse_ids(settings) == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    rerun = fetch_records(
        settings, "feed", since, until, client=make_client(dead, clock, retries=1), now=NOW
    )
    assert rerun.error is not None and rerun.exit_code == 1
    assert sorted(rerun.replayed_pages) == sorted(crashed.pages)
    ids = warehouse_ids(settings)
    assert len(ids) == len(set(ids)) and set(ids) == served


@pytest.mark.parametrize("org_uuid", ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", ORG_UUID])
def test_an_org_id_of_another_org_than_the_records_says_so(
    tmp_path: Path, clock: FakeClock, org_uuid: str
) -> None:
    """docs/fetch.md said to set `[fetch] org_id` to fetch a customer's org as a partner.
    The CDR API takes no org parameter: it serves the token's own org, whose records were
    then filed, silently, under the customer's org (its pages and watermark)."""
    org_id = base64.b64encode(f"ciscospark://us/ORGANIZATION/{org_uuid}".encode()).decode()
    settings = settings_for(tmp_path, org_id=org_id.rstrip("="))
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=20), timedelta(hours=1))) as s:
        result = fetch_window(settings, s.url, clock)
    assert result.exit_code == 0 and result.records == 3
    said = [w for w in result.warnings if "[fetch] org_id" in w]
    if org_uuid == ORG_UUID:  # the records' own org: nothing to say
        assert said == []
    else:
        (warning,) = said
        assert ORG_UUID in warning and org_uuid in warning and "token's own org" in warning


def test_a_token_refused_mid_run_keeps_the_windows_already_loaded(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The first window loads, then the token is refused (expired): the run ends with exit
    3 and what it loaded stays, reported, not thrown away with the error."""
    records = make_records(70, NOW - timedelta(hours=30), timedelta(minutes=15))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        since = (NOW - timedelta(hours=31)).strftime(ISO)
        until = (NOW - timedelta(hours=10)).strftime(ISO)
        # the first window's pages (20 records a page, settings_for) load; the second
        # window's first page answers 401
        in_first = [
            r for r in records if r["Report time"] < (NOW - timedelta(hours=19)).strftime(ISO)
        ]
        pages = -(-len(in_first) // 20)
        server.faults.append(Fault("/v1/cdr_feed", 401, b'{"message": "expired"}', after=pages))
        result = fetch_records(
            settings, "feed", since, until, client=make_client(server.url, clock), now=NOW
        )
    assert isinstance(result.error, ConfigError) and result.exit_code == 3
    assert len(result.windows) >= 1 and result.records > 0
    assert len(warehouse_ids(settings)) == result.records


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("yesterday", "not an ISO-8601 time"),
        # UTC cannot hold them: an OverflowError, a crash ('report it', exit 1)
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("9999-12-31T23:59:59.999-14:00", "out of range"),
    ],
)
def test_cli_fetch_refuses_a_time_that_is_not_iso_8601(
    value: str, why: str, tmp_path: Path
) -> None:
    for flag in ("--since", "--until"):
        run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "fetch", flag, value])
        assert run.exit_code == 2 and why in run.output, run.output
        assert not (tmp_path / "wh").exists()  # refused before the lock or the API


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--since", "2026-10-02T00:00:00Z", "--until", "2026-10-01T00:00:00Z"], "is after"),
        # a typo of the year, without --until: it asked the API, then noted 'nothing to fetch'
        (["--since", "2062-10-01"], "is in the future"),
        (["--since", "2062-10-01", "--until", "2062-10-02"], "is in the future"),
    ],
)
def test_cli_fetch_refuses_a_since_after_its_until(
    tmp_path: Path, args: list[str], why: str
) -> None:
    """Swapped times were a run that fetched nothing and exited 0 with a note, which a cron
    job takes for a night with nothing new."""
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "fetch", *args])
    assert run.exit_code == 2 and why in run.output, run.output
    assert not (tmp_path / "wh").exists()  # refused before the lock or the API


@pytest.mark.parametrize("url", ["http://u:hunter2pw@h:1", "http://u:hunter2pw and@h:1"])
def test_credentials_in_the_base_url_are_refused_and_never_shown(tmp_path: Path, url: str) -> None:
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", url])
    assert run.exit_code == 3 and "credentials in a URL" in run.output
    assert "hunter2pw" not in run.output


def test_a_token_in_a_base_urls_query_is_refused_and_never_shown(tmp_path: Path) -> None:
    """A base URL with the token as a query parameter is refused (a query), and its error
    printed the token: on the terminal, and in the nightly's JSON log."""
    args = ["--warehouse", str(tmp_path / "wh"), "fetch"]
    flag = CliRunner().invoke(cli, [*args, "--base-url", f"https://h:8443/?access_token={TOKEN}"])
    env = CliRunner().invoke(cli, args, env={"CDR_FETCH_API_URL": f"https://h/?token={TOKEN}"})
    assert flag.exit_code == env.exit_code == 3
    assert "?access_token=[REDACTED]" in flag.output and "?token=[REDACTED]" in env.output
    assert TOKEN not in flag.output + env.output


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:80800", "the port must be a number from 1 to 65535"),
        ("http://127.0.0.1:8o8o", "the port must be a number from 1 to 65535"),
        ("http://", "a host name is needed"),
        ("http:///v1", "a host name is needed"),
        ("http://127.0.0.1 :8080", "a URL has no blanks"),
    ],
)
def test_a_base_url_that_names_no_host_and_port_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    """A port typo ended the run as an `unexpected ValueError` to report (exit 1), and no
    host or a blank in it was retried as a network failure for a minute, then `cannot
    reach`: a configuration error like any other bad `[fetch]` value, before any request."""
    monkeypatch.setenv("WEBEX_TOKEN", TOKEN)
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", url])
    assert run.exit_code == 3, run.output
    assert f"bad value for 'fetch.base_url': {json.dumps(url)} ({why}" in run.output


def test_a_rerun_accounts_for_every_record_it_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the same window fetched twice: the second run's pages are the same bytes, skipped by
    # the ingest ledger; its records were nowhere (31 records; 0 loaded, 0 duplicate, 0
    # rejected), which a monitor checking that they add up took for lost records
    now = datetime.now(UTC).replace(microsecond=0)
    records = make_records(30, now - timedelta(hours=6), timedelta(minutes=10))
    records.append(dict(records[2]))  # a record sent twice: a duplicate the first time
    config = tmp_path / "cdr.toml"
    config.write_text('warehouse = "wh"\n[fetch]\npage_size = 7\n')
    monkeypatch.setenv("WEBEX_TOKEN", TOKEN)
    since = (now - timedelta(hours=7)).strftime(ISO)
    with FakeWebex(TOKEN, records) as server:
        args = ["--config", str(config), "fetch", "--base-url", server.url, "--since", since]
        runs = [CliRunner().invoke(cli, [*args, "--json"]) for _ in range(2)]
        text = CliRunner().invoke(cli, args)
    assert [r.exit_code for r in runs] == [0, 0] and text.exit_code == 0, text.output
    first, again = (json.loads(r.stdout) for r in runs)
    for result in (first, again):
        assert result["records"] == 31
        assert result["records"] == (
            result["rows_loaded"] + result["rows_duplicate"] + result["rows_rejected"]
            + result["rows_loaded_before"]
        )  # fmt: skip
    assert (first["rows_loaded"], first["rows_duplicate"], first["rows_loaded_before"]) == (
        30, 1, 0,
    )  # fmt: skip
    assert again["rows_loaded"] == 0 and again["rows_loaded_before"] == 31
    assert "0 rejected, 31 in pages loaded before;" in text.output


def test_an_empty_report_id_is_a_usage_error(tmp_path: Path) -> None:
    """`cdr fetch --report-id "$ID"` with the variable unset fetched the feed from the
    watermark instead, exit 0: the report's records were taken for loaded."""
    run = CliRunner().invoke(
        cli, ["--warehouse", str(tmp_path / "wh"), "fetch", "--report-id", " "]
    )
    assert run.exit_code == 2, run.output
    assert "the report id is empty" in run.output


@pytest.mark.parametrize("names", ["", " ", ",", " , "])
def test_locations_that_name_none_are_a_usage_error(tmp_path: Path, names: str) -> None:
    """`cdr fetch --locations "$SITES"` with the variable unset fetched every location
    (or those of [fetch] locations) instead, exit 0, moving that set's watermark; a list
    of commas alone did the same. Refused before the token or the API is asked."""
    run = CliRunner().invoke(
        cli, ["--warehouse", str(tmp_path / "wh"), "fetch", "--locations", names]
    )
    assert run.exit_code == 2, run.output
    assert "names no location" in run.output
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/?tenant=7", "https://webexapis.com/#v1"])
def test_a_base_url_with_a_query_or_fragment_is_refused(tmp_path: Path, url: str) -> None:
    """The client appends the API's paths to the base URL: after a query they landed inside
    it (`...?tenant=7/v1/people/me`), a request that failed with a message about the API."""
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", url])
    assert run.exit_code == 3, run.output
    assert "without ?query or #fragment" in run.output
