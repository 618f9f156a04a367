"""Where the token may go, and what it may look like: only to the configured origins or to
Webex over https, and only a token that can be sent as an HTTP header at all."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import FetchOptions
from cdr_pipeline.fetch import FetchError, WebexClient
from cdr_pipeline.fetch.token import read_token
from tests.fetch.conftest import (
    NOW,
    TOKEN,
    FakeClock,
    fetch_window,
    make_client,
    settings_for,
    warehouse_ids,
)
from tests.fetch.fakewebex import FakeWebex, make_records
from tests.fetch.rawserver import RawServer


def test_the_token_never_goes_to_a_webex_host_over_plain_http() -> None:
    client = WebexClient(
        TOKEN,
        analytics_url="https://analytics-calling.webexapis.com",
        api_url="https://webexapis.com",
    )
    assert client.trusted("https://analytics-calling.webexapis.com/v1/cdr_feed")
    assert client.trusted("https://analytics-calling-eu.webexapis.com/v1/cdr_feed")
    # a redirect or a 451 naming the configured host over http would send it in clear text
    assert not client.trusted("http://analytics-calling.webexapis.com/v1/cdr_feed")
    assert not client.trusted("http://webexapis.com/v1/people/me")


def test_a_configured_http_base_url_stays_trusted_over_http() -> None:
    client = WebexClient(
        TOKEN, analytics_url="http://127.0.0.1:8080", api_url="http://127.0.0.1:8080"
    )
    assert client.trusted("http://127.0.0.1:8080/v1/cdr_feed")
    assert not client.trusted("ftp://127.0.0.1/v1/cdr_feed")


@pytest.mark.parametrize(
    "token",
    [TOKEN[:20] + "\u200b" + TOKEN[20:], TOKEN + "\u2019"],
    ids=["zero-width-space", "smart-quote"],
)
def test_a_token_that_cannot_be_a_header_is_a_configuration_error(
    tmp_path: Path, token: str
) -> None:
    """Pasted from a web page or a chat, a token can carry characters that are not spaces but
    cannot be sent in a header either: that is the token's fault (exit 3), not a crash."""
    with FakeWebex(TOKEN) as server:
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", server.url],
            env={"WEBEX_TOKEN": token},
        )
        assert server.log == []
    assert run.exit_code == 3, run.output
    assert "WEBEX_TOKEN" in run.output and "unexpected" not in run.output
    assert token not in run.output and TOKEN[:20] not in run.output


def test_the_token_goes_to_the_configured_origin_only_not_another_port() -> None:
    client = WebexClient(
        "tok", analytics_url="http://127.0.0.1:18080", api_url="http://127.0.0.1:18080"
    )
    assert client.trusted("http://127.0.0.1:18080/v1/cdr_feed?cursor=2")
    assert not client.trusted("http://127.0.0.1:18081/v1/cdr_feed?cursor=2")
    assert client.trusted("https://analytics.webexapis.com/v1/cdr_feed")
    assert not client.trusted("https://analytics.webexapis.com:8443/v1/cdr_feed")
    assert not client.trusted("https://user@analytics.webexapis.com/v1/cdr_feed")


def _planted_host() -> RawServer:
    """Another host, answering any request with a page of 5 planted records."""
    planted = json.dumps({"items": make_records(5, NOW - timedelta(hours=19),
                                                timedelta(minutes=1), seed="planted")})  # fmt: skip

    def foreign(conn: socket.socket) -> None:
        body = planted.encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    return RawServer(foreign)


def test_a_next_link_to_another_host_is_not_followed(tmp_path: Path, clock: FakeClock) -> None:
    """A page whose next link leads off the API (another host or port): the token must not
    go there, and what that host answers without it is no Webex data either. It was read
    without the token and its records loaded as calls; now the run stops there (exit 1),
    the watermark stays, and the window is asked again by the next run."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server, _planted_host() as other:
        serve = server.cdrs

        def leading_away(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            status, headers, body = serve(path, query)
            if "Link" in headers:
                headers["Link"] = headers["Link"].replace(server.url, other.url)
            return status, headers, body

        server.cdrs = leading_away  # type: ignore[method-assign]
        result = fetch_window(settings, server.url, clock)
        assert other.requests == []
    assert result.exit_code == 1 and result.error is not None
    assert "leads off the API" in result.error.message and TOKEN not in result.error.message
    assert result.watermark_after == result.windows[0].start
    # the page the API sent before the foreign link is its data, loaded; nothing planted is
    ids = set(warehouse_ids(settings))
    assert ids and ids <= {r["Report ID"] for r in records}


def test_a_page_redirected_to_another_host_is_not_taken(tmp_path: Path, clock: FakeClock) -> None:
    """A page the API answers with a redirect off the API (another host or port): followed
    without the token, that host's answer was saved and loaded as the window's page, and the
    watermark passed the window, so the records the real page held were never fetched. As a
    next link off the API, the run now stops there (exit 1) and the watermark stays."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server, _planted_host() as other:
        serve = server.cdrs

        def moved(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            if "offset" in query:
                return 302, {"Location": f"{other.url}{path}?offset={query['offset']}"}, b""
            return serve(path, query)

        server.cdrs = moved  # type: ignore[method-assign]
        result = fetch_window(settings, server.url, clock)
        assert all(b"Authorization" not in r for r in other.requests)
    assert result.exit_code == 1 and result.error is not None
    assert "off the API" in result.error.message and TOKEN not in result.error.message
    assert result.watermark_after == result.windows[0].start
    ids = set(warehouse_ids(settings))
    assert ids and ids <= {r["Report ID"] for r in records}


@pytest.mark.parametrize("how", ["next link", "redirect"])
@pytest.mark.parametrize("broken", ["http://127.0.0.1:99999", "http://127.0.0.1:8o", "http://[::1"])
def test_a_link_to_no_usable_host_ends_the_run_clearly(
    tmp_path: Path, clock: FakeClock, how: str, broken: str
) -> None:
    """A next link or a redirect naming a port past 65535 or not a number, or a broken IPv6
    host: reading it raised ValueError, and cdr fetch ended as an 'unexpected ValueError ...
    report it' (exit 1) with the window's pages saved but not loaded and no run recorded. It
    is a link off the API now: the run stops there, its pages load, the watermark stays."""
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = settings_for(tmp_path)
    with FakeWebex(TOKEN, records) as server:
        serve = server.cdrs

        def broken_link(path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            if how == "redirect" and "offset" in query:
                return 302, {"Location": f"{broken}{path}?offset={query['offset']}"}, b""
            status, headers, body = serve(path, query)
            if how == "next link" and "Link" in headers:
                headers["Link"] = headers["Link"].replace(server.url, broken)
            return status, headers, body

        server.cdrs = broken_link  # type: ignore[method-assign]
        result = fetch_window(settings, server.url, clock)
    assert result.exit_code == 1 and isinstance(result.error, FetchError)
    assert "off the API" in result.error.message and broken in result.error.message
    assert result.watermark_after == result.windows[0].start
    ids = set(warehouse_ids(settings))
    assert len(ids) == 20 and ids <= {r["Report ID"] for r in records}


def test_the_org_lookup_redirected_to_another_host_is_not_taken(clock: FakeClock) -> None:
    """people/me answered by a redirect off the API: the other host's answer, read without
    the token, named the org whose watermark and saved pages the run then used."""

    def foreign(conn: socket.socket) -> None:
        body = b'{"id": "me", "orgId": "planted-org"}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with _planted_host() as other:
        moved = f"HTTP/1.1 302 Found\r\nLocation: {other.url}/v1/people/me\r\n"

        def redirect(conn: socket.socket) -> None:
            conn.sendall(moved.encode() + b"Content-Length: 0\r\n\r\n")

        with RawServer(redirect) as server:
            client = make_client(server.url, clock)
            with pytest.raises(FetchError, match="off the API") as info:
                client.org_id()
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer  "])
def test_a_token_pasted_with_its_bearer_prefix_says_so(
    tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`export WEBEX_TOKEN="Bearer NzY4..."`, copied from a curl line or the developer portal's
    header: it was refused only as 'contains whitespace', which does not say what to remove."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    with FakeWebex(TOKEN) as server:
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", server.url],
            env={"WEBEX_TOKEN": prefix + TOKEN},
        )
        assert server.log == []
    assert run.exit_code == 3, run.output
    assert "'Bearer '" in run.output and TOKEN[:20] not in run.output


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_token_wrapped_in_quotes_says_so(
    tmp_path: Path, quote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`WEBEX_TOKEN="NzY4..."` in a docker --env-file (or a token file) keeps its quotes:
    the token was sent with them, and the 401 that came back blamed its scope or expiry."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    with FakeWebex(TOKEN) as server:
        run = CliRunner().invoke(
            cli,
            ["--warehouse", str(tmp_path / "wh"), "fetch", "--base-url", server.url],
            env={"WEBEX_TOKEN": quote + TOKEN + quote},
        )
        assert server.log == []
    assert run.exit_code == 3, run.output
    assert "wrapped in quotes" in run.output and TOKEN[:20] not in run.output


def test_a_token_file_saved_with_a_bom_reads_the_token(tmp_path: Path) -> None:
    """A token file written by Windows Notepad ("UTF-8 with BOM", CRLF) was refused as a
    token of 'characters other than printable ASCII' that no editor shows."""
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n")
    token_file.chmod(0o600)
    assert read_token(FetchOptions(token_file=token_file), env={}) == TOKEN
