"""A Control Hub report fetched whole: `GET /v1/reports/{id}` names its `downloadURL`, a
pre-signed link to a storage host, downloaded to disk as it arrives."""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path
from typing import Any

from cdr_pipeline.fetch import response as answers
from cdr_pipeline.fetch.client import FetchError, WebexClient
from cdr_pipeline.state.files import install_file, temp_name

log = logging.getLogger(__name__)


def download_report(client: WebexClient, report_id: str, dest: Path) -> dict[str, Any]:
    """Download a Control Hub report (`GET /v1/reports/{id}` -> `downloadURL`) to `dest`,
    written to disk as it arrives (a month of a large org is gigabytes) and installed
    atomically. Returns the report's metadata."""
    quoted = urllib.parse.quote(report_id, safe="")
    response = client.get(f"{client.api_url}/v1/reports/{quoted}")
    if response.status == 404:
        raise FetchError(
            f"report {report_id!r} not found ({response.message(client.redact)})",
            hint="list reports in Control Hub > Reports, or GET /v1/reports",
        )
    client.check(response, f"looking up report {report_id}")
    data = client.json(response, f"looking up report {report_id}")
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_partial_downloads(dest)
    tmp = temp_name(dest)  # hidden: never taken for a saved page to replay
    try:
        with open(tmp, "wb") as sink:
            # JSON text: a blank or a letter past ASCII in it is sent as UTF-8, percent-encoded
            download = client.get(answers.request_url(str(url)), sink=sink)
        client.check(download, f"downloading report {report_id}")
        if tmp.stat().st_size == 0:
            # a report is a ZIP (or a CSV with its header), never nothing: installed, the
            # empty file loaded as a report without records (exit 0), and the same empty
            # answer was skipped as loaded at every later try
            raise FetchError(
                f"downloading report {report_id}: {client.redact.url(str(url))} answered "
                f"HTTP {download.status} without a byte, not the report",
                hint="the report may not be ready for download yet, or the link expired: "
                "run the same command again later",
            )
        if answers.html_page(tmp, download.header("Content-Type")):
            raise FetchError(
                f"downloading report {report_id}: {client.redact.url(str(url))} answered an "
                "HTML page, not the report",
                hint="a proxy or portal answered, or the link expired: run it again",
            )
        install_file(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return {k: v for k, v in data.items() if k not in ("downloadURL", "downloadUrl")}


def _remove_partial_downloads(dest: Path) -> None:
    """Remove the temp files of downloads of `dest` that a kill -9 (an OOM kill, a
    scheduler's SIGKILL) cut off: hidden and never read, each was up to the size of the
    report, and every killed attempt left one more. The fetch lock is held, so no other
    download of it is under way."""
    for left in dest.parent.glob(f".{dest.name}.tmp-*"):
        size = left.stat().st_size
        left.unlink(missing_ok=True)
        log.info("removed %s, %d bytes of a download an earlier run did not finish", left, size)
