"""The pages of one window of an analytics endpoint (`cdr_feed`, `cdr_stream`): `Link:
<...>; rel="next"` pagination, HTTP 451 followed to the org's region, 404 "No CDRs" as an
empty window, and the checks that stop a paging loop."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator, Mapping

from cdr_pipeline.fetch import response as answers
from cdr_pipeline.fetch.client import FetchError, WebexClient
from cdr_pipeline.fetch.limiter import INITIAL, PAGE
from cdr_pipeline.fetch.response import Response, rebase, region_from_451

log = logging.getLogger(__name__)

EMPTY_PAGE_RETRIES = 2
"""Times a next page answering 'No CDRs' is asked again before it ends the window."""
MAX_PAGES_PER_WINDOW = 10_000
"""Pages one window may have (a window is at most 12 hours; at the maximum page size that is
millions of records): past it, next links that never end are a loop, not data."""


def window_pages(
    client: WebexClient,
    endpoint: str,
    params: Mapping[str, str] | Callable[[], Mapping[str, str]],
) -> Iterator[Response]:
    """Every page of an analytics endpoint (`cdr_feed`, `cdr_stream`). Yields nothing for
    an empty window (HTTP 404 'No CDRs for requested time range'). `params` may be a
    function: the first request's query is then made at each send, after any wait (a
    window's start past the API's horizon by then is refused)."""
    fresh = params if callable(params) else None
    first = params() if callable(params) else params
    url: str | None = f"{client.analytics_url}/v1/{endpoint}?{urllib.parse.urlencode(first)}"
    kind = INITIAL
    redirects = 0
    read: set[str] = set()
    empty_pages = 0
    while url:
        response = client.get(url, kind, query=fresh if kind == INITIAL else None)
        if response.status == 451:
            redirects += 1
            target = region_from_451(response)
            shown = client.redact.url(url)
            if target is None or redirects > client.max_region_redirects:
                raise FetchError(
                    f"{shown} answered HTTP 451 (wrong region) "
                    + ("and names no region" if target is None else f"{redirects} times")
                    + f": {response.message(client.redact)}",
                    hint="set --region (us, eu, in, au, gov) or [fetch] host to your org's region",
                )
            if not client.trusted(target):
                raise FetchError(
                    f"{shown} answered HTTP 451 naming {client.redact.url(target)}, which is "
                    "not a Webex host; not following it with the token",
                    hint="set --region or [fetch] host explicitly",
                )
            log.warning(
                "%s: HTTP 451, the org's records live at %s; following (set --region or "
                "[fetch] host to skip this detour)",
                shown,
                target,
            )
            client.analytics_url = target.rstrip("/")
            url = rebase(url, target)
            continue
        if response.status == 404 and "no cdrs" in response.message().lower():
            if kind == INITIAL:  # the window is empty
                return
            # a next link that leads to no records: asked again (a hiccup would lose the
            # rest of the window), then taken as the end (a last page that was full)
            empty_pages += 1
            if empty_pages <= EMPTY_PAGE_RETRIES:
                client.back_off(client.redact.url(url), "'No CDRs' on a next page", empty_pages)
                continue
            log.warning(
                "%s: 'No CDRs' for page %d of %s, %d times; taken as the end of the window",
                client.redact.url(url),
                len(read) + 1,
                endpoint,
                empty_pages,
            )
            return
        client.check(response, f"fetching {endpoint}")
        yield response
        read.add(url)
        url, kind = _next_page(client, response, endpoint, read), PAGE
        if url is not None and len(read) >= MAX_PAGES_PER_WINDOW:
            # only a next page past the limit is a loop: a window of exactly as many pages
            # ended with an error after its last one, its watermark held for ever
            raise FetchError(
                f"{endpoint} gave more than {MAX_PAGES_PER_WINDOW:,} pages for one window",
                hint="the API keeps naming new pages (a paging loop); rerun later (the run "
                "resumes from the watermark)",
            )
        del response  # not held while the next page arrives


def _next_page(
    client: WebexClient, response: Response, endpoint: str, read: set[str]
) -> str | None:
    """The next link of a page, checked: a link off the API is not followed (the token
    may not go there, and an answer read without it is no Webex data), and a link back
    to a page already read in the window would page for ever."""
    url = response.next_link()
    if url is not None and not client.trusted(url):
        raise FetchError(f"the next link of {endpoint} leads off the API, to "
                         f"{client.redact.url(url)}", hint=answers.OFF_API_HINT)  # fmt: skip
    if url in read:
        raise FetchError(
            f"the pages of {endpoint} loop: the next link {client.redact.url(url)} was "
            "read before in this window",
            hint="the API answered inconsistently; rerun later (the run resumes from "
            "the watermark)",
        )
    return url
