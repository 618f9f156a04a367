"""`generate_samples`: every input kind for one seeded world, written to one folder."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cdr_pipeline.samples import device_files as dfiles
from cdr_pipeline.samples import writer
from cdr_pipeline.samples.device_files import Anomaly
from cdr_pipeline.samples.directory import DIRECTORY_HEADER, directory_rows
from cdr_pipeline.samples.lifecycle import Device, build_devices
from cdr_pipeline.samples.sessions import Leg, generate_legs
from cdr_pipeline.samples.world import World, build_world
from cdr_pipeline.text import iso_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplesResult:
    """What `generate_samples` wrote, with counts a summary can print."""

    files: list[Path]
    legs: int
    webex_go_legs: int
    devices: int
    updated_report_ids: frozenset[str]
    sessions: int = 0
    redelivered_legs: int = 0
    """Legs present in more than one export (identical or updated)."""
    snapshot_rows: int = 0
    activation_events: int = 0
    entitlement_rows: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    """anomaly type -> labelled count (see the labels file)."""
    labels: Path | None = None
    """The anomaly labels (JSON), written beside the inputs, not among them."""
    last_event_time: str = ""
    """The latest activation event's time (ISO, UTC; `device_files.last_event_time`)."""


def _is_go(leg: Leg) -> bool:
    return str(leg.get("sub_client_type") or "").upper() == "MOBILE_NETWORK"


def _preliminary(leg: Leg, rng: random.Random) -> Leg:
    """The first delivery of a record that is later corrected: an earlier Report time and
    an outcome that was not final yet."""
    early = dict(leg)
    release = leg["release_time"]
    assert isinstance(release, datetime)
    early["report_time"] = release + timedelta(seconds=rng.randint(5, 15))
    early["call_outcome"] = "Failure"
    early["call_outcome_reason"] = "Internal"
    early["releasing_party"] = "Unknown"
    return early


def _final(leg: Leg, rng: random.Random) -> Leg:
    late = dict(leg)
    report = leg["report_time"]
    assert isinstance(report, datetime)
    late["report_time"] = report + timedelta(minutes=rng.randint(40, 180))
    return late


def generate_samples(
    out_dir: Path,
    *,
    legs: int = 4000,
    seed: int = 7,
    start: date = date(2026, 9, 1),
    days: int = 61,
    zip_export: bool = True,
    json_export: bool = True,
    labels_path: Path | None = None,
) -> SamplesResult:
    """Write a deterministic sample of every input kind into `out_dir`.

    Calls go into two CSV exports overlapping by two days (export A zipped without an
    extension when `zip_export`), plus one API JSON page covering the last three days
    (when `json_export`). Some overlapping records are re-delivered identically, others
    updated (same Report ID, later Report time, corrected outcome): their ids are in
    `updated_report_ids` and in anomalies.json under `updated_records`. Device snapshots,
    activation events, entitlements and labelled anomalies complete the set.

    The anomaly labels are not an input, so they are written next to `out_dir`, not inside
    it (default `<out_dir>-labels.json`): `cdr ingest <out_dir>` loads every file there.
    """
    if days < 6:
        raise ValueError("days must be at least 6 (two exports overlap by two days)")
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
    t_end = t0 + timedelta(days=days)
    world = build_world(seed)
    devices = build_devices(world, t0, t_end)
    all_legs, anomalies = generate_legs(
        world, devices, legs=legs, seed=seed, start=start, days=days
    )
    rng = random.Random(f"exports:{seed}")
    split = _Split.of(all_legs, rng, t0, days, json_export)
    files = _write_call_files(out_dir, split, rng, start, t0, days, zip_export, json_export)
    snaps, events, n_entitlements, last_event = _write_device_files(
        out_dir, files, devices, world, anomalies, t0, start, days, seed
    )
    labels = _labels(seed, start, days, anomalies, split.updated)
    anomalies_path = labels_path or out_dir.with_name(f"{out_dir.name}-labels.json")
    anomalies_path.write_text(
        json.dumps(labels, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    result = SamplesResult(
        files=files,
        labels=anomalies_path,
        legs=len(all_legs),
        webex_go_legs=sum(_is_go(leg) for leg in all_legs),
        devices=len(devices),
        updated_report_ids=frozenset(split.updated),
        sessions=len({leg["correlation_id"] for leg in all_legs}),
        redelivered_legs=split.redelivered,
        snapshot_rows=snaps,
        activation_events=events,
        entitlement_rows=n_entitlements,
        anomalies=_anomaly_counts(anomalies),
        last_event_time=last_event,
    )
    log.info(
        "samples: %d legs (%d Webex Go), %d devices, %d updated records -> %s",
        result.legs,
        result.webex_go_legs,
        result.devices,
        len(split.updated),
        out_dir,
    )
    return result


@dataclass
class _Split:
    """The legs of each call file: export A, export B (overlapping A by two days) and the
    API JSON page (the last three days); records updated between deliveries."""

    export_a: list[Leg] = field(default_factory=list)
    export_b: list[Leg] = field(default_factory=list)
    page: list[Leg] = field(default_factory=list)
    updated: dict[str, Leg] = field(default_factory=dict)
    redelivered: int = 0
    a_end: datetime = datetime.min
    b_start: datetime = datetime.min
    json_start: datetime = datetime.min

    @classmethod
    def of(
        cls, all_legs: list[Leg], rng: random.Random, t0: datetime, days: int, json_export: bool
    ) -> _Split:
        mid = t0 + timedelta(days=days // 2)
        t_end = t0 + timedelta(days=days)
        split = cls(
            a_end=mid + timedelta(days=1),
            b_start=mid - timedelta(days=1),
            json_start=t_end - timedelta(days=3),
        )
        for leg in all_legs:
            split._place(leg, rng, json_export)
        return split

    def _place(self, leg: Leg, rng: random.Random, json_export: bool) -> None:
        t = _report_time(leg)
        in_a, in_b = t < self.a_end, t >= self.b_start
        in_json = json_export and t >= self.json_start
        self.redelivered += (in_a + in_b + in_json) > 1
        update = (in_a and in_b) or (in_b and in_json)
        if update and rng.random() < 0.12:
            early, late = _preliminary(leg, rng), _final(leg, rng)
            self.updated[str(leg["report_id"])] = late
            if in_a and in_b:
                self.export_a.append(early)
                self.export_b.append(late)
                if in_json:
                    self.page.append(late)
            else:
                self.export_b.append(early)
                self.page.append(late)
            return
        if in_a:
            self.export_a.append(leg)
        if in_b:
            self.export_b.append(leg)
        if in_json:
            self.page.append(leg)


def _report_time(leg: Leg) -> datetime:
    value = leg["report_time"]
    assert isinstance(value, datetime)
    return value


def _write_call_files(
    out_dir: Path,
    split: _Split,
    rng: random.Random,
    start: date,
    t0: datetime,
    days: int,
    zip_export: bool,
    json_export: bool,
) -> list[Path]:
    """Export A (a ZIP without extension when `zip_export`), export B and the JSON page."""
    files: list[Path] = []
    t_end = t0 + timedelta(days=days)
    a_last = (split.a_end.date() - timedelta(days=1)).isoformat()
    a_name = f"calling_detailed_call_history_{start.isoformat()}_{a_last}"
    a_bytes = writer.write_csv_text(
        writer.CONTROLHUB_HEADERS, writer.csv_rows(split.export_a, "controlhub")
    )
    if zip_export:
        path_a = out_dir / a_name  # a ZIP with no .zip extension, like the Reports API
        writer.write_zip(path_a, a_name + ".csv", a_bytes)
    else:
        path_a = out_dir / f"{a_name}.csv"
        path_a.write_bytes(a_bytes)
    files.append(path_a)
    b_last = (t_end.date() - timedelta(days=1)).isoformat()
    path_b = out_dir / f"dch_export_{split.b_start.date().isoformat()}_{b_last}.csv"
    spaces = [rng.random() < 0.05 for _ in split.export_b]
    writer.write_plain_csv(
        path_b, writer.API_HEADERS, writer.csv_rows(split.export_b, "api", spaces)
    )
    files.append(path_b)
    if json_export:
        path_j = out_dir / f"cdr_feed_{split.json_start.date().isoformat()}.json"
        items = [writer.json_item(leg, rng.random() < 0.5) for leg in split.page]
        writer.write_json_page(path_j, items)
        files.append(path_j)
    return files


def _write_device_files(
    out_dir: Path,
    files: list[Path],
    devices: list[Device],
    world: World,
    anomalies: list[Anomaly],
    t0: datetime,
    start: date,
    days: int,
    seed: int,
) -> tuple[int, int, int, str]:
    """Snapshots, activation events, entitlements, an amendment and the org directory;
    appends them to `files` and returns the row counts (snapshots, events, entitlements)
    and the latest event's time."""
    snaps = dfiles.snapshot_rows(devices, t0, days, seed, anomalies)
    events = dfiles.event_rows(devices, world, seed, anomalies)
    base, amend = dfiles.entitlement_rows(world, start, days)
    device_outputs = (
        ("device_snapshots.csv", dfiles.SNAPSHOT_HEADER, snaps),
        ("activation_events.csv", dfiles.EVENT_HEADER, events),
        ("entitlements.csv", dfiles.ENTITLEMENT_HEADER, base),
        ("org_directory.csv", DIRECTORY_HEADER, directory_rows(world)),
        # finance's amendment file spells it the US way: readers must accept both
        (
            "entitlements_amendment.csv",
            tuple("license_type" if h == "licence_type" else h for h in dfiles.ENTITLEMENT_HEADER),
            amend,
        ),
    )
    for name, header, rows in device_outputs:
        writer.write_plain_csv(out_dir / name, header, rows, bom=False)
        files.append(out_dir / name)
    return len(snaps), len(events), len(base) + len(amend), dfiles.last_event_time(events)


def _anomaly_counts(anomalies: list[Anomaly]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in anomalies:
        counts[a.type] = counts.get(a.type, 0) + 1
    return dict(sorted(counts.items()))


def _labels(
    seed: int, start: date, days: int, anomalies: list[Anomaly], updated: dict[str, Leg]
) -> dict[str, object]:
    return {
        "generator": "cdr_pipeline.samples",
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "anomalies": [a.as_dict() for a in anomalies],
        "updated_records": [
            {
                "report_id": rid,
                "report_time": iso_ms(_report_time(leg)),
                "changed": [
                    "Report time",
                    "Call outcome",
                    "Call outcome reason",
                    "Releasing party",
                ],
            }
            for rid, leg in sorted(updated.items())
        ],
    }
