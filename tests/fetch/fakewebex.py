"""A small fake of the Webex endpoints `cdr fetch` uses, on a real HTTP server (127.0.0.1,
port 0, in a thread): people/me, cdr_feed, cdr_stream (Link pagination, 404 for an empty
window, 451 to another "region"), the Reports API and its download, plus scripted faults."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ORG_ID = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8xMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01NTU1NTU1NTU1NTU"
ORG_UUID = "11111111-2222-3333-4444-555555555555"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_records(n: int, first: datetime, step: timedelta, seed: str = "r") -> list[dict[str, Any]]:
    """Call-leg records with the API's header names as keys; `Report time` = first + i*step."""
    out = []
    for i in range(n):
        report = first + i * step
        start = report - timedelta(seconds=40 + i % 7)
        corr = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}-call-{i // 2}"))
        out.append(
            {
                "Start time": iso(start),
                "Answer time": iso(start + timedelta(seconds=3)),
                "Release time": iso(report - timedelta(seconds=1)),
                "Report time": iso(report),
                "Duration": 36,
                "Answered": "true",
                "Direction": "ORIGINATING" if i % 2 == 0 else "TERMINATING",
                "Call type": "SIP_ENTERPRISE",
                "Client type": "SIP" if i % 5 == 0 else "WXC_CLIENT",
                "Sub client type": "MOBILE_NETWORK" if i % 5 == 0 else "",
                "Calling number": f"+1555010{i % 1000:04d}",
                "Called number": "2001",
                "User": f"Test User {i % 13}",
                "User UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"user-{i % 13}")),
                "Org UUID": ORG_UUID,
                "Location": "Test Site",
                "Correlation ID": corr,
                "Report ID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}-report-{i}")),
                "Site timezone": "-300",
            }
        )
    return out


def report_zip(records: list[dict[str, Any]]) -> bytes:
    """A Control Hub report download: a ZIP holding one CSV with a UTF-8 BOM."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Calling Detailed Call History.csv", b"\xef\xbb\xbf" + text.getvalue().encode())
    return buf.getvalue()


@dataclass
class Fault:
    path: str
    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    after: int = 0
    """Matching requests answered normally before the fault (a fault on a later page)."""


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorized: bool
    status: int = 0


class FakeWebex:
    def __init__(
        self,
        token: str,
        records: list[dict[str, Any]] | None = None,
        *,
        inserted: dict[str, datetime] | None = None,
        page_cap: int | None = None,
    ) -> None:
        self.token = token
        self.records = sorted(records or [], key=lambda r: (r["Report time"], r["Report ID"]))
        self.inserted = inserted or {}
        self.page_cap = page_cap
        self.faults: list[Fault] = []
        self.redirect_to: str | None = None
        self.reports: dict[str, bytes] = {}
        self.report_file = ""
        """A file name the downloadURL ends with (`/download/<id>/<name>`), as it is."""
        self.extra_page_fields: dict[str, Any] = {}
        self.link_params: dict[str, str] = {}
        """Parameters the next links carry besides the request's (the API adds `orgId`)."""
        self.now: Callable[[], datetime] | None = None
        """The API's clock: set, a window starting before its horizon is refused (400)."""
        self.log: list[Request] = []
        self.sent_pages: list[bytes] = []
        """Bodies of the cdr_feed / cdr_stream pages served, as sent on the wire."""
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeWebex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def windows(self, endpoint: str) -> list[tuple[str, str]]:
        """(startTime, endTime) of the initial requests of each window (no pagination)."""
        return [
            (r.query["startTime"], r.query["endTime"])
            for r in self.log
            if r.path == f"/v1/{endpoint}" and "offset" not in r.query and r.status != 451
        ]

    # -- serving -----------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        authorized = h.headers.get("Authorization") == f"Bearer {self.token}"
        req = Request(parts.path, query, authorized)
        with self.lock:
            self.log.append(req)
            fault = next(
                (f for f in self.faults if parts.path.startswith(f.path) and f.times), None
            )
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            elif fault is not None:
                fault.times -= 1
        status, headers, body = self.route(parts.path, query, authorized, fault)
        req.status = status
        if status == 200 and parts.path in ("/v1/cdr_feed", "/v1/cdr_stream"):
            with self.lock:
                self.sent_pages.append(body)
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def route(
        self, path: str, query: dict[str, str], authorized: bool, fault: Fault | None
    ) -> tuple[int, dict[str, str], bytes]:
        js = {"Content-Type": "application/json"}
        if not authorized and not path.startswith("/download/"):
            return (
                401,
                js,
                b'{"message": "The request requires a valid access token."}',
            )
        if fault is not None:
            return fault.status, {**js, **fault.headers}, fault.body
        if path == "/v1/people/me":
            return 200, js, json.dumps({"id": "me", "orgId": ORG_ID}).encode()
        if path in ("/v1/cdr_feed", "/v1/cdr_stream"):
            if self.redirect_to:
                body = {
                    "message": "Requested data is not available in this region. Use "
                    f"{self.redirect_to}/v1/{path.rsplit('/', 1)[1]} for this org.",
                    "trackingId": "ROUTER_1",
                }
                return 451, js, json.dumps(body).encode()
            return self.cdrs(path, query)
        if path.startswith("/v1/reports/"):
            rid = path.rsplit("/", 1)[1]
            if rid not in self.reports:
                return 404, js, b'{"message": "Report not found"}'
            item = {
                "id": rid,
                "title": "Calling Detailed Call History",
                "status": "done",
                "downloadURL": f"{self.url}/download/{rid}"
                + (f"/{self.report_file}" if self.report_file else ""),
            }
            return 200, js, json.dumps({"items": [item]}).encode()
        if path.startswith("/download/"):
            rid = path.split("/")[2]
            return 200, {"Content-Type": "application/octet-stream"}, self.reports[rid]
        return 404, js, b'{"message": "no such endpoint"}'

    def cdrs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        js = {"Content-Type": "application/json"}
        start, end = parse(query["startTime"]), parse(query["endTime"])
        size = int(query.get("max", "500"))
        if self.page_cap:
            size = min(size, self.page_cap)
        offset = int(query.get("offset", "0"))
        if end <= start:
            return 400, js, b'{"message": "endTime must be later than startTime"}'

        horizon = timedelta(hours=12) if path.endswith("cdr_stream") else timedelta(days=30)
        if self.now is not None and start < self.now() - horizon:
            span = "12 hours" if path.endswith("cdr_stream") else "30 days"
            said = {"message": f"startTime can't be older than {span} from the current time"}
            return 400, js, json.dumps({**said, "trackingId": "ROUTER_3"}).encode()

        def when(r: dict[str, Any]) -> datetime:
            if path.endswith("cdr_stream"):
                return self.inserted[r["Report ID"]]
            return parse(r["Report time"])

        hits = [r for r in self.records if start <= when(r) <= end]
        if not hits:
            body = {
                "message": "No CDRs for requested time range and filters",
                "errors": [{"description": "No CDRs for requested time range and filters"}],
                "trackingId": "ROUTER_2",
            }
            return 404, js, json.dumps(body).encode()
        page = hits[offset : offset + size]
        headers = dict(js)
        if offset + size < len(hits):
            nxt = {**query, **self.link_params, "offset": str(offset + size)}
            headers["Link"] = f'<{self.url}{path}?{urlencode(nxt)}>; rel="next"'
        body = {"items": page, **self.extra_page_fields}
        return 200, headers, json.dumps(body).encode()
