"""Where fetched data and fetch state live.

Pages: `<warehouse>/state/fetched/<source>/<org>/<window>/page-NNN.json.gz`, the
`{"items": [...]}` body byte for byte as the API sent it (never rewritten: it is data), gzip
with a fixed mtime so the same body gives the same bytes (and the same content hash, which
the ingest ledger skips). Each page is written atomically before it is ingested, so a crash
between fetch and ingest loses nothing: the next run ingests saved pages whose hash the
ledger does not list as loaded.

Watermarks: ledger table `watermarks`, one record per (source, org).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.fetch.digests import PageDigests
from cdr_pipeline.state.files import atomic_write_bytes, file_sha256
from cdr_pipeline.state.ledger import TS, Ledger
from cdr_pipeline.text import parse_stamp_ms

SOURCE_KINDS = {"feed": "api_feed", "stream": "api_stream", "report": "report"}

WATERMARKS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("org_id", pa.string()),
        ("org", pa.string()),
        ("watermark", TS),
        ("previous", TS),
        ("updated_at", TS),
        ("windows", pa.int64()),
        ("records", pa.int64()),
        ("message", pa.string()),
    ]
)


def fetched_dir(settings: Settings) -> Path:
    return settings.layout.fetched


def safe_name(text: str, default: str) -> str:
    """`text` as a folder or file name: unsafe characters replaced, at most 120 long; dots
    alone (`.`, `..`: this folder, its parent) too."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:120]
    if not name:
        return default
    return name.replace(".", "_") if name.strip(".") == "" else name


def org_folder(org_id: str) -> str:
    """A folder-safe org name: the UUID inside a Webex base64 id (`ciscospark://us/
    ORGANIZATION/<uuid>`), else the id with unsafe characters replaced."""
    padded = org_id + "=" * (-len(org_id) % 4)
    try:
        decoded = base64.b64decode(padded, altchars=b"-_", validate=False).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.startswith("ciscospark://") and "/" in decoded:
        return safe_name(decoded.rsplit("/", 1)[1], "org")
    return safe_name(org_id, "org")


def save_page(folder: Path, number: int, body: bytes) -> Path:
    """Write one page as gzip JSON, atomically. Same body, same bytes."""
    path = folder / f"page-{number:03d}.json.gz"
    atomic_write_bytes(gzip.compress(body, compresslevel=6, mtime=0), path)
    return path


def clear_window(folder: Path) -> None:
    """Remove the pages of an earlier fetch of the same window: this fetch supersedes them
    (they were ingested at the start of the run, or the fresh copy replaces them)."""
    if folder.is_dir():
        for old in folder.glob("page-*.json.gz"):
            old.unlink()


@dataclass
class PendingPage:
    path: Path
    source: str
    source_kind: str


def pending_pages(settings: Settings, ledger: Ledger) -> list[PendingPage]:
    """Saved pages and report downloads whose content the ingest ledger has not loaded."""
    root = fetched_dir(settings)
    if not root.is_dir():
        return []
    loaded = ledger.loaded_hashes()
    digests = PageDigests(root)  # pages unchanged since hashed are not read again
    out = []
    for source, kind in SOURCE_KINDS.items():
        base = root / source
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base).parts
            if not path.is_file() or any(p.startswith(".") for p in rel):
                continue
            if digests.of(path) not in loaded:
                out.append(PendingPage(path, source, kind))
    digests.save()
    return out


def rows_read_before(ledger: Ledger, path: Path) -> int:
    """The records the ingest ledger read of `path`'s content when it was loaded (the
    latest such load; every member of a ZIP), or 0: a file skipped as loaded before reads
    none itself."""
    files = ledger.files()
    if files.is_empty():
        return 0
    done = files.filter(
        (pl.col("content_sha256") == file_sha256(path))
        & pl.col("status").is_in(["loaded", "empty"])
    )
    if done.is_empty():
        return 0
    last = done["run_id"][-1]
    return int(done.filter(pl.col("run_id") == last)["rows_read"].sum())


def superseded(pages: list[PendingPage], ledger: Ledger) -> list[PendingPage]:
    """The pages of `pages` whose window (`<start>_<end>` folder) ends before the watermark
    of their source and org. The watermark passes a window only once the window was loaded
    cleanly (by this page's fetch or a later one, in the same bounds or others), so such a
    page still pending is one that failed to load and has been fetched again since:
    replayed, it failed again at every run (exit 3 for ever). The first run after a crash
    replays a page before it moves the watermark, so no page that never had its turn is
    among them."""
    marks: dict[tuple[str, str], datetime | None] = {}
    out = []
    for page in pages:
        if page.source not in ("feed", "stream"):
            continue
        org = page.path.parent.parent.name
        if (page.source, org) not in marks:
            # the latest of the org's watermarks, its locations' included: the window was
            # fetched again since, and a run whose watermark is still before it asks again
            found = [
                r["watermark"]
                for r in _watermark_rows(ledger, page.source)
                if r["org"] == org or r["org"].startswith(org + LOCATIONS_MARK)
            ]
            mark = max(found, default=None)
            marks[page.source, org] = (
                mark.replace(tzinfo=UTC) if mark is not None and mark.tzinfo is None else mark
            )
        mark, end = marks[page.source, org], window_end(page.path.parent.name)
        if mark is not None and end is not None and end < mark:
            out.append(page)
    return out


def window_end(folder: str) -> datetime | None:
    """The end of the window a folder of saved pages names (`<start>_<end>`), or None."""
    return parse_stamp_ms(folder.rsplit("_", 1)[-1])


LOCATIONS_MARK = ".locations-"


def watermark_key(org: str, locations: Sequence[str] | None) -> str:
    """What a watermark is kept under: the org folder for a run over all locations, and for
    a run restricted to some locations the org folder and a digest of their names. A run for
    one site moved the org's watermark, and the next run over all of them started from it:
    the other locations' records of that range were never fetched."""
    if not locations:
        return org
    names = "\n".join(sorted(set(locations))).encode()
    return f"{org}{LOCATIONS_MARK}{hashlib.sha256(names).hexdigest()[:12]}"


def _watermark_rows(ledger: Ledger, source: str) -> list[dict[str, Any]]:
    df = ledger.read("watermarks", WATERMARKS_SCHEMA)
    return [] if df.is_empty() else df.filter(df["source"] == source).to_dicts()


def read_watermark(
    ledger: Ledger, source: str, org: str, fallback: str | None = None
) -> dict[str, Any] | None:
    """The watermark of `source` kept under `org` (see `watermark_key`), else the one kept
    under `fallback` (the org's, which covers every location), or None."""
    rows = _watermark_rows(ledger, source)
    for key in (org, fallback):
        found = [r for r in rows if r["org"] == key]
        if found:
            return found[-1]
    return None


def write_watermark(
    ledger: Ledger,
    *,
    source: str,
    org_id: str,
    org: str,
    watermark: datetime,
    previous: datetime | None,
    windows: int,
    records: int,
    message: str | None = None,
) -> None:
    row = {
        "source": source,
        "org_id": org_id,
        "org": org,
        "watermark": watermark,
        "previous": previous,
        "updated_at": datetime.now(UTC),
        "windows": windows,
        "records": records,
        "message": message,
    }
    ledger.write("watermarks", f"{source}-{org}", [row], WATERMARKS_SCHEMA)
