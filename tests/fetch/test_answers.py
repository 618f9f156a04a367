"""Answers a proxy or a misbehaving server gives instead of the Webex API's, from a real
socket on 127.0.0.1: each ends the run with a FetchError naming the URL, never a crash."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cdr_pipeline.fetch import FetchError
from tests.fetch.conftest import FakeClock, make_client
from tests.fetch.rawserver import RawServer


def _answer(status: str, body: bytes, headers: bytes = b"") -> object:
    def handler(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s"
            % (status.encode(), len(body), headers, body)
        )

    return handler


@pytest.mark.parametrize(
    "body", [b"<html>Sign in to the guest Wi-Fi</html>", b"[1, 2]", b'{"orgId": 7}', b"\xff\xfe"]
)
def test_people_me_answering_no_usable_json_is_a_fetch_error(body: bytes, clock: FakeClock) -> None:
    with RawServer(_answer("200 OK", body)) as server:  # type: ignore[arg-type]
        client = make_client(server.url, clock)
        with pytest.raises(FetchError) as info:
            client.org_id()
    assert "people/me" in str(info.value)


def test_reports_api_answering_html_is_a_fetch_error(tmp_path: Path, clock: FakeClock) -> None:
    with RawServer(_answer("200 OK", b"<html>proxy</html>")) as server:  # type: ignore[arg-type]
        url = server.url
        client = make_client(url, clock)
        with pytest.raises(FetchError, match="not JSON") as info:
            client.report_download("r1", tmp_path / "report-r1")
    assert f"{url}/v1/reports/r1" in str(info.value)
    assert not (tmp_path / "report-r1").exists()
