"""Where the token may go, and what it may look like: only to the configured origins or to
Webex over https, and only a token that can be sent as an HTTP header at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.fetch import WebexClient
from tests.fetch.conftest import TOKEN
from tests.fetch.fakewebex import FakeWebex


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
