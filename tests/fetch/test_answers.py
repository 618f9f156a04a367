"""Answers a proxy or a misbehaving server gives instead of the Webex API's, from a real
socket on 127.0.0.1: each ends the run with a FetchError naming the URL, never a crash."""

from __future__ import annotations

import json
import socket
import urllib.parse
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from cdr_pipeline.errors import CdrError
from cdr_pipeline.fetch import FetchError
from cdr_pipeline.fetch.pages import page_records
from cdr_pipeline.fetch.redactor import Redactor
from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client
from tests.fetch.fakewebex import FakeWebex, Fault, make_records
from tests.fetch.rawserver import RawServer

WINDOW = {"startTime": "2026-10-28T12:00:00.000Z", "endTime": "2026-10-28T23:59:59.999Z"}


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


@pytest.mark.parametrize("status", ["200 OK", "404 Not Found"])
def test_json_nested_too_deep_is_a_fetch_error_not_a_crash(status: str, clock: FakeClock) -> None:
    """Python's parser gives up on deep nesting with RecursionError, which went past every
    handler (an answer's JSON and an error's message alike): a crash with a traceback."""
    deep = b"[" * 200_000 + b"]" * 200_000
    with RawServer(_answer(status, deep)) as server:  # type: ignore[arg-type]
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


@pytest.mark.parametrize(
    ("body", "ctype"),
    [(b"<html>Sign in to the guest Wi-Fi</html>", "text/html"),
     (b"\n  <!DOCTYPE html><title>Access denied</title>", "application/octet-stream")],
)  # fmt: skip
def test_a_report_download_answered_by_an_html_page_is_not_installed(
    tmp_path: Path, clock: FakeClock, body: bytes, ctype: str
) -> None:
    """The download link answers 200 with a proxy's or portal's HTML page (or an expired
    link's error page): that is no report. It was installed as the report, failed to ingest
    as 'not a calls export' (exit 3), and every later fetch replayed it and exited 3 too."""
    with FakeWebex(TOKEN) as server:
        server.reports["R1"] = b"PK\x03\x04 not used"
        server.faults.append(Fault("/download/", 200, body, {"Content-Type": ctype}))
        with pytest.raises(FetchError, match="HTML page, not the report") as info:
            make_client(server.url, clock).report_download("R1", tmp_path / "report-R1")
    assert "/download/R1" in str(info.value) and TOKEN not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_report_download_without_a_byte_is_not_installed(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The download link answers 200 with an empty body (a storage object not written yet,
    an expired link): that is no report, which is a ZIP or at least a CSV header. It was
    installed and loaded as a report without records (exit 0, '0 records'), and the next
    try of the same empty answer was skipped as already loaded."""
    dest = tmp_path / "fetched" / "report-R1"
    with FakeWebex(TOKEN) as server:
        server.reports["R1"] = b""
        with pytest.raises(FetchError, match="without a byte, not the report") as info:
            make_client(server.url, clock).report_download("R1", dest)
    assert "/download/R1" in str(info.value) and "again" in (info.value.hint or "")
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("where", "link"),
    [("downloadURL", "file://{local}"), ("redirect", "file://{local}"),
     ("downloadURL", "data:text/csv,Report%20ID%0A1"), ("downloadURL", "/download/R1"),
     ("redirect", "http://127.0.0.1:99999/R1")],
)  # fmt: skip
def test_a_report_link_that_is_no_web_url_is_not_opened(
    tmp_path: Path, clock: FakeClock, where: str, link: str
) -> None:
    """urllib opens file:, ftp: and data: URLs too: a downloadURL (or a redirect of the
    download) naming a local file had it read into the report's temp file, and the run then
    ended as an unexpected TypeError (exit 1, 'report it'); a link without a scheme as an
    unexpected ValueError. Neither is opened now: the run ends with a FetchError naming it."""
    local = tmp_path / "elsewhere.csv"
    local.write_text("Report ID,Start time\nplanted,2026-10-28T12:00:00.000Z\n")
    link = link.format(local=local)
    dest = tmp_path / "fetched" / "report-R1"
    with FakeWebex(TOKEN) as server:
        server.reports["R1"] = b"PK\x03\x04 not used"
        if where == "redirect":
            server.faults.append(Fault("/download/", 302, b"", {"Location": link}))
        else:
            lookup = {"items": [{"id": "R1", "status": "done", "downloadURL": link}]}
            server.faults.append(Fault("/v1/reports/", 200, json.dumps(lookup).encode()))
        with pytest.raises(FetchError, match="no usable http or https URL; not followed") as info:
            make_client(server.url, clock).report_download("R1", dest)
    assert link.split("?")[0] in str(info.value) and info.value.hint
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("value", ["inf", "nan", "1e12", "-5", "soon"])
def test_retry_after_that_is_not_a_delay_waits_the_default(value: str, clock: FakeClock) -> None:
    # float() reads inf/nan/1e12: time.sleep(inf) overflows, sleep(nan) raises, 1e12 never ends
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=40), timedelta(minutes=5))) as s:
        s.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": value}))
        client = make_client(s.url, clock)
        assert list(client.pages("cdr_feed", WINDOW))
    assert clock.sleeps[0] == 60.0


def test_retry_after_as_an_http_date(clock: FakeClock) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=40), timedelta(minutes=5))) as s:
        s.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": later}))
        client = make_client(s.url, clock)
        assert list(client.pages("cdr_feed", WINDOW))
    assert 100 <= clock.sleeps[0] <= 121


@pytest.mark.parametrize("skew", [timedelta(minutes=20), timedelta(minutes=-10)])
def test_retry_after_date_counts_from_the_answers_own_date(
    skew: timedelta, clock: FakeClock
) -> None:
    """A server whose clock is off from this machine's, asking for a minute as a date. From
    this clock, 20 minutes ahead read as 21 minutes (past the longest wait: the run ended),
    10 minutes behind as a date already past (1 s, then throttled again, 11 times)."""
    server_now = datetime.now(UTC) + skew
    dates = b"Date: %s\r\nRetry-After: %s\r\n" % tuple(
        format_datetime(t, usegmt=True).encode()
        for t in (server_now, server_now + timedelta(minutes=1))
    )
    served: list[int] = []

    def handler(conn: socket.socket) -> None:
        served.append(1)
        status, body = (
            ("429 Too Many Requests", b"{}") if len(served) == 1 else ("200 OK", b'{"items": []}')
        )
        _answer(status, body, dates)(conn)  # type: ignore[operator]

    with RawServer(handler) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", WINDOW))
    assert [p.status for p in pages] == [200] and len(served) == 2
    assert clock.sleeps == [60.0]


@pytest.mark.parametrize("value", ["0", "Thu, 01 Jan 2026 00:00:00 GMT"])
def test_retry_after_now_still_waits_a_second(value: str, clock: FakeClock) -> None:
    """`Retry-After: 0`, or a date already past, taken literally made all 11 tries of a
    throttled request within milliseconds (fetch probe); each waits at least a second."""
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=40), timedelta(minutes=5))) as s:
        s.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": value}, times=3))
        client = make_client(s.url, clock)
        assert list(client.pages("cdr_feed", WINDOW))
    assert clock.sleeps[:3] == [1.0, 1.0, 1.0]


def test_retry_after_sent_twice_waits_the_longer(clock: FakeClock) -> None:
    """A proxy adding its own `Retry-After` to the server's: the lines arrive joined as
    `120, 90`, which read as no delay at all and waited the default minute."""
    served: list[int] = []

    def handler(conn: socket.socket) -> None:
        served.append(1)
        if len(served) == 1:
            retry = b"Retry-After: 120\r\nRetry-After: 90\r\n"
            _answer("429 Too Many Requests", b"{}", retry)(conn)  # type: ignore[operator]
        else:
            _answer("200 OK", b'{"items": []}')(conn)  # type: ignore[operator]

    with RawServer(handler) as server:
        pages = list(make_client(server.url, clock).pages("cdr_feed", WINDOW))
    assert [p.status for p in pages] == [200] and len(served) == 2
    assert clock.sleeps[0] == 120.0


def test_a_proxy_request_timeout_is_retried(clock: FakeClock) -> None:
    """408: a proxy closed the request it waited too long for; the same request again is
    what RFC 9110 says to do. It ended the run with a hint to check the request's URL."""
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=40), timedelta(minutes=5))) as s:
        s.faults.append(Fault("/v1/cdr_feed", 408, b"<html>Request Timeout</html>", times=2))
        client = make_client(s.url, clock, retries=2, backoff_seconds=1.0)
        pages = list(client.pages("cdr_feed", WINDOW))
        assert [r.status for r in s.log] == [408, 408, 200]
    assert sum(len(json.loads(p.body)["items"]) for p in pages) == 3


def test_retry_after_longer_than_a_run_waits_ends_it(clock: FakeClock) -> None:
    with FakeWebex(TOKEN) as s:
        s.faults.append(Fault("/v1/cdr_feed", 429, headers={"Retry-After": "86400"}))
        client = make_client(s.url, clock)
        with pytest.raises(FetchError, match="asking to wait 86400 s"):
            list(client.pages("cdr_feed", WINDOW))
    assert clock.sleeps == []


def test_a_next_link_seen_before_ends_the_run(clock: FakeClock) -> None:
    """A server whose `rel="next"` points back at a page already read would be paged for
    ever (10 requests a minute under the real rate limit)."""
    body = json.dumps({"items": [{"Report ID": "r1"}]}).encode()

    with RawServer(lambda c: None) as server:
        nxt = f'<{server.url}/v1/cdr_feed?startTime=a&offset=1>; rel="next"'.encode()
        server.handler = _answer("200 OK", body, b"Link: " + nxt + b"\r\n")  # type: ignore[assignment]
        client = make_client(server.url, clock)
        pages = client.pages("cdr_feed", WINDOW)
        with pytest.raises(FetchError, match="loop: the next link"):
            for _ in range(5):
                next(pages)
        assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("link", "next_url"),
    [
        ('<https://h/v1/cdr_feed?cursor=2>; rel="next"', "https://h/v1/cdr_feed?cursor=2"),
        ("</v1/cdr_feed?cursor=2>; rel=next", "https://h/v1/cdr_feed?cursor=2"),
        ('<https://h/p1>; rel="prev", <https://h/p3>; rel="next"', "https://h/p3"),
        ('<https://h/p3>; title="a, b; c"; rel="next"', "https://h/p3"),  # quoted , and ;
        ('<https://h/p3>; rel="last next"', "https://h/p3"),  # a list of relation types
        ('<https://h/p3>; rel="nextpage"', None),  # another relation, not next
        ('<https://h/p3>; rel="next-archive"', None),
        ("", None),
    ],
)
def test_the_next_link_is_read_as_rfc_8288_writes_it(link: str, next_url: str | None) -> None:
    from cdr_pipeline.fetch.response import Response

    headers = {"Link": link} if link else {}
    assert Response("https://h/v1/cdr_feed", 200, headers, b"{}").next_link() == next_url


def test_a_next_link_on_a_line_of_its_own_is_followed(clock: FakeClock) -> None:
    """RFC 8288 lets links come on several `Link` lines (a proxy may split them): with the
    last line alone kept, `rel="first"` after `rel="next"` ended the window after its first
    page, and the watermark passed the records of the pages never asked for."""
    pages = [json.dumps({"items": [{"Report ID": f"r{n}"}]}).encode() for n in (1, 2)]

    def handler(conn: socket.socket) -> None:
        second = b"offset=1" in server.requests[-1]
        links = b""
        if not second:
            nxt, first = (f"<{server.url}/v1/cdr_feed?offset={n}>" for n in (1, 0))
            links = f'Link: {nxt}; rel="next"\r\nLink: {first}; rel="first"\r\n'.encode()
        _answer("200 OK", pages[second], links)(conn)  # type: ignore[operator]

    with RawServer(handler) as server:
        client = make_client(server.url, clock)
        assert [r.body for r in client.pages("cdr_feed", WINDOW)] == pages


@pytest.mark.parametrize("name", ["Berlin HQ", "Zürich"])
def test_a_next_link_with_a_blank_or_a_letter_past_ascii_is_followed(
    name: str, clock: FakeClock
) -> None:
    """A server that echoes a location name in its next link as it is: a blank was refused
    by http.client as a 'control character', retried as a connection error and reported
    as 'cannot reach' (exit 1), and a letter past ASCII crashed the run (UnicodeEncodeError,
    'report it'). The link is sent percent-encoded, as browsers and curl send it."""
    pages = [json.dumps({"items": [{"Report ID": f"r{n}"}]}).encode() for n in (1, 2)]
    encoded = "locations=" + urllib.parse.quote(name)

    def handler(conn: socket.socket) -> None:
        second = b"offset=1" in server.requests[-1]
        link = f'Link: <{server.url}/v1/cdr_feed?locations={name}&offset=1>; rel="next"\r\n'
        _answer("200 OK", pages[second], b"" if second else link.encode())(conn)  # type: ignore[operator]

    with RawServer(handler) as server:
        client = make_client(server.url, clock, retries=0)
        assert [r.body for r in client.pages("cdr_feed", WINDOW)] == pages
        assert encoded.encode() in server.requests[-1].split(b"\r\n")[0]


def test_a_5xx_with_retry_after_waits_as_long_as_it_asks(clock: FakeClock) -> None:
    # a 503 for maintenance says when to come back: retries spent before then are wasted,
    # and with them the run (5 retries of 2..32 s are over in about a minute)
    with FakeWebex(TOKEN, make_records(3, NOW - timedelta(hours=40), timedelta(minutes=5))) as s:
        s.faults.append(Fault("/v1/cdr_feed", 503, headers={"Retry-After": "120"}, times=2))
        client = make_client(s.url, clock, retries=2, backoff_seconds=1.0)
        assert list(client.pages("cdr_feed", WINDOW))
        assert [r.status for r in s.log] == [503, 503, 200]
    assert clock.sleeps[:2] == [120.0, 120.0]


def test_a_5xx_asking_to_wait_longer_than_a_run_ends_it(clock: FakeClock) -> None:
    with FakeWebex(TOKEN) as s:
        s.faults.append(Fault("/v1/cdr_feed", 503, headers={"Retry-After": "86400"}))
        client = make_client(s.url, clock)
        with pytest.raises(FetchError, match="HTTP 503 asking to wait 86400 s") as info:
            list(client.pages("cdr_feed", WINDOW))
        assert len(s.log) == 1
    assert clock.sleeps == [] and "rerun later" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
            b"<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
            b"</html>\r\n",
            "502 Bad Gateway",
        ),
        (b"<html><body>\n  <h1>Gateway\n error</h1>\n</body></html>", "Gateway error"),
        (b"upstream connect error or disconnect/reset\nbefore headers", "upstream connect"),
        (b"Z" * 20_000, "Z" * 300),  # longer than searched, with no word to cut it at
        (b'{"message": "Bad gateway", "errors": 5}', "Bad gateway"),  # errors: no list
        # a message of several lines, and long
        (b'{"message": "Bad\\ngateway  ' + b"z" * 60_000 + b'"}', "Bad gateway z"),
    ],
)
def test_an_error_page_that_is_not_json_is_shown_on_one_line(
    body: bytes, shown: str, clock: FakeClock
) -> None:
    """A proxy's HTML error page split the run's `error:` line over its markup, line by
    line; it is named by its title (or its text without tags) on one line."""
    with RawServer(_answer("502 Bad Gateway", body, b"Content-Type: text/html\r\n")) as server:  # type: ignore[arg-type]
        client = make_client(server.url, clock, retries=0)
        with pytest.raises(FetchError) as info:
            client.org_id()
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and "<" not in message
    assert f"HTTP 502 after 1 attempts: {shown}" in message and len(message) < 500


def test_a_captive_portal_page_instead_of_a_page_of_records_is_named(clock: FakeClock) -> None:
    """A hotel's or guest Wi-Fi's portal answers 200 with its login page: the run said the
    answer was not JSON (`lexical error: invalid char in json text.`), which says nothing of
    whose page it was. The page's title is shown."""
    portal = b"<!DOCTYPE html>\n<html><head><title>Guest Wi-Fi - Sign in</title></head></html>"
    records = make_records(3, NOW - timedelta(hours=20), timedelta(minutes=10))
    with FakeWebex(TOKEN, records) as server:
        server.faults.append(Fault("/v1/cdr_feed", 200, portal, {"Content-Type": "text/html"}))
        server.faults.append(Fault("/v1/people/me", 200, portal, {"Content-Type": "text/html"}))
        client = make_client(server.url, clock)
        (answer,) = client.pages("cdr_feed", WINDOW)
        with pytest.raises(FetchError) as page:
            page_records(answer.body, client.redact, answer.url)
        with pytest.raises(FetchError) as me:
            client.org_id()
    for info in (page, me):
        assert "an HTML page: Guest Wi-Fi - Sign in" in str(info.value), str(info.value)


def test_a_page_not_in_utf8_says_why_on_one_line() -> None:
    """yajl's message is bytes when the text around the error is not UTF-8 (a page in
    UTF-16): the error showed its repr, `b'lexical error: ...\\n   \\xff\\xfe{  (right
    here) ------^\\n'`, escapes, pointer and all."""
    page = json.dumps({"items": [{"Report ID": "r-1"}]}).encode("utf-16")
    with pytest.raises(FetchError) as info:
        page_records(page, Redactor([TOKEN]), "http://127.0.0.1:1/v1/cdr_feed")
    message = str(info.value)
    assert message.endswith("the answer is not JSON (lexical error: invalid char in json text.)")


@pytest.mark.parametrize(
    "sent",
    [
        b"\x15\x03\x01\x00\x02\x02\x46",  # a TLS alert: an https port asked in plain http
        json.dumps({"items": make_records(40, NOW, timedelta(minutes=1))}).encode() + b"\r\n",
    ],
    ids=["tls", "records"],
)
def test_an_answer_that_is_not_http_is_named_so_without_its_bytes(
    sent: bytes, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer without an HTTP status line was 'cannot reach <url> ...: <its first line>':
    up to 64 KiB of it in the error, the log and the run's row (TLS bytes, line breaks, or
    a page's records with their people's names and numbers), and the host blamed for not
    answering. It names the scheme and port of --base-url to check."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(sent)

    with RawServer(handler) as server:
        client = make_client(server.url, clock, retries=1)
        with pytest.raises(FetchError) as info:
            list(client.pages("cdr_feed", WINDOW))
    message = str(info.value)
    assert "answered something that is not HTTP" in message and len(message) < 300, message
    assert "\\x" not in message and "\r" not in message and "Test User" not in message
    assert "https://" in (info.value.hint or "")
    assert "Test User" not in caplog.text and "\\x15" not in caplog.text


@pytest.mark.parametrize(
    ("skew", "side"),
    [(timedelta(minutes=-10), "ahead of"), (timedelta(minutes=10), "behind"), (timedelta(0), "")],
)
def test_a_bad_request_from_a_server_whose_clock_differs_says_so(
    skew: timedelta, side: str, clock: FakeClock
) -> None:
    """This machine's clock ahead of the API's asks for an endTime the API has not reached:
    refused at every run, with a hint to check --base-url and the request parameters. The
    answer's Date shows the clock is off, and the hint now says so (and only then)."""
    date = format_datetime(datetime.now(UTC) + skew, usegmt=True).encode()
    answer = _answer(
        "400 Bad Request", b'{"message": "endTime is invalid"}', b"Date: %s\r\n" % date
    )
    with RawServer(answer) as server, pytest.raises(FetchError) as info:  # type: ignore[arg-type]
        list(make_client(server.url, clock).pages("cdr_feed", WINDOW))
    assert "HTTP 400 (endTime is invalid)" in str(info.value)
    hint = info.value.hint or ""
    assert hint.startswith("check --base-url/--region and the request parameters")
    assert (f"clock is 10 min {side} the API's" in hint) if side else ("clock" not in hint)


def _echoing_pages() -> list[tuple[str, bytes]]:
    """Error answers that echo the request's Authorization header (a debugging proxy's
    page) where the text shown is cut: at its 300 characters, and at the 16 KiB of a long
    page searched for its text. Each cut falls inside the token."""
    html = b"<html><body><p>%s Authorization: Bearer %s</p></body></html>"
    long_head = b"<html><body>" + b"<b></b>" * 2330 + b"<p>Authorization: Bearer "
    assert len(long_head) < 16 * 1024 < len(long_head) + len(TOKEN)
    return [
        ("401 Unauthorized", html % (b"x" * 230, TOKEN.encode())),
        (
            "502 Bad Gateway",
            json.dumps({"error": "y" * 230, "Authorization": f"Bearer {TOKEN}"}).encode(),
        ),
        ("502 Bad Gateway", long_head + TOKEN.encode() + b"</p>" + b"<i></i>" * 100),
    ]


@pytest.mark.parametrize(("status", "body"), _echoing_pages(), ids=["html", "json", "long"])
def test_an_error_page_echoing_the_token_shows_no_part_of_it(
    status: str, body: bytes, clock: FakeClock
) -> None:
    """The text of an error answer was cut to length before the token was removed from it:
    the part of the token before the cut was no longer the token, and was shown (on the
    terminal and in the run's row of cdr runs) as it came."""
    with RawServer(_answer(status, body, b"Content-Type: text/html\r\n")) as server:  # type: ignore[arg-type]
        client = make_client(server.url, clock, retries=0)
        with pytest.raises(CdrError) as info:
            client.org_id()
    message = str(info.value)
    assert f"HTTP {status[:3]}" in message and "Authorization" in message
    pieces = {TOKEN[i : i + 8] for i in range(len(TOKEN) - 8)}
    assert not [p for p in pieces if p in message], message
