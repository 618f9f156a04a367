"""A fetched page: its records, their report times, and whether the ingest ledger accounts
for every one of them (the condition for the watermark to pass a window)."""

from __future__ import annotations

import codecs
import functools
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import ijson

from cdr_pipeline.fetch.client import ERROR_BODY_BYTES, FetchError
from cdr_pipeline.fetch.redactor import Redactor
from cdr_pipeline.fetch.response import Response, loads, not_json
from cdr_pipeline.fetch.results import WindowResult
from cdr_pipeline.fetch.store import clear_window, save_page
from cdr_pipeline.fetch.windows import api_time, parse_time
from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_guard import JsonGuard
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.ingest.results import IngestResult
from cdr_pipeline.schema.base import normalize_header


def unaccounted(ingest: IngestResult, pages: Mapping[Path, int]) -> list[str]:
    """What of `pages` (path -> records the API sent) the ingest ledger does not account
    for: a page not loaded (failed, or missing from the run), or one whose rows read differ
    from its records or are not all loaded, duplicate or rejected. Empty when every record
    is accounted for: only then may the watermark pass the window."""
    by_path = {Path(f.path): f for f in ingest.files}
    problems = []
    for page, records in pages.items():
        f = by_path.get(page)
        if f is None:
            problems.append(f"{page}: not ingested")
        elif f.status == "skipped":
            continue  # the same bytes were loaded (and counted) before
        elif f.status == "empty" and records == 0:
            continue  # a window without records, kept as such
        elif f.status != "loaded":
            problems.append(f"{page}: {f.status}: {f.message}")
        elif f.rows_read != records or f.rows_read != (
            f.rows_loaded + f.rows_duplicate + f.rows_rejected
        ):
            problems.append(
                f"{page}: {records} record(s) sent, {f.rows_read} read, {f.rows_loaded} "
                f"loaded, {f.rows_duplicate} duplicate, {f.rows_rejected} rejected"
            )
    return problems


SCALARS = frozenset({"string", "number", "boolean", "null", "start_array"})


def page_records(
    raw: bytes, redact: Redactor, url: str, limits: Limits | None = None
) -> tuple[int, datetime | None]:
    """(records, latest `Report time`) of a page: `page_scan` without the Report IDs."""
    scan = page_scan(raw, redact, url, limits)
    return scan.records, scan.latest


class PageScan(NamedTuple):
    records: int
    latest: datetime | None
    ids: bytes | None
    """A digest of the page's records as (`Report ID`, `Report time`) pairs, None when a
    record has no Report ID (or several)."""
    orgs: frozenset[str] = frozenset()
    """The `Org UUID`s of its records, lower case."""


def page_scan(
    raw: bytes,
    redact: Redactor,
    url: str,
    limits: Limits | None = None,
    length: int | None = None,
    *,
    chunked: bool = False,
    until: datetime | None = None,
) -> PageScan:
    """(records, latest `Report time` no later than `until`, Report IDs' digest) of a page,
    checking that it is a JSON object with an `items` list of objects (a list of anything
    else is no Webex data: saved, it would fail every ingest). Streamed behind the JSON
    limits' guard, as the ingest reads the page: parsed whole, a page of millions of tiny
    items (`{}`) took 25 times its size in memory."""
    try:
        scan, lists = _scan(raw, limits or Limits(), until)
    except BadInput as exc:  # past a JSON limit of the ingest (cdr.toml), which reads it
        raise FetchError(
            f"{redact.url(url)}: the answer is past what the ingest reads ("
            f"{redact(_first_line(exc))})",
            hint=exc.hint or "check --base-url: a proxy may answer instead of Webex",
        ) from None
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        if _cut(exc) and (length == len(raw) or chunked):
            raise _cut_short(redact.url(url), None if chunked else length) from None
        why = not_json(raw, _first_line(exc), redact)
        raise FetchError(
            f"{redact.url(url)}: the answer is not JSON ({why})",
            hint="check --base-url: a proxy or captive portal may answer instead of Webex",
        ) from None
    except _NotRecords:
        raise FetchError(
            f"{redact.url(url)}: the answer's 'items' are not call records (JSON objects)",
            hint="check --base-url: a proxy or another service may answer instead of Webex",
        ) from None
    if not lists:
        said = api_error(raw, redact)
        raise FetchError(
            f"{redact.url(url)}: the answer has no 'items' list"
            + (f"; it is an error of the API, sent with HTTP 200: {said}" if said else ""),
            hint="rerun later (the run resumes from the watermark); if it persists, give the "
            "trackingId to Cisco support"
            if said
            else "check --base-url: a proxy or another service may answer instead of Webex",
        )
    return scan


def _cut(exc: Exception) -> bool:
    """Whether a parser's error is JSON that stops before its end."""
    text = _first_line(exc)
    return isinstance(exc, ijson.IncompleteJSONError) and (
        "premature EOF" in text or "Incomplete or empty" in text
    )


def _cut_short(shown: str, length: int | None) -> FetchError:
    """The error of a page whose JSON stops where its framing ended it: at its Content-Length
    (`length`), or at the last chunk of a chunked answer (None). A transfer broken on its way
    ends otherwise (retried); this answer was whole as sent, so a retry is no use."""
    again = "rerun later (the run resumes from the watermark)"
    if length is None:
        return FetchError(
            f"{shown}: the answer's last chunk ends inside its JSON: the server ended its "
            "answer before its JSON (no transfer broke); not retried",
            hint=f"{again}; if it persists, give the URL and time to Cisco support",
        )
    return FetchError(
        f"{shown}: the answer ends at its Content-Length ({length:,} bytes) inside its JSON: "
        "the server or a proxy sent a length short of its body (the rest was not read); not "
        "retried, as the same request gets the same length",
        hint=f"{again}; if it persists, check the proxy (--base-url) or report the API's "
        "wrong Content-Length to Cisco",
    )


def chunked(response: Response) -> bool:
    """Whether an answer came in chunks (its end was the last chunk, not a length)."""
    coding = (response.header("Transfer-Encoding") or "").lower()
    return coding.rsplit(",", 1)[-1].strip() == "chunked"


def content_length(response: Response) -> int | None:
    """The Content-Length of an answer not compressed (its body is then the bytes counted)."""
    coding = (response.header("Content-Encoding") or "identity").strip().lower()
    value = (response.header("Content-Length") or "").strip()
    return int(value) if coding == "identity" and value.isdigit() else None


def api_error(raw: bytes, redact: Redactor) -> str | None:
    """The message of an answer without records that is shaped as the API's errors
    (`message` or `errors`, and its `trackingId`): sent with HTTP 200, it was only 'the
    answer has no items list', which said neither what the API said nor whom to ask."""
    if len(raw) > ERROR_BODY_BYTES:
        return None
    try:
        data = loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not data.keys() & {"message", "errors"}:
        return None
    said = Response("", 200, {}, raw).message(redact)
    tracking = data.get("trackingId")
    return said + (f" (trackingId {redact(tracking)})" if isinstance(tracking, str) else "")


class _NotRecords(Exception):
    pass


def _first_line(exc: Exception) -> str:
    """The parser's message alone. yajl's is bytes when the text around the error is not
    UTF-8: its str() was that bytes' repr, one line of `b'...\\n ... (right here) ------^'`."""
    raw = exc.args[0] if exc.args else None
    if isinstance(exc, BadInput):
        text = exc.message
    else:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class _Tally:
    """Records, the latest `Report time` and the `Report ID`s of a page, as its events pass."""

    def __init__(self, until: datetime | None = None) -> None:
        self.records, self.with_id = 0, 0  # with_id: records with exactly one Report ID
        self.latest: datetime | None = None
        self.until = until
        self.ids: set[str] = set()
        self.this_id: list[str] = []
        self.this_time = ""  # the record's Report time as sent: an update changes it
        self.orgs: set[str] = set()

    def item(self, event: str) -> None:
        if event == "start_map":
            self.records += 1
            self.this_id, self.this_time = [], ""
        elif event == "end_map" and len(self.this_id) == 1:
            self.with_id += 1
            # with its Report time: a record updated while the window is paged comes again
            # on a later page, and a page of such updates alone read as a paging loop
            self.ids.add(f"{self.this_id[0]}\t{self.this_time}")
        elif event in SCALARS:
            raise _NotRecords

    def field(self, prefix: str, value: str) -> None:
        name = _field(prefix)
        if name == "report time":
            self.this_time = value.strip()
            rt = report_time(value)
            # one dated past its window (`until`) says nothing of how far the window is
            # covered: counted, it moved a late window's watermark to the window's end
            if rt is None or (self.until is not None and rt > self.until):
                return
            if self.latest is None or rt > self.latest:
                self.latest = rt
        elif name == "report id" and value.strip():
            self.this_id.append(value.strip())
        elif name == "org uuid" and value.strip():
            self.orgs.add(value.strip().lower())

    def scan(self) -> PageScan:
        digest = None
        if self.records and self.with_id == self.records:
            digest = hashlib.sha256("\n".join(sorted(self.ids)).encode()).digest()
        return PageScan(self.records, self.latest, digest, frozenset(self.orgs))


def _scan(raw: bytes, limits: Limits, until: datetime | None) -> tuple[PageScan, int]:
    """(records: items that are objects, latest `Report time` up to `until`, Report IDs'
    digest; `items` lists) of a top-level object; _NotRecords for an item that is not an
    object, `lists` 0 when `items` is no list."""
    guarded = JsonGuard(io.BytesIO(raw.removeprefix(codecs.BOM_UTF8)), limits, base=2)
    events = ijson.parse(io.BufferedReader(guarded))
    tally, lists = _Tally(until), 0
    for n, (prefix, event, value) in enumerate(events):
        if n == 0 and event != "start_map":
            return PageScan(0, None, None), 0
        if prefix == "items" and event != "end_array":
            if event != "start_array":
                return PageScan(0, None, None), 0
            lists += 1
        elif prefix == "items.item":
            tally.item(event)
        elif event == "string" and prefix.startswith("items.item."):
            tally.field(prefix, value)
    return tally.scan(), lists


@functools.lru_cache(maxsize=256)
def _field(prefix: str) -> str:
    """The key at `prefix` (`items.item.<key>`) as the ingest reads it (trimmed, case-folded)."""
    return normalize_header(prefix.removeprefix("items.item."))


def report_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_time(value.replace(" ", "T", 1))
    except ValueError:
        return None


def empty_answer(wr: WindowResult) -> bytes:
    """The page kept for a window the API answered without a record: no items, and the
    window it stands for, so that each such window's page has bytes of its own (the ledger
    skips a file whose content it has loaded, and a skipped file names no table)."""
    window = {"startTime": api_time(wr.start), "endTime": api_time(wr.end)}
    return json.dumps({"items": [], **window}).encode()


LOOP_HINT = "the API answered inconsistently; rerun later (the run resumes from the watermark)"

MAX_EMPTY_PAGES = 5
"""Pages without a record one after the other that a window may have: past them, next links
that keep coming over empty pages are a loop (up to the page limit, hours of requests)."""


def _has_bytes(response: Response, redact: Redactor) -> None:
    """Raise for an answer without a byte (a 204, or a 200 a gateway sends empty): it was
    taken for JSON cut at its framing, `ends at its Content-Length (0 bytes) inside its
    JSON: ... a length short of its body`, of a body there is none of."""
    if not response.body.strip():
        raise FetchError(
            f"{redact.url(response.url)} answered HTTP {response.status} without a byte, "
            "not a page of records (an empty window is HTTP 404 'No CDRs')",
            hint="check --base-url: a proxy or gateway may answer instead of Webex; rerun "
            "later (the run resumes from the watermark)",
        )


def save_window_pages(
    pages: Iterable[Response],
    redact: Redactor,
    folder: Path,
    wr: WindowResult,
    saved: dict[Path, int],
    limits: Limits | None = None,
) -> None:
    """Save each non-empty page of a window in `folder`, counting its records in `wr` and
    adding path -> records to `saved` as it goes: when the API fails mid-window, `saved`
    holds the pages it sent before. A page is read within the JSON `limits` of the ingest.
    A page that repeats an earlier one byte for byte is a paging loop under links that differ
    (a cursor that does not move): followed, it paged to the page limit, saving each copy;
    so is a page holding exactly the Report IDs, with the same Report times, of an earlier
    one (its bytes differ by a `trackingId` or the order: the same records again; records
    updated meanwhile, with a later Report time, are new; pages that overlap in part, as an
    offset shifted by records arriving meanwhile makes them, go on), and more than
    `MAX_EMPTY_PAGES` empty pages in a row (each new, none repeating)."""
    seen: dict[bytes, int] = {}
    seen_ids: dict[bytes, int] = {}
    empty = 0
    for response in pages:
        _has_bytes(response, redact)
        records, latest, ids, orgs = page_scan(
            response.body, redact, response.url, limits, content_length(response),
            chunked=chunked(response), until=wr.end,
        )  # fmt: skip
        wr.add_orgs(orgs)
        if not records:
            empty += 1
            if empty > MAX_EMPTY_PAGES:
                raise FetchError(
                    f"{redact.url(response.url)}: {empty} pages in a row without a record, each "
                    "naming a next page (the pages loop)",
                    hint=LOOP_HINT,
                )
            continue
        empty = 0
        digest = hashlib.sha256(response.body).digest()
        if digest in seen:
            raise FetchError(
                f"{redact.url(response.url)}: page {wr.pages + 1} of the window repeats page "
                f"{seen[digest]} byte for byte (the pages loop)",
                hint=LOOP_HINT,
            )
        if ids is not None and ids in seen_ids:
            raise FetchError(
                f"{redact.url(response.url)}: page {wr.pages + 1} of the window holds the "
                f"records of page {seen_ids[ids]} again, the same Report IDs and times "
                "(the pages loop)",
                hint=LOOP_HINT,
            )
        seen[digest] = wr.pages + 1
        if ids is not None:
            seen_ids[ids] = wr.pages + 1
        if wr.pages == 0:
            # pages of an earlier fetch of this window: superseded now that a fresh copy
            # arrives (they were ingested at the start of this run)
            clear_window(folder)
        wr.pages += 1
        wr.records += records
        if latest is not None and (wr.max_report_time is None or latest > wr.max_report_time):
            wr.max_report_time = latest
        # the bytes as the API sent them: the page is data, never rewritten
        saved[save_page(folder, wr.pages, response.body)] = records
        del response  # not held while the next page arrives (a page is up to 256 MiB)
    if wr.pages == 0 and not any(folder.glob("page-*.json.gz")):
        # a window without records (HTTP 404 'No CDRs'): kept as a page without records, so
        # the ingest ledger lists the window and call coverage counts its hours as fetched;
        # unsaved, a quiet night's window left its day uncovered, and the month's idle
        # figures unknown and its close refused
        saved[save_page(folder, 1, empty_answer(wr))] = 0
