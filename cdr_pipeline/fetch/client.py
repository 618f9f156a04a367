"""HTTP client of the Webex APIs, on the standard library only.

Per request: bearer token (only to Webex hosts or the configured base URL), rate limits
(docs/webex-dch.md#rate-limits), 429 and 5xx honouring `Retry-After`, 5xx and broken transfers
retried with backoff and jitter, HTTP 451 followed to the region the body names, 404 "No CDRs"
as an empty window, `Link: <...>; rel="next"` pagination. Every URL and message that leaves
this module goes through a Redactor: the token never appears in logs, errors or files.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from cdr_pipeline import __version__
from cdr_pipeline.errors import EXIT_UNEXPECTED, CdrError, ConfigError
from cdr_pipeline.fetch import response as answers
from cdr_pipeline.fetch import transport
from cdr_pipeline.fetch.delays import clock_skew, retry_after
from cdr_pipeline.fetch.limiter import OTHER, RateLimiter, Sleep
from cdr_pipeline.fetch.redactor import Redactor
from cdr_pipeline.fetch.response import Response, with_query
from cdr_pipeline.fetch.transport import ACCEPT_ENCODING, Unreadable, opener, read_body

log = logging.getLogger(__name__)

MAX_PAGE_BYTES = 256 * 1024 * 1024
"""A page held in memory: a full page of 5000 records is some 10-25 MB."""
MAX_REPORT_BYTES = 16 * 1024**3
"""A report download, written to disk as it arrives."""
MAX_RETRY_AFTER_SECONDS = 900.0
"""The longest a 429 or 5xx may make a run wait (holding the fetch lock); longer ends it."""
ERROR_BODY_BYTES = 64 * 1024
"""What is kept of an error answer's body: enough for its message."""


class FetchError(CdrError):
    """The Webex API could not be reached or answered something unusable."""

    exit_code = EXIT_UNEXPECTED


class WebexClient:
    """Authenticated GETs against the Webex APIs with retries, limits and redaction.

    `sleep` is used for backoff and `Retry-After`; pass the same fake clock/sleep to the
    `RateLimiter` in tests so nothing really waits."""

    def __init__(
        self,
        token: str,
        *,
        analytics_url: str,
        api_url: str,
        limiter: RateLimiter | None = None,
        sleep: Sleep = time.sleep,
        retries: int = 5,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 120.0,
        max_throttled: int = 10,
        timeout_seconds: float = 60.0,
        max_region_redirects: int = 3,
        rng: random.Random | None = None,
        deadline_seconds: float | None = None,
        max_page_bytes: int = MAX_PAGE_BYTES,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        renew: Callable[[], str] | None = None,
    ) -> None:
        self._token = token
        self._tokens = [token]
        self._readable: list[str] = []
        self.redact = Redactor(self._tokens)
        self.renew = renew
        """Reads the token's source again (`[fetch] token_file`, which a refresh job may
        rewrite during a long backfill): a 401 is asked again once with a new token."""
        self.analytics_url = analytics_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.sleep = sleep
        self.retries, self.backoff, self.max_backoff = retries, backoff_seconds, max_backoff_seconds
        self.max_throttled, self.max_region_redirects = max_throttled, max_region_redirects
        self.timeout = timeout_seconds
        # `timeout` bounds each wait for bytes; the deadline bounds a whole response, so a
        # server that trickles bytes or never ends its body cannot hold the run
        self.deadline = deadline_seconds if deadline_seconds is not None else 10 * timeout_seconds
        self.max_page_bytes, self.max_retry_after = max_page_bytes, max_retry_after
        self.rng = rng or random.Random()
        # scheme and host: a configured https host is not trusted over http, where the
        # token would travel in clear text
        self._trusted = {answers.origin(u) for u in (self.analytics_url, self.api_url)}
        self._opener, self._download = opener(self.deadline), opener(self.deadline, download=True)
        self.requests = 0

    def keep_readable(self, *values: str) -> None:
        """Show `values` (the run's org id and its UUID) in messages, though a token's last
        part is the org's UUID: the rest of the token stays hidden (`Redactor`)."""
        self._readable.extend(values)
        self.redact = Redactor(self._tokens, self._readable)

    # -- trust -------------------------------------------------------------------------------
    def trusted(self, url: str) -> bool:
        """Hosts that may receive the token: Webex API hosts over https, and the hosts of the
        configured base URLs (a proxy or a test server) over their configured scheme."""
        if not answers.web_url(url):  # a broken link names no host or port to trust
            return False
        if answers.origin(url) in self._trusted:
            return True
        p = urllib.parse.urlsplit(url)
        webex = f".{p.hostname or ''}".lower().endswith(".webexapis.com")  # or webexapis.com
        return p.scheme == "https" and webex and p.port in (None, 443) and not p.username

    # -- one request with retries ------------------------------------------------------------
    def _send(self, url: str, auth: bool, sink: BinaryIO | None = None) -> Response:
        if not answers.web_url(url):  # file:, ftp:, data: (urllib opens them)
            message, hint = answers.not_web(self.redact.url(url))
            raise FetchError(message, hint=hint)
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": f"cdr-pipeline/{__version__}",
        }
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(url, headers=headers, method="GET")
        self.requests += 1
        if sink is not None:  # a retry starts the download again
            sink.seek(0)
            sink.truncate()
        limit = MAX_REPORT_BYTES if sink is not None else self.max_page_bytes
        try:
            use = self._opener if sink is None else self._download
            with use.open(request, timeout=self.timeout) as r:
                body = read_body(r, limit, sink)
                if sink is None:  # a body the connection ended: is its JSON cut short?
                    answers.check_whole(r, body)
                return Response(url, r.status, answers.header_fields(r.headers.items()), body)
        except urllib.error.HTTPError as exc:
            body = transport.error_body(exc, ERROR_BODY_BYTES) if exc.fp is not None else b""
            headers = answers.header_fields(exc.headers.items()) if exc.headers else {}
            return Response(url, exc.code, headers, body)

    def _delay(self, attempt: int) -> float:
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base + self.rng.uniform(0, self.backoff)

    def back_off(self, shown: str, problem: str, attempt: int, at_least: float = 0.0) -> None:
        """Wait before retry `attempt` (backoff with jitter, at least `at_least`), saying why."""
        pause = max(self._delay(attempt), at_least)
        log.warning("%s: %s; retry %d/%d in %.1fs", shown, problem, attempt, self.retries, pause)
        self.sleep(pause)

    def _asked_wait(self, response: Response, shown: str, default: float) -> float:
        """Seconds a 429's or 5xx's `Retry-After` asks (`default` without one; a date from the
        answer's `Date`): a 503 for maintenance says when to come back. Longer than a run
        waits ends the run instead of holding the fetch lock for it."""
        pause = retry_after(response.header("Retry-After"), default, sent=response.header("Date"))
        if pause > self.max_retry_after:
            why = "the token's quota is used up" if response.status == 429 else "Webex is down"
            raise FetchError(
                f"{shown} answered HTTP {response.status} asking to wait {pause:.0f} s "
                f"(Retry-After), more than the {self.max_retry_after:.0f} s a run waits",
                hint=f"{why} for now; rerun later (the run resumes from the watermark)",
            )
        return pause

    def _wait_throttled(self, response: Response, shown: str, throttled: int) -> None:
        """Wait as a 429 asks (`Retry-After`), or fail after `max_throttled` of them."""
        if throttled > self.max_throttled:
            raise FetchError(
                f"{shown} kept answering HTTP 429 (too many requests) after {throttled} tries",
                hint="another client may be using the same token; wait and rerun",
            )
        pause = max(self._asked_wait(response, shown, 60.0), 1.0)  # `Retry-After: 0`: 1 s
        why = "Retry-After" if response.header("Retry-After") else "no Retry-After: a minute"
        log.warning("%s: HTTP 429, waiting %.0fs (%s)", shown, pause, why)
        self.sleep(pause)

    def _wait_failing(self, response: Response, shown: str, attempts: int) -> None:
        """Back off after a 5xx or 408 (as long as its `Retry-After` asks), or fail past
        `retries`."""
        if attempts > self.retries:
            raise FetchError(
                f"{shown} answered HTTP {response.status} after {attempts} attempts: "
                f"{response.message(self.redact)}",
                hint="the Webex service is failing; rerun later (the run resumes from "
                "the watermark), check status.webex.com",
            )
        asked = self._asked_wait(response, shown, 0.0)
        self.back_off(shown, f"HTTP {response.status}", attempts, asked)

    def get(
        self,
        url: str,
        kind: str = OTHER,
        sink: BinaryIO | None = None,
        query: Callable[[], Mapping[str, str]] | None = None,
    ) -> Response:
        """GET with rate limit, retries (5xx, connection errors, a response that does not end
        within the deadline), 429 Retry-After and 3xx redirects (the token only goes to
        trusted hosts). Returns any final response; its body is in `sink` when one is given.
        `query`, when given, is asked for the URL's query at every send (after the limiter's
        and every retry's wait): a window's start is clamped to the API's horizon then.
        Raises FetchError when retries are exhausted or a body passes its size limit."""
        attempts = throttled = hops = 0
        # one limiter slot per logical request: retries are paced by the backoff and by the
        # server's Retry-After instead (a refused connection never reached the quota)
        self.limiter.acquire(kind)
        while True:
            url = url if query is None else with_query(url, query())
            shown = self.redact.url(url)
            try:
                response = self._send(url, self.trusted(url), sink)
            except Unreadable as exc:
                raise FetchError(f"{shown}: {exc}; not read further", hint=exc.hint) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = answers.failure(exc)
                attempts += 1
                if attempts > self.retries:
                    # a bare timeout came after the connection: the host is there, but slow
                    slow = (self.timeout, self.deadline) if isinstance(exc, TimeoutError) else None
                    message, hint = answers.unreachable(
                        shown, attempts, self.redact(reason), slow, exc
                    )
                    raise FetchError(message, hint=hint) from None
                self.back_off(shown, self.redact(reason), attempts)
                continue
            status = response.status
            if status == 401 and self._renewed(url):
                continue
            if status == 429:
                throttled += 1
                self._wait_throttled(response, shown, throttled)
                continue
            if status >= 500 or status == 408:  # 408: a proxy gave up waiting; try again
                attempts += 1
                self._wait_failing(response, shown, attempts)
                continue
            if status in (301, 302, 303, 307, 308) and response.header("Location"):
                hops += 1
                url = answers.resolve(url, response.header("Location") or "")
                query = None  # the Location names its own query
                if hops > 5 or (sink is None and not self.trusted(url)):
                    message, hint = answers.redirect_refusal(shown, self.redact.url(url), hops)
                    raise FetchError(message, hint=hint)
                continue
            return response

    def _renewed(self, url: str) -> bool:
        """After a 401 from a host that had the token: whether the token's source now holds
        another one (the file a token refresh rewrote since the run began), then used from
        here on. The same token again is no retry: the 401 stands."""
        if self.renew is None or not self.trusted(url):
            return False
        try:
            token = self.renew()
        except CdrError as exc:  # gone, unreadable or now group-readable: the 401 stands
            log.warning("%s: HTTP 401; the token's source was read again and refused: %s",
                        self.redact.url(url), self.redact(exc.one_line()))  # fmt: skip
            return False
        if token in self._tokens:
            return False
        self._token = token
        self._tokens.append(token)
        self.redact = Redactor(self._tokens, self._readable)
        log.warning("%s: HTTP 401; the token file holds a new token, asking again with it",
                    self.redact.url(url))  # fmt: skip
        return True

    def check(self, response: Response, what: str, auth_hint: str = answers.AUTH_HINT) -> None:
        """Raise a clear error for a non-2xx response (`auth_hint` for a 401 or 403)."""
        if 200 <= response.status < 300:
            return
        shown = self.redact.url(response.url)
        if not self.trusted(response.url):
            # a storage host (a report's pre-signed download link) never had the token, and
            # its error body may echo the link's own credentials: neither is shown
            raise FetchError(
                f"{what}: {shown} answered HTTP {response.status}",
                hint=answers.STORAGE_HINT,
            )
        said = response.message(self.redact)
        message = f"{what}: {shown} answered HTTP {response.status} ({said})"
        if response.status in (401, 403):
            raise ConfigError(message, hint=auth_hint)
        hint = "check --base-url/--region and the request parameters"
        raise FetchError(message, hint=hint + clock_skew(response.header("Date")))

    def json(self, response: Response, what: str) -> Any:
        """The JSON of a 2xx answer; an answer that is not JSON (a proxy's or captive
        portal's HTML page) is a FetchError naming the URL, not a crash."""
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError(
                f"{what}: {self.redact.url(response.url)} answered HTTP {response.status} with "
                f"something that is not JSON ({answers.not_json(response.body, exc, self.redact)})",
                hint="check --base-url/--region: a proxy or captive portal may answer instead "
                "of Webex",
            ) from None

    # -- API calls ---------------------------------------------------------------------------
    def org_id(self) -> str:
        """The org of the token's user (`GET /v1/people/me`)."""
        response = self.get(f"{self.api_url}/v1/people/me")
        self.check(response, "looking up the token's org", answers.org_hint(response.status))
        data = self.json(response, "looking up the token's org")
        org = data.get("orgId") if isinstance(data, dict) else None
        if not org or not isinstance(org, str):
            raise FetchError(
                "people/me answered without an orgId",
                hint="set [fetch] org_id in cdr.toml",
            )
        return str(org)

    def pages(
        self, endpoint: str, params: Mapping[str, str] | Callable[[], Mapping[str, str]]
    ) -> Iterator[Response]:
        """Every page of an analytics endpoint (`fetch/paging.py`). `params` may be a function:
        the first request's query is then made at each send, after any wait."""
        from cdr_pipeline.fetch.paging import window_pages

        return window_pages(self, endpoint, params)

    def report_download(self, report_id: str, dest: Path) -> dict[str, Any]:
        """Download a Control Hub report to `dest` (`fetch/reports_api.py`); its metadata."""
        from cdr_pipeline.fetch.reports_api import download_report

        return download_report(self, report_id, dest)
