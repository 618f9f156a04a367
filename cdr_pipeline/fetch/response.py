"""An answer of the Webex APIs and what the client reads from it: the error message, the
`Link: <...>; rel="next"` target, the region a 451 names, and how long a 429 asks to wait."""

from __future__ import annotations

import codecs
import http.client
import io
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ijson

from cdr_pipeline.fetch.transport import BrokenTransfer


def check_whole(response: http.client.HTTPResponse, body: bytes) -> None:
    """Raise a broken transfer (retried) for a 2xx body that ends inside its JSON and had no
    length or chunks to tell it was cut short (ended by the connection closing, as HTTP/1.0
    proxies answer). Any other body is left to its reader: what is not JSON is no transfer
    problem, and a retry would get it again."""
    if not 200 <= response.status < 300 or response.length is not None or response.chunked:
        return  # framed: a short body was an IncompleteRead already
    try:
        for _ in ijson.parse(io.BytesIO(body.removeprefix(codecs.BOM_UTF8))):
            pass
    except ijson.IncompleteJSONError as exc:
        text = str(exc)
        if "premature EOF" in text or "Incomplete or empty" in text:
            raise BrokenTransfer(
                f"the answer ended with its connection inside its JSON, after {len(body):,} "
                "bytes (cut short)"
            ) from None
    except (ijson.JSONError, ValueError, UnicodeDecodeError, RecursionError):
        return


def loads(raw: bytes) -> Any:
    """JSON of an answer. Raises ValueError (or UnicodeDecodeError) for what is not JSON,
    nesting too deep for Python's parser included: its RecursionError was a crash."""
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        raise ValueError("the JSON nests deeper than a parser can follow") from None


def header_fields(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The header fields of an answer, each name once: the lines of a repeated field joined
    with `, ` as RFC 9110 (5.3) combines them. `dict()` of the lines kept the last alone, so
    `Link: <...>; rel="next"` followed by `Link: <...>; rel="first"` (RFC 8288 lets a server
    or proxy split links over lines) lost the next page: the window ended after its first
    page and the watermark passed the records never asked for."""
    out: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in items:
        key = names.setdefault(name.lower(), name)
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


SHOWN_CHARS = 300
"""What of an answer's text an error message shows."""


def _as_is(text: str) -> str:
    return text


@dataclass
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return loads(self.body)

    def message(self, redact: Callable[[str], str] = _as_is) -> str:
        """The API's error message (`message` or `errors[].description`), else the body text,
        through `redact` before it is cut to length (see `plain_text`)."""
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            return plain_text(self.body, redact)
        if isinstance(data, dict):
            parts = [str(data["message"])] if data.get("message") else []
            errors = data.get("errors")  # a list of objects; anything else was a TypeError
            for err in errors if isinstance(errors, list) else []:
                if isinstance(err, dict) and err.get("description"):
                    parts.append(str(err["description"]))
            if parts:
                return one_line(redact("; ".join(dict.fromkeys(parts))))
        return one_line(redact(json.dumps(data)))

    def next_link(self) -> str | None:
        """Target of `Link: <...>; rel="next"`, resolved against this URL."""
        header = self.header("Link")
        for target, rels in _links(header or ""):
            if "next" in rels:
                return resolve(self.url, target)
        return None


ERROR_TEXT_BYTES = 16 * 1024
"""What of an answer that is no JSON is searched for its message."""
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def plain_text(body: bytes, redact: Callable[[str], str] = _as_is) -> str:
    """An answer that is no JSON as one line of at most 300 characters: an HTML error page
    (a proxy's `502 Bad Gateway`) by its title, else its text without tags, and line breaks
    and runs of spaces made one space. The page as it was split the `error:` line over its
    markup, and a long head could push the status out of the 300 characters shown.

    `redact` (the client's, removing the token) sees the text before it is cut: a proxy's
    error page that echoes the request's `Authorization` header, cut first, kept the part
    of the token before the cut, which no redactor recognises. A head cut inside a word
    loses that word for the same reason."""
    head = body[:ERROR_TEXT_BYTES]
    cut = max(head.rfind(c) for c in (b" ", b"\t", b"\n", b"\r", b">"))
    if len(body) > len(head) and cut >= 0:  # a head of one word shows its first 300 alone
        head = head[: cut + 1]
    title = _TITLE.search(head)
    text = (title.group(1) if title else head).decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        text = _TAG.sub(" ", text)
    return one_line(redact(text))


def one_line(text: str) -> str:
    """`text` as the error line shows an answer's: line breaks and runs of blanks made one
    space, at most `SHOWN_CHARS` long. An API message of several lines split the line (and
    the run's row of cdr runs), and one of 60 KB was shown whole."""
    return " ".join(text.split())[:SHOWN_CHARS]


def not_json(body: bytes, error: object, redact: Callable[[str], str] = _as_is) -> str:
    """Why an answer is no JSON, for its error: an HTML page (a captive portal's, a proxy's
    login) by its title, which says whose it is; the parser's `error` said only `invalid
    char in json text`. `redact` as for `plain_text`."""
    if body.lstrip()[:1] == b"<":
        return f"an HTML page: {plain_text(body, redact)}"
    return redact(str(error))


_QUOTED = r'"(?:[^"\\]|\\.)*"'
_LINK_PARAM = re.compile(r"\s*;\s*([^;,=\s]+)\s*(?:=\s*(" + _QUOTED + r'|[^;,"]*))?')
"""One `; name=value` of a link, the value a token or a quoted string (commas allowed)."""
_LINK_VALUE = re.compile(
    r"\s*<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:" + _QUOTED + r'|[^;,"]*))?)*)'
)


def _links(header: str) -> list[tuple[str, set[str]]]:
    """(target, relation types) of each link of a `Link` header (RFC 8288): a quoted
    parameter may hold commas and semicolons, and `rel` is a space-separated list, so
    `rel="next"` is next and `rel="nextpage"` is not."""
    links: list[tuple[str, set[str]]] = []
    pos = 0
    while pos < len(header):
        value = _LINK_VALUE.match(header, pos)
        if value is None:
            break
        rels: set[str] = set()
        for name, raw in _LINK_PARAM.findall(value.group(2)):
            if name.lower() == "rel":
                text = raw[1:-1] if raw.startswith('"') else raw
                rels.update(t.lower() for t in text.split())
        links.append((value.group(1), rels))
        pos = value.end()
        comma = header.find(",", pos)
        if comma < 0:
            break
        pos = comma + 1
    return links


_URL_IN_TEXT = re.compile(r"https?://[A-Za-z0-9.\-]+(?::\d+)?")
_HOST_IN_TEXT = re.compile(r"\b(analytics[A-Za-z0-9\-]*\.webexapis\.com)\b")


def region_from_451(response: Response) -> str | None:
    """Base URL (scheme://host[:port]) of the region named in a 451 body, if any."""
    try:
        text = json.dumps(response.json())
    except (ValueError, UnicodeDecodeError):
        text = response.body.decode("utf-8", "replace")
    location = response.header("Location")
    if location:
        text = location + " " + text
    url = _URL_IN_TEXT.search(text)
    if url:
        return url.group(0)
    host = _HOST_IN_TEXT.search(text)
    return f"https://{host.group(1)}" if host else None


def rebase(url: str, base: str) -> str:
    """`url` with the scheme and host of `base` (a 451 names another region)."""
    p, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((b.scheme, b.netloc, p.path, p.query, ""))


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with its query made of `params` (a window's first request, asked again)."""
    p = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, p.path, urllib.parse.urlencode(params), ""))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the port as given or the scheme's default: the token
    goes to the configured origin, not to another port of the same host."""
    p = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(p.scheme)
    return p.scheme, (p.hostname or "").lower(), p.port or default


def html_page(path: Path, content_type: str | None) -> bool:
    """Whether a download saved at `path` is an HTML page (a proxy's or captive portal's,
    an expired link's error page) rather than a report: a ZIP or CSV never starts with `<`."""
    if (content_type or "").split(";")[0].strip().lower() == "text/html":
        return True
    with open(path, "rb") as f:
        head = f.read(512).removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body"))


AUTH_HINT = (
    "check the token (WEBEX_TOKEN / [fetch] token_file): it may be expired or lack scope "
    "spark-admin:calling_cdr_read and the admin role 'Webex Calling Detailed Call History API "
    "access' (Reports: analytics:read_all)"
)
ORG_HINT = (
    "set [fetch] org_id (CDR_FETCH_ORG_ID) to the org's id and this lookup is skipped: "
    "GET /v1/people/me needs scope spark:people_read, which a token made for the CDR scopes "
    "alone (a service app's) may not have; else " + AUTH_HINT
)


def org_hint(status: int) -> str:
    """The hint for people/me refused: 403 is a token without spark:people_read (set the
    org instead), 401 one expired or wrong like any other."""
    return ORG_HINT if status == 403 else AUTH_HINT


STORAGE_HINT = (
    "a report's download link expires: run the same command again for a new one (the host is "
    "not Webex's, so the token is not the problem)"
)
OFF_API_HINT = "not followed; a proxy (--base-url) must pass pages and Link headers on unchanged"


def broken(exc: BaseException) -> bool:
    """Whether `exc` is an answer cut short on its way (the host was reached)."""
    return isinstance(exc, (BrokenTransfer, http.client.IncompleteRead))


def not_http(exc: BaseException) -> bool:
    """Whether `exc` is an answer without an HTTP status line (a TLS port asked in plain
    http answers TLS bytes; a port of another service its own protocol)."""
    closed = isinstance(exc, http.client.RemoteDisconnected)  # a BadStatusLine too
    return isinstance(exc, http.client.BadStatusLine) and not closed


def failure(exc: BaseException) -> str:
    """Why a request got no usable answer, for its log line and error. An answer that is not
    HTTP shows none of its text: its first line (up to 64 KiB: binary, line breaks, a page's
    records and their people) was the whole of the reason shown."""
    if not_http(exc):
        return "the answer has no HTTP status line"
    return str(getattr(exc, "reason", exc))


def unreachable(
    shown: str,
    attempts: int,
    reason: str,
    slow: tuple[float, float] | None,
    exc: BaseException | None = None,
) -> tuple[str, str | None]:
    """(message, hint) for a request that failed `attempts` times on the connection, the last
    with `exc`. `slow` (timeout, deadline in seconds) when the host took the connection and
    then kept the answer waiting: the network hint sent the operator to look for a host that
    was there. An answer cut short (`broken`) or not HTTP came from a host that answered:
    `cannot reach` it was wrong there too."""
    again = "rerunning is safe: it resumes from the watermark"
    if exc is not None and not_http(exc):
        return (
            f"{shown} answered something that is not HTTP at each of {attempts} attempts: {reason}",
            "check the scheme and port of --base-url (https:// for a TLS port: asked in plain "
            f"http, it answers TLS bytes), or what a proxy in between answers; {again}",
        )
    if exc is not None and broken(exc):
        if reason.startswith("IncompleteRead("):  # http.client's, of a chunked answer
            reason = "the connection closed before the end of its answer"
        return (
            f"{shown} broke off its answer at each of {attempts} attempts: {reason}",
            "the host answered, but the transfer was cut short (a proxy or the network "
            "dropping long transfers): lower [fetch] page_size for smaller pages, or check "
            f"the proxy; {again}",
        )
    if slow is None:
        return (
            f"cannot reach {shown} after {attempts} attempts: {reason}",
            f"check the network, proxy settings and the host (--region, --base-url); {again}",
        )
    timeout, deadline = slow
    return (
        f"{shown} did not answer in time after {attempts} attempts: {reason}",
        f"the host (or a proxy in between) took the connection but answered slower than "
        f"[fetch] timeout_seconds allows ({timeout:g} s a wait, {deadline:g} s an answer): "
        f"raise it if the host is only slow; {again}",
    )


def web_url(url: str) -> bool:
    """Whether `url` is an http or https URL with a host and a usable port. urllib also
    opens `file:`, `ftp:` and `data:`: a report's downloadURL (or a redirect of its
    download) naming a local file had it read as the report, on the word of whatever
    answered. A port past 65535 or not a number, or a broken `[` host, raised ValueError
    wherever the URL was read: a next link or a redirect naming one crashed the run."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is none
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f-\U0010ffff]+")
"""What a request target may not hold as it is (RFC 3986): controls, blanks, non-ASCII."""


def resolve(base: str, target: str) -> str:
    """`target` (a next link, a redirect's Location) resolved against `base`; as it came
    when it cannot be (`http://[broken`): `web_url` then refuses it, and the error names it.
    Sent as `request_url` has it, header text being read as Latin-1: its characters are its
    bytes (UTF-8 `ü` arrives as two, encoded as `%C3%BC`)."""
    try:
        url = urllib.parse.urljoin(base, target)
    except ValueError:
        return target
    # text past Latin-1 came from no header: its characters are not bytes, but UTF-8's
    return request_url(url, "latin-1" if all(ord(c) <= 0xFF for c in url) else "utf-8")


def request_url(url: str, charset: str = "utf-8") -> str:
    """`url` with a blank, a control or a letter past ASCII after the host percent-encoded
    (in `charset`), as browsers and curl send it: a server echoing a location name as it is
    (`locations=Berlin HQ`, `Zürich`) in a next link, or a report's `downloadURL` naming its
    file so, had http.client refuse the blank as a 'control character' (retried as a
    connection error, then 'cannot reach') and crash on a letter past ASCII."""
    if not _NOT_IN_URL.search(url):
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url

    def encoded(text: str) -> str:
        return _NOT_IN_URL.sub(lambda m: urllib.parse.quote(m.group(), encoding=charset), text)

    path, query, fragment = (encoded(t) for t in (parts.path, parts.query, parts.fragment))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, fragment))


def not_web(shown: str) -> tuple[str, str]:
    """(message, hint) for a link that is no usable http or https URL (no scheme, another
    scheme, or a host or port that is none)."""
    return (
        f"{shown} is no usable http or https URL; not followed",
        "the API (or a proxy, --base-url) named a link cdr fetch does not open; for a "
        "report, run the same command again for a new download link",
    )


def redirect_refusal(shown: str, target: str, hops: int) -> tuple[str, str | None]:
    """(message, hint) for too many redirects, or one off the API (a report's storage link
    aside): followed without the token, what the other host answers is no Webex data."""
    if hops > 5:
        return (
            f"{shown} redirected {hops} times in a row, the last to {target}: a redirect "
            "loop, not followed further",
            "a proxy (--base-url) or the API redirects in a loop; check --base-url, else "
            "rerun later (the run resumes from the watermark)",
        )
    return f"{shown} redirects off the API, to {target}", OFF_API_HINT
