"""HTTP client of the Webex APIs, on the standard library only.

What it does for every request: bearer token (only ever sent to Webex hosts or the configured
base URL), rate limits (docs/webex-dch.md#rate-limits: 1 initial request per minute per token plus
at most 10 pagination requests per minute), 429 honouring `Retry-After`, 5xx and connection errors
retried with exponential backoff and jitter, HTTP 451 followed to the region the body names, 404 "No
CDRs for requested time range" as an empty window, `Link: <...>; rel="next"` pagination. Every URL
and message that leaves this module goes through a Redactor, so the token never appears in logs,
errors or files.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cdr_pipeline import __version__
from cdr_pipeline.errors import EXIT_UNEXPECTED, CdrError, ConfigError
from cdr_pipeline.fetch.limiter import INITIAL, OTHER, PAGE, RateLimiter, Sleep
from cdr_pipeline.fetch.redactor import Redactor

log = logging.getLogger(__name__)


class FetchError(CdrError):
    """The Webex API could not be reached or answered something unusable."""

    exit_code = EXIT_UNEXPECTED


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
        return json.loads(self.body.decode("utf-8-sig"))

    def message(self) -> str:
        """The API's error message (`message` or `errors[].description`), else the body text."""
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            return self.body[:300].decode("utf-8", "replace").strip()
        if isinstance(data, dict):
            parts = [str(data["message"])] if data.get("message") else []
            for err in data.get("errors") or []:
                if isinstance(err, dict) and err.get("description"):
                    parts.append(str(err["description"]))
            if parts:
                return "; ".join(dict.fromkeys(parts))
        return json.dumps(data)[:300]

    def next_link(self) -> str | None:
        """Target of `Link: <...>; rel="next"`, resolved against this URL."""
        header = self.header("Link")
        if not header:
            return None
        for part in re.finditer(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)", header):
            params = part.group(2).lower()
            if re.search(r'rel\s*=\s*"?([^";]*\s)?next[\s"]?', params + " "):
                return urllib.parse.urljoin(self.url, part.group(1))
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # redirects are followed by WebexClient itself, so the token never follows one blindly
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


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


def _base(url: str) -> str:
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def _rebase(url: str, base: str) -> str:
    p, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((b.scheme, b.netloc, p.path, p.query, ""))


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
    ) -> None:
        self._token = token
        self.redact = Redactor([token])
        self.analytics_url = analytics_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.sleep = sleep
        self.retries, self.backoff, self.max_backoff = retries, backoff_seconds, max_backoff_seconds
        self.max_throttled = max_throttled
        self.timeout = timeout_seconds
        self.max_region_redirects = max_region_redirects
        self.rng = rng or random.Random()
        self._trusted = {
            urllib.parse.urlsplit(u).hostname for u in (self.analytics_url, self.api_url)
        }
        self._opener = urllib.request.build_opener(_NoRedirect)
        self.requests = 0

    # -- trust -------------------------------------------------------------------------------
    def trusted(self, url: str) -> bool:
        """Hosts that may receive the token: Webex API hosts over https, and the hosts of the
        configured base URLs (a proxy or a test server)."""
        p = urllib.parse.urlsplit(url)
        host = (p.hostname or "").lower()
        if host in self._trusted:
            return True
        return p.scheme == "https" and (host == "webexapis.com" or host.endswith(".webexapis.com"))

    # -- one request with retries ------------------------------------------------------------
    def _send(self, url: str, auth: bool) -> Response:
        headers = {"Accept": "application/json", "User-Agent": f"cdr-pipeline/{__version__}"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(url, headers=headers, method="GET")
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as r:
                return Response(url, r.status, dict(r.headers.items()), r.read())
        except urllib.error.HTTPError as exc:
            body = exc.read() if exc.fp is not None else b""
            return Response(url, exc.code, dict(exc.headers.items()) if exc.headers else {}, body)

    def _delay(self, attempt: int) -> float:
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base + self.rng.uniform(0, self.backoff)

    def _back_off(self, shown: str, problem: str, attempt: int) -> None:
        """Wait before retry `attempt` (exponential backoff with jitter), saying why."""
        pause = self._delay(attempt)
        log.warning("%s: %s; retry %d/%d in %.1fs", shown, problem, attempt, self.retries, pause)
        self.sleep(pause)

    def get(self, url: str, kind: str = OTHER) -> Response:
        """GET with rate limit, retries (5xx, connection errors), 429 Retry-After and
        3xx redirects (the token only goes to trusted hosts). Returns any final response;
        raises FetchError when retries are exhausted."""
        attempts = throttled = hops = 0
        # one limiter slot per logical request: retries are paced by the backoff and by the
        # server's Retry-After instead (a refused connection never reached the quota)
        self.limiter.acquire(kind)
        while True:
            shown = self.redact.url(url)
            try:
                response = self._send(url, self.trusted(url))
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                attempts += 1
                if attempts > self.retries:
                    raise FetchError(
                        f"cannot reach {shown} after {attempts} attempts: "
                        f"{self.redact(str(reason))}",
                        hint="check the network, proxy settings and the host (--region, "
                        "--base-url); rerunning is safe: it resumes from the watermark",
                    ) from None
                self._back_off(shown, self.redact(str(reason)), attempts)
                continue
            status = response.status
            if status == 429:
                throttled += 1
                if throttled > self.max_throttled:
                    raise FetchError(
                        f"{shown} kept answering HTTP 429 (too many requests) after "
                        f"{throttled} tries",
                        hint="another client may be using the same token; wait and rerun",
                    )
                pause = _retry_after(response.header("Retry-After"), 60.0)
                log.warning("%s: HTTP 429, waiting %.0fs (Retry-After)", shown, pause)
                self.sleep(pause)
                continue
            if status >= 500:
                attempts += 1
                if attempts > self.retries:
                    raise FetchError(
                        f"{shown} answered HTTP {status} after {attempts} attempts: "
                        f"{self.redact(response.message())}",
                        hint="the Webex service is failing; rerun later (the run resumes from "
                        "the watermark), check status.webex.com",
                    )
                self._back_off(shown, f"HTTP {status}", attempts)
                continue
            if status in (301, 302, 303, 307, 308) and response.header("Location"):
                hops += 1
                if hops > 5:
                    raise FetchError(f"{shown}: too many redirects")
                url = urllib.parse.urljoin(url, response.header("Location") or "")
                continue
            return response

    def check(self, response: Response, what: str) -> None:
        """Raise a clear error for a non-2xx response."""
        if 200 <= response.status < 300:
            return
        shown = self.redact.url(response.url)
        message = self.redact(response.message())
        if response.status in (401, 403):
            raise ConfigError(
                f"{what}: {shown} answered HTTP {response.status} ({message})",
                hint="check the token (WEBEX_TOKEN / [fetch] token_file): it may be expired or "
                "lack scope spark-admin:calling_cdr_read and the admin role 'Webex Calling "
                "Detailed Call History API access' (Reports: analytics:read_all)",
            )
        raise FetchError(
            f"{what}: {shown} answered HTTP {response.status} ({message})",
            hint="check --base-url/--region and the request parameters",
        )

    # -- API calls ---------------------------------------------------------------------------
    def org_id(self) -> str:
        """The org of the token's user (`GET /v1/people/me`)."""
        response = self.get(f"{self.api_url}/v1/people/me")
        self.check(response, "looking up the token's org")
        org = response.json().get("orgId")
        if not org:
            raise FetchError(
                "people/me answered without an orgId",
                hint="set [fetch] org_id in cdr.toml",
            )
        return str(org)

    def pages(self, endpoint: str, params: Mapping[str, str]) -> Iterator[Response]:
        """Every page of an analytics endpoint (`cdr_feed`, `cdr_stream`). Yields nothing for
        an empty window (HTTP 404 'No CDRs for requested time range')."""
        url: str | None = (
            f"{self.analytics_url}/v1/{endpoint}?{urllib.parse.urlencode(dict(params))}"
        )
        kind = INITIAL
        redirects = 0
        while url:
            response = self.get(url, kind)
            if response.status == 451:
                redirects += 1
                target = region_from_451(response)
                shown = self.redact.url(url)
                if target is None or redirects > self.max_region_redirects:
                    raise FetchError(
                        f"{shown} answered HTTP 451 (wrong region) "
                        + ("and names no region" if target is None else f"{redirects} times")
                        + f": {self.redact(response.message())}",
                        hint="set --region (us, eu, in, au, gov) or [fetch] host to your org's "
                        "region",
                    )
                if not self.trusted(target):
                    raise FetchError(
                        f"{shown} answered HTTP 451 naming {self.redact.url(target)}, which is not "
                        "a Webex host; not following it with the token",
                        hint="set --region or [fetch] host explicitly",
                    )
                log.warning(
                    "%s: HTTP 451, the org's records live at %s; following (set --region or "
                    "[fetch] host to skip this detour)",
                    shown,
                    target,
                )
                self.analytics_url = target.rstrip("/")
                url = _rebase(url, target)
                continue
            if response.status == 404 and "no cdrs" in response.message().lower():
                return
            self.check(response, f"fetching {endpoint}")
            yield response
            url, kind = response.next_link(), PAGE

    def report_download(self, report_id: str) -> tuple[bytes, dict[str, Any]]:
        """Download a Control Hub report: `GET /v1/reports/{id}` -> `downloadURL` -> bytes."""
        quoted = urllib.parse.quote(report_id, safe="")
        response = self.get(f"{self.api_url}/v1/reports/{quoted}")
        if response.status == 404:
            raise FetchError(
                f"report {report_id!r} not found ({self.redact(response.message())})",
                hint="list reports in Control Hub > Reports, or GET /v1/reports",
            )
        self.check(response, f"looking up report {report_id}")
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("items"), list) and data["items"]:
            data = data["items"][0]
        if not isinstance(data, dict):
            raise FetchError(f"report {report_id}: unexpected answer from the Reports API")
        url = data.get("downloadURL") or data.get("downloadUrl")
        if not url:
            status = data.get("status", "unknown")
            raise FetchError(
                f"report {report_id} has no download yet (status {status})",
                hint="Control Hub can take up to a day to generate a report; try again later",
            )
        download = self.get(str(url))
        self.check(download, f"downloading report {report_id}")
        meta = {k: v for k, v in data.items() if k not in ("downloadURL", "downloadUrl")}
        return download.body, meta


def _retry_after(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return default
