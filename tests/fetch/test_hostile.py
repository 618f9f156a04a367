"""A Webex API that misbehaves as real services do (each case on a real server on 127.0.0.1):
redirects that loop."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.fetch.conftest import FakeClock, fetch_window, settings_for
from tests.fetch.fakewebex import ORG_ID
from tests.fetch.rawserver import RawServer


def test_a_redirect_loop_says_so_and_what_to_try(tmp_path: Path, clock: FakeClock) -> None:
    """A proxy that answers every page with a redirect to itself: the run ended with
    `...: too many redirects` and no hint, the operator left to guess what to do."""

    def loop(conn: socket.socket) -> None:
        target = server.requests[-1].split(b" ")[1].decode()
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {server.url}{target}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )

    settings = settings_for(tmp_path, org_id=ORG_ID)
    with RawServer(loop) as server:
        result = fetch_window(settings, server.url, clock)
        asked = len(server.requests)
    assert result.exit_code == 1 and result.error is not None
    assert "redirected 6 times in a row" in result.error.message
    assert "redirect loop" in result.error.message
    assert "--base-url" in (result.error.hint or "")
    assert "watermark" in (result.error.hint or "")
    assert asked == 6  # bounded: the first answer and five redirects followed
    assert result.watermark_after == result.windows[0].start
