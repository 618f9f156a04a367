"""HTTP behaviour of WebexClient against a real local server: pagination, 451, 404, 429, 5xx,
connection refused, rate limits, redaction."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cdr_pipeline.config import FetchOptions
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.fetch import FetchError, RateLimiter, Redactor, WebexClient, fetch_records
from cdr_pipeline.fetch.runner import client_from_options
from cdr_pipeline.fetch.token import read_token
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, settings_for
from tests.fetch.fakewebex import ORG_ID, ORG_UUID, FakeWebex, Fault, make_records

PARAMS = {
    "startTime": "2026-10-28T12:00:00.000Z",
    "endTime": "2026-10-29T02:59:59.999Z",
    "max": "10",
}


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    records = make_records(35, NOW - timedelta(days=2), timedelta(minutes=15))
    fake = FakeWebex(TOKEN, records)
    yield fake
    fake.close()


def _in_window(server: FakeWebex) -> list[str]:
    """The Report IDs of the server's records within PARAMS' window, in order."""
    return [
        r["Report ID"]
        for r in server.records
        if PARAMS["startTime"] <= r["Report time"] <= PARAMS["endTime"]
    ]


def test_pages_follow_link_next_until_the_last(server: FakeWebex, clock: FakeClock) -> None:
    client = make_client(server.url, clock)
    pages = [r.json()["items"] for r in client.pages("cdr_feed", PARAMS)]
    expected = _in_window(server)
    assert len(pages) >= 3
    assert [i["Report ID"] for p in pages for i in p] == expected
    offsets = [r.query.get("offset") for r in server.log]
    assert offsets == [None] + [str(10 * k) for k in range(1, len(pages))]
    assert all(r.authorized for r in server.log)


def test_empty_window_404_yields_no_page(server: FakeWebex, clock: FakeClock) -> None:
    client = make_client(server.url, clock)
    params = {
        **PARAMS,
        "startTime": "2026-10-01T00:00:00.000Z",
        "endTime": "2026-10-01T01:00:00.000Z",
    }
    assert list(client.pages("cdr_feed", params)) == []
    assert server.log[-1].status == 404


def test_other_404_is_an_error(server: FakeWebex, clock: FakeClock) -> None:
    client = make_client(server.url, clock)
    with pytest.raises(FetchError, match="HTTP 404"):
        list(client.pages("cdr_nope", PARAMS))


def test_451_is_followed_to_the_named_region(server: FakeWebex, clock: FakeClock) -> None:
    with FakeWebex(TOKEN) as wrong:
        wrong.redirect_to = server.url
        # the region's server is trusted as a configured origin (the API host here); on
        # Webex both are *.webexapis.com over https
        client = make_client(wrong.url, clock, api_url=server.url)
        pages = list(client.pages("cdr_feed", PARAMS))
        assert pages and client.analytics_url == server.url
        assert [r.status for r in wrong.log] == [451]
        assert server.log[0].query["startTime"] == PARAMS["startTime"]
        assert all(r.authorized for r in server.log)


def test_451_loop_is_capped(clock: FakeClock) -> None:
    with FakeWebex(TOKEN) as a, FakeWebex(TOKEN) as b:
        a.redirect_to, b.redirect_to = b.url, a.url
        client = make_client(a.url, clock, api_url=b.url, max_region_redirects=3)
        with pytest.raises(FetchError, match="451") as info:
            list(client.pages("cdr_feed", PARAMS))
        assert len(a.log) + len(b.log) == 4
        assert "--region" in (info.value.hint or "")


def test_451_to_a_foreign_host_is_not_followed_with_the_token(clock: FakeClock) -> None:
    with FakeWebex(TOKEN) as wrong:
        wrong.redirect_to = "https://evil.example.com"
        client = make_client(wrong.url, clock)
        with pytest.raises(FetchError, match="not a Webex host"):
            list(client.pages("cdr_feed", PARAMS))


def test_429_honours_retry_after(server: FakeWebex, clock: FakeClock) -> None:
    server.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": "7"}, times=2))
    client = make_client(server.url, clock)
    pages = list(client.pages("cdr_feed", PARAMS))
    assert pages
    assert clock.sleeps[:2] == [7.0, 7.0]
    assert [r.status for r in server.log[:3]] == [429, 429, 200]


def test_5xx_is_retried_with_backoff_then_succeeds(server: FakeWebex, clock: FakeClock) -> None:
    server.faults.append(Fault("/v1/cdr_feed", 503, times=2))
    client = make_client(server.url, clock, retries=3, backoff_seconds=1.0)
    assert list(client.pages("cdr_feed", PARAMS))
    backoff = clock.sleeps[:2]
    # exponential with jitter in [0, backoff): 1..2 then 2..3
    assert 1.0 <= backoff[0] < 2.0 and 2.0 <= backoff[1] < 3.0
    assert [r.status for r in server.log[:3]] == [503, 503, 200]


def test_5xx_forever_fails_clearly_without_the_token(server: FakeWebex, clock: FakeClock) -> None:
    body = json.dumps({"message": f"internal error for Bearer {TOKEN}"}).encode()
    server.faults.append(Fault("/v1/cdr_feed", 500, body=body, times=99))
    client = make_client(server.url, clock, retries=2)
    with pytest.raises(FetchError) as info:
        list(client.pages("cdr_feed", PARAMS))
    text = str(info.value) + (info.value.hint or "")
    assert "HTTP 500 after 3 attempts" in text and server.url + "/v1/cdr_feed" in text
    assert TOKEN not in text
    assert len(server.log) == 3


def test_connection_refused_fails_clearly(clock: FakeClock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", clock, retries=2)
    with pytest.raises(FetchError) as info:
        list(client.pages("cdr_feed", PARAMS))
    assert f"cannot reach http://127.0.0.1:{port}/v1/cdr_feed" in str(info.value)
    assert "after 3 attempts" in str(info.value)
    assert "network" in (info.value.hint or "")
    assert len(clock.sleeps) == 2


def test_401_is_a_configuration_error_with_a_hint(server: FakeWebex, clock: FakeClock) -> None:
    client = make_client(server.url, clock)
    client._token = "wrong-token"
    with pytest.raises(ConfigError, match="HTTP 401") as info:
        list(client.pages("cdr_feed", PARAMS))
    assert "spark-admin:calling_cdr_read" in (info.value.hint or "")


def test_a_token_refused_the_org_lookup_says_to_set_the_org(
    server: FakeWebex, clock: FakeClock
) -> None:
    """A service app's token made for the CDR scopes alone lacks spark:people_read, so
    people/me answers 403: the hint sent the operator to the CDR scope the token has,
    not to `[fetch] org_id`, which skips the lookup."""
    server.faults.append(Fault("/v1/people/me", 403, b'{"message": "not authorized"}'))
    client = make_client(server.url, clock)
    with pytest.raises(ConfigError, match="HTTP 403") as info:
        client.org_id()
    hint = info.value.hint or ""
    assert "[fetch] org_id" in hint and "spark:people_read" in hint
    # an expired token is refused there too: that is the token's business, not the org's
    server.faults.append(Fault("/v1/people/me", 401, b'{"message": "expired"}'))
    with pytest.raises(ConfigError, match="HTTP 401") as info:
        client.org_id()
    assert "org_id" not in (info.value.hint or "")
    # a page refused is still the CDR scope's and role's business
    server.faults.append(Fault("/v1/cdr_feed", 403, b'{"message": "not authorized"}'))
    with pytest.raises(ConfigError, match="HTTP 403") as info:
        list(client.pages("cdr_feed", PARAMS))
    assert "org_id" not in (info.value.hint or "")


def test_rate_limiter_spaces_initial_and_page_requests(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    start = clock.t
    times = []
    for _ in range(3):
        limiter.acquire("initial")
        times.append(clock.t - start)
    assert times == [0.0, 60.0, 120.0]
    start = clock.t
    page_times = []
    for _ in range(12):
        limiter.acquire("page")
        page_times.append(clock.t - start)
    assert page_times[:10] == [0.0] * 10
    assert page_times[10] == 60.0 and page_times[11] == 60.0
    limiter.acquire("other")  # people/me, reports: not the analytics limits
    assert clock.t - start == 60.0


def test_client_uses_the_limiter_between_windows(server: FakeWebex, clock: FakeClock) -> None:
    client = make_client(server.url, clock)
    list(client.pages("cdr_feed", PARAMS))
    t_first = clock.t
    list(client.pages("cdr_feed", {**PARAMS, "startTime": "2026-10-29T03:00:00.000Z",
                                    "endTime": "2026-10-29T14:59:59.999Z"}))  # fmt: skip
    assert clock.t - t_first >= 60.0 - 1e-9


def test_redactor_removes_the_token_from_text_and_credentials_from_urls() -> None:
    r = Redactor([TOKEN])
    text = f"Authorization: Bearer {TOKEN} (again: {TOKEN})"
    assert r(text) == "Authorization: Bearer [REDACTED] (again: [REDACTED])"
    # also in its URL-encoded form
    assert Redactor(["a+b/c="])("https://h/x?t=a%2Bb%2Fc%3D") == "https://h/x?t=[REDACTED]"
    # text that merely looks like a credential is not the token: messages keep it
    looks_like = '{"access_token": "zzz999"} access_token=abc"def'
    assert r(looks_like) == looks_like
    # a URL shown to people also loses the credentials of a pre-signed link
    url = "https://s3.example/f?X-Amz-Signature=deadbeef&b=1&access_token=abc123"
    assert (
        r.url(url) == "https://s3.example/f?X-Amz-Signature=[REDACTED]&b=1&access_token=[REDACTED]"
    )


def test_no_cdrs_on_a_next_page_is_asked_again_not_taken_as_the_end(
    server: FakeWebex, clock: FakeClock
) -> None:
    """A 404 'No CDRs' for the second page (a hiccup) would end the window with the rest of
    its records unread: the page is asked again and the window read whole."""
    no_cdrs = json.dumps({"message": "No CDRs for requested time range and filters"}).encode()
    server.faults.append(Fault("/v1/cdr_feed", 404, no_cdrs, after=1))
    client = make_client(server.url, clock)
    got = [i["Report ID"] for r in client.pages("cdr_feed", PARAMS) for i in r.json()["items"]]
    expected = _in_window(server)
    assert got == expected
    assert [r.status for r in server.log].count(404) == 1


def test_a_page_that_names_no_cdrs_every_time_ends_the_window_with_a_warning(
    server: FakeWebex, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    no_cdrs = json.dumps({"message": "No CDRs for requested time range and filters"}).encode()
    server.faults.append(Fault("/v1/cdr_feed", 404, no_cdrs, after=1, times=10))
    client = make_client(server.url, clock)
    pages = list(client.pages("cdr_feed", PARAMS))
    assert len(pages) == 1
    assert [r.status for r in server.log].count(404) == 3  # asked twice again
    assert "taken as the end of the window" in caplog.text


def test_next_links_that_never_end_stop_at_the_page_limit(
    server: FakeWebex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdr_pipeline.fetch import paging as module

    monkeypatch.setattr(module, "MAX_PAGES_PER_WINDOW", 2)  # the window has 3 pages or more
    client = make_client(server.url, clock)
    with pytest.raises(FetchError, match="more than 2 pages") as info:
        list(client.pages("cdr_feed", PARAMS))
    assert "loop" in (info.value.hint or "")


NEW_TOKEN = "OTk5ZmFrZS1yb3RhdGVkLXRva2VuLWZvci10ZXN0cw_PF84_5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"


def test_a_token_rotated_during_a_backfill_is_read_again_on_a_401(
    server: FakeWebex, clock: FakeClock, tmp_path: Path
) -> None:
    """A refresh job rewrote the token file and the old token expired between two pages: the
    401 ended the backfill with 'check the token' though the file held a valid one. The
    token's source is read again once on a 401 from the API; a new token is used from then
    on, and never shown. The same token again leaves the 401 standing (no loop)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    client = make_client(server.url, clock, renew=lambda: token_file.read_text().strip())
    pages = client.pages("cdr_feed", PARAMS)
    first = next(pages)
    server.token = NEW_TOKEN  # the old token expires...
    token_file.write_text(NEW_TOKEN)  # ...and the refresh job wrote the new one
    rest = list(pages)
    got = [i["Report ID"] for p in [first, *rest] for i in p.json()["items"]]
    expected = _in_window(server)
    assert got == expected
    assert [r.status for r in server.log].count(401) == 1
    assert NEW_TOKEN not in client.redact(f"Bearer {NEW_TOKEN}")

    server.token = "yet-another-token"  # expired again, and the file was not rewritten
    with pytest.raises(ConfigError, match="HTTP 401"):
        list(client.pages("cdr_feed", PARAMS))


def test_a_token_file_rotated_unreadable_says_why_on_the_401(
    server: FakeWebex, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh job that writes the new token to a temp file and renames it gets its umask's
    mode (0644): read again on the 401, the file was refused as group-readable, silently, and
    the run ended with the scope and role hint of a refused token, the real cause unsaid."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    options = FetchOptions(token_file=token_file)
    client = make_client(server.url, clock, renew=lambda: read_token(options, env={}))
    server.token = NEW_TOKEN
    fresh = tmp_path / "token.new"
    fresh.write_text(NEW_TOKEN)
    fresh.chmod(0o644)
    fresh.rename(token_file)
    with caplog.at_level(logging.WARNING), pytest.raises(ConfigError, match="HTTP 401"):
        list(client.pages("cdr_feed", PARAMS))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "read again and refused" in said and "accessible by group or others" in said
    assert "chmod 600" in said
    assert NEW_TOKEN not in said and TOKEN not in said


def test_the_client_of_a_token_file_reads_the_file_again_when_asked(tmp_path: Path) -> None:
    """`cdr fetch` wires the token's source into the client (WEBEX_TOKEN first, as at the
    start of the run, else the file as it is now)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    options = FetchOptions(token_file=token_file)
    client = client_from_options(options, env={})
    token_file.write_text(NEW_TOKEN + "\n")
    assert client.renew is not None and client.renew() == NEW_TOKEN
    with_env = client_from_options(options, env={"WEBEX_TOKEN": TOKEN})
    assert with_env.renew is not None and with_env.renew() == TOKEN


@pytest.mark.parametrize(
    "shown",
    [TOKEN[:30], TOKEN[5:], TOKEN[9:60], f"{TOKEN[:20]}...", TOKEN[-8:]],
    ids=["head", "from-5", "middle", "cut-with-dots", "last-8"],
)
def test_redactor_removes_a_part_of_the_token_too(shown: str) -> None:
    """A server or proxy that echoes the request's headers may cut the token, or show it
    from an offset: only the whole token was removed, and `X-Token=NzY4ZmFrZS10b2tlbi1m`
    or all of it but its first 5 characters went to the terminal and cdr runs."""
    text = f"Internal error for the request with X-Token={shown} (see the log)"
    out = Redactor([TOKEN])(text)
    assert out.startswith("Internal error for the request with X-Token=[REDACTED]"), out
    assert out.endswith(" (see the log)"), out
    pieces = {TOKEN[i : i + 8] for i in range(len(TOKEN) - 7)}
    assert not [p for p in pieces if p in out], out
    # text that shares fewer characters with it stays as it is
    assert Redactor([TOKEN])(f"id {TOKEN[:7]} ok") == f"id {TOKEN[:7]} ok"


# a token as Webex makes them: its last part is the UUID of its org
ORG_TOKEN = f"NzY4ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seQ_PF84_{ORG_UUID}"


def test_redactor_keeps_the_org_readable_and_hides_the_token() -> None:
    r = Redactor([ORG_TOKEN], keep=[ORG_ID, ORG_UUID])
    text = f"orgId={ORG_UUID}; X-Token={ORG_TOKEN[:30]}; Bearer {ORG_TOKEN}"
    assert r(text) == f"orgId={ORG_UUID}; X-Token=[REDACTED]; Bearer [REDACTED]"
    # the part of the token that is not its org stays hidden, kept values or not
    assert Redactor([ORG_TOKEN], keep=[ORG_TOKEN])(f"t={ORG_TOKEN[5:40]}") == "t=[REDACTED]"


def test_messages_that_quote_the_org_show_it(tmp_path: Path, clock: FakeClock) -> None:
    """The next links of the API carry `orgId=<org uuid>`, and the token ends in that UUID:
    the error of a failing next page showed `orgId=[REDACTED]`, as if the org were secret,
    and the operator could not tell which org's fetch failed."""
    settings = settings_for(tmp_path, org_id=ORG_ID, page_size=2)
    records = make_records(3, NOW - timedelta(hours=20), timedelta(minutes=10))
    with FakeWebex(ORG_TOKEN, records) as server:
        server.link_params = {"orgId": ORG_UUID}
        server.faults.append(Fault("/v1/cdr_feed", 500, times=10, after=1))
        client = WebexClient(
            ORG_TOKEN, analytics_url=server.url, api_url=server.url, retries=1,
            limiter=RateLimiter(clock=clock, sleep=clock.sleep), sleep=clock.sleep,
        )  # fmt: skip
        result = fetch_records(
            settings, "feed", NOW - timedelta(hours=21), NOW - timedelta(hours=12),
            client=client, now=NOW,
        )  # fmt: skip
    assert result.exit_code == 1 and result.error is not None
    shown = result.error.message
    assert f"orgId={ORG_UUID}" in shown and "[REDACTED]" not in shown, shown
    assert ORG_TOKEN[:8] not in shown and ORG_TOKEN[20:40] not in shown
