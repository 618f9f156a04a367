"""`generate_scale_samples`: a large input set for scale tests, fast and in bounded memory.

The calls are cloned from a template of whole call units (`bulk.py`) and written as Control
Hub exports, one per calendar month, in the report's spellings and formats (BOM, CRLF,
`TRUE`/`FALSE`, `NA`); inside a file the days are interleaved, as in a report that spans
many days. The device snapshots, activation events and entitlements are those of the same
seeded world as `generate_samples` writes them, so every Webex Go leg's user has a device
that was ONLINE at the time of the call, and the licence reports work on the set.

What it leaves out, unlike `generate_samples`: the API JSON page, the ZIP without
extension, the overlapping re-deliveries with updated records and the labelled Webex Go
calls after a device was deleted (a cloned call moves in time, so it uses Webex Go only when
its device is ONLINE). The device-file anomalies are labelled as usual.
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from cdr_pipeline.samples import device_files as dfiles
from cdr_pipeline.samples.bulk import (
    Batch,
    GenerationProgress,
    ProgressCallback,
    header_bytes,
    stream_batches,
)
from cdr_pipeline.samples.bulk_template import Template, template
from cdr_pipeline.samples.device_files import Anomaly
from cdr_pipeline.samples.world import build_world
from cdr_pipeline.samples.writer import write_plain_csv

log = logging.getLogger(__name__)

LABELS_NAME = ".labels.json"
"""The anomaly labels inside the output folder; hidden, so `cdr ingest <folder>` skips it."""


@dataclass(frozen=True)
class ScaleResult:
    """What `generate_scale_samples` wrote, with counts a summary can print."""

    files: list[Path]
    legs: int
    webex_go_legs: int
    devices: int
    bytes_written: int
    snapshot_rows: int = 0
    activation_events: int = 0
    entitlement_rows: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    labels: Path | None = None
    last_event_time: str = ""
    """The latest activation event's time (ISO, UTC; `device_files.last_event_time`)."""


def generate_scale_samples(
    out_dir: Path,
    *,
    legs: int,
    seed: int = 7,
    start: date = date(2026, 9, 1),
    days: int = 61,
    labels_path: Path | None = None,
    progress: ProgressCallback | None = None,
) -> ScaleResult:
    """Write `legs` call legs as monthly Control Hub exports, plus the device snapshots,
    activation events and entitlements of the same world, into `out_dir`.

    Memory follows a batch of 25k legs, not `legs`. `progress` is called after every batch
    written. The anomaly labels go to `labels_path` (default `out_dir/.labels.json`, hidden
    from `cdr ingest`). Same arguments, same bytes.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    out_dir.mkdir(parents=True, exist_ok=True)
    tpl = template(seed, start, days, "controlhub")
    sinks = _MonthFiles(out_dir, start, days)
    done = {"rows": 0, "bytes": 0, "go": 0}

    def write(batch: Batch) -> None:
        for month, (first, stop) in sorted(batch.month_rows.items()):
            data = batch.text(first, stop)
            sinks.get(month).write(data)
            done["bytes"] += len(data)
        done["rows"] += len(batch.lines)
        done["go"] += batch.webex_go
        if progress is not None:
            progress(GenerationProgress(out_dir.name, done["rows"], legs, done["bytes"]))

    try:
        written = stream_batches(
            tpl, legs=legs, seed=seed, start=start, days=days, write=write, by_month=True
        )
    finally:
        sinks.close()
    files = list(sinks.paths)
    anomalies: list[Anomaly] = []
    counts = _device_files(out_dir, files, tpl, anomalies, start, days, seed)
    labels = labels_path or out_dir / LABELS_NAME
    labels.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generator": "cdr_pipeline.samples.scale",
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "legs": written,
        "anomalies": [a.as_dict() for a in anomalies],
    }
    labels.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if progress is not None:
        progress(GenerationProgress(out_dir.name, written, legs, done["bytes"], done=True))
    by_type: dict[str, int] = {}
    for a in anomalies:
        by_type[a.type] = by_type.get(a.type, 0) + 1
    log.info("scale samples: %d legs (%d Webex Go) -> %s", written, done["go"], out_dir)
    return ScaleResult(
        files=files,
        legs=written,
        webex_go_legs=done["go"],
        devices=len(tpl.devices),
        bytes_written=done["bytes"],
        snapshot_rows=counts[0],
        activation_events=counts[1],
        entitlement_rows=counts[2],
        anomalies=dict(sorted(by_type.items())),
        labels=labels,
        last_event_time=counts[3],
    )


class _MonthFiles:
    """One Control Hub export per calendar month of the period, opened on first use."""

    def __init__(self, out_dir: Path, start: date, days: int) -> None:
        self.out_dir, self.start = out_dir, start
        self.last_day = start + timedelta(days=days - 1)
        self.open: dict[int, IO[bytes]] = {}
        self.paths: list[Path] = []
        self.stack = ExitStack()

    def get(self, month: int) -> IO[bytes]:
        # a call late on the last local day can start after midnight UTC: same file
        final = (self.last_day.year - self.start.year) * 12 + self.last_day.month
        month = min(max(month, 0), final - self.start.month)
        fh = self.open.get(month)
        if fh is None:
            y, m = divmod(self.start.month - 1 + month, 12)
            first = max(date(self.start.year + y, m + 1, 1), self.start)
            nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
            end = min(nxt, self.last_day + timedelta(days=1))
            # Control Hub names an export by its date range with the end exclusive (the
            # warehouse's call coverage reads it so): September is _09-01_10-01
            path = self.out_dir / f"calling_detailed_call_history_{first}_{end}.csv"
            fh = self.open[month] = self.stack.enter_context(open(path, "wb"))  # noqa: SIM115
            fh.write(header_bytes("controlhub"))
            self.paths.append(path)
        return fh

    def close(self) -> None:
        self.stack.close()
        self.paths.sort()


def _device_files(
    out_dir: Path,
    files: list[Path],
    tpl: Template,
    anomalies: list[Anomaly],
    start: date,
    days: int,
    seed: int,
) -> tuple[int, int, int, str]:
    """Snapshots, activation events, entitlements (base and amendment) of the template's
    world, appended to `files`; returns the row counts (snapshots, events, entitlements)
    and the latest event's time."""
    world = build_world(seed)
    snaps = dfiles.snapshot_rows(tpl.devices, tpl.t0, days, seed, anomalies)
    events = dfiles.event_rows(tpl.devices, world, seed, anomalies)
    base, amend = dfiles.entitlement_rows(world, start, days)
    amend_header = tuple(
        "license_type" if h == "licence_type" else h for h in dfiles.ENTITLEMENT_HEADER
    )
    outputs = (
        ("device_snapshots.csv", dfiles.SNAPSHOT_HEADER, snaps),
        ("activation_events.csv", dfiles.EVENT_HEADER, events),
        ("entitlements.csv", dfiles.ENTITLEMENT_HEADER, base),
        ("entitlements_amendment.csv", amend_header, amend),
    )
    for name, header, rows in outputs:
        write_plain_csv(out_dir / name, header, rows, bom=False)
        files.append(out_dir / name)
    return len(snaps), len(events), len(base) + len(amend), dfiles.last_event_time(events)
