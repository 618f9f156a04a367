"""The frozen figures of closed months: `<warehouse>/closed/<YYYY-MM>/`.

A closed month's folder holds `close.json` (the manifest: when, the table versions the
figures were computed from, the call coverage, a forced close's reason, each report's file,
row count and SHA-256) and one Parquet file per finance report. The folder appears whole or
not at all (it is written under a temp name and renamed), so a reader never sees half a
close. Reading only needs the files: no lock, no DuckDB.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.errors import InputError
from cdr_pipeline.state.files import file_sha256
from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)

FINANCE_REPORTS = ("licence-usage", "reconciliation", "reclaim-candidates", "anomalies")
"""The reports a close freezes (names of `REPORTS`)."""
MANIFEST = "close.json"
_MONTH_FOLDER = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
JOURNAL = "journal.jsonl"


@dataclass
class ClosedMonth:
    """The manifest of one closed month."""

    month: str
    """`YYYY-MM`."""
    closed_at: datetime
    versions: dict[str, int]
    """Table name -> the Delta version the frozen figures were computed from."""
    call_coverage: str
    covered_days: int
    days_in_month: int
    forced: bool = False
    reason: str | None = None
    closed_by: str = "cdr close"
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Report name -> {"file", "rows", "sha256"}."""
    pipeline_version: str = ""
    licences_held_peak: int | None = None
    """The org's most licence units held at one instant of the month (None: a close made
    before closes recorded it)."""
    settings: dict[str, Any] | None = None
    """The settings the figures were computed with (`cfg_settings`: reporting_timezone,
    code_expiry_days, idle_days), which move them as the data does; None: a close made
    before closes recorded them."""
    overlaps: str | None = None
    """The note naming the entitlement rows whose units the frozen reconciliation adds up
    on days they share (`overlaps.overlap_note`; '' when none did); None: a close made
    before closes recorded it."""

    @property
    def first_day(self) -> date:
        return date(int(self.month[:4]), int(self.month[5:7]), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "closed_at": self.closed_at.isoformat(),
            "closed_by": self.closed_by,
            "versions": self.versions,
            "call_coverage": self.call_coverage,
            "covered_days": self.covered_days,
            "days_in_month": self.days_in_month,
            "forced": self.forced,
            "reason": self.reason,
            "reports": self.reports,
            "pipeline_version": self.pipeline_version,
            "licences_held_peak": self.licences_held_peak,
            "settings": self.settings,
            "overlaps": self.overlaps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClosedMonth:
        return cls(
            month=str(data["month"]),
            closed_at=datetime.fromisoformat(str(data["closed_at"])),
            versions={str(k): int(v) for k, v in dict(data["versions"]).items()},
            call_coverage=str(data["call_coverage"]),
            covered_days=int(data["covered_days"]),
            days_in_month=int(data["days_in_month"]),
            forced=bool(data.get("forced", False)),
            reason=data.get("reason"),
            closed_by=str(data.get("closed_by", "cdr close")),
            reports=dict(data.get("reports", {})),
            pipeline_version=str(data.get("pipeline_version", "")),
            licences_held_peak=_int_or_none(data.get("licences_held_peak")),
            settings=data.get("settings"),
            overlaps=_str_or_none(data.get("overlaps")),
        )

    def versions_text(self) -> str:
        """`call_legs=12,device_events=3`."""
        return ",".join(f"{k}={v}" for k, v in sorted(self.versions.items()))

    def settings_text(self) -> str:
        """`reporting_timezone=America/New_York, code_expiry_days=90, idle_days=30`."""
        return ", ".join(f"{k}={v}" for k, v in (self.settings or {}).items())


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def read_close(layout: Layout, month: date) -> ClosedMonth | None:
    """The manifest of `month` when it is closed, else None."""
    path = layout.closed_month(month_text(month)) / MANIFEST
    if not path.is_file():
        return None
    try:
        close = ClosedMonth.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a readable close manifest ({exc})",
            hint="restore it from a backup, or `cdr reopen` the month and close it again",
        ) from exc
    if close.month != month_text(month):
        # a folder copied or restored under another month's name: its figures are those of
        # the month its manifest names, and were reported as this month's
        raise InputError(
            f"{path}: the close manifest of {close.month}, in the folder of {month_text(month)}",
            hint=f"move the folder out of {layout.closed} (it is no close of "
            f"{month_text(month)}), or restore that month's own folder from a backup",
        )
    return close


def list_closed(layout: Layout) -> list[ClosedMonth]:
    """Every closed month, oldest first."""
    if not layout.closed.is_dir():
        return []
    out = []
    for folder in sorted(layout.closed.iterdir()):
        if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
            continue
        month = _folder_month(folder.name)
        if month is None:
            # a copy a file manager or a backup left beside the month (`2026-09 - Copy`,
            # `2026-09.bak`, `backup/`) is no closed month: read as one, its month's frozen
            # rows came twice into every report of all months, and a name that is no month
            # stopped them with an unexpected error
            log.warning(
                "%s is not a closed month's folder (closed/YYYY-MM): ignored; move it out of %s",
                folder,
                layout.closed,
            )
            continue
        close = read_close(layout, month)
        if close is not None:
            out.append(close)
    return out


def _folder_month(name: str) -> date | None:
    """The month a folder of `closed/` is named after (`2026-09`), else None."""
    match = _MONTH_FOLDER.fullmatch(name)
    try:
        return None if match is None else date(int(match[1]), int(match[2]), 1)
    except ValueError:  # 0000-01: no calendar year
        return None


def remove_killed_closes(layout: Layout) -> None:
    """Remove the hidden folders (`.<YYYY-MM>.tmp-*`) of closes killed before their rename.
    Called by a close under the writer lock: no other close is writing one."""
    if layout.closed.is_dir():
        for left in layout.closed.glob(".*.tmp-*"):
            shutil.rmtree(left, ignore_errors=True)


def open_months_before(layout: Layout, month: date) -> list[date]:
    """The months between the first closed month and `month` (excluded) that are not
    closed (refused while incomplete, or reopened), oldest first."""
    closed = {c.first_day for c in list_closed(layout)}
    out: list[date] = []
    at = min(closed, default=month)
    while at < month:
        if at not in closed:
            out.append(at)
        at = (at + timedelta(days=32)).replace(day=1)
    return out


def closes_recomputed(
    layout: Layout, name: str, monthly: bool, first_day: date | None, recomputed: bool
) -> dict[str, datetime]:
    """The closed months the finance report `name`, computed with `--current` or `--as-of`
    (`recomputed`), answers for (`first_day`'s, or of a `monthly` report every closed
    month): said, its figures read as the month's though they are not the frozen ones (the
    frozen answer says it is closed, these said nothing). The reclaim list of no month is
    never frozen: none."""
    if name not in FINANCE_REPORTS or not recomputed:
        return {}
    if first_day is None and not monthly:
        return {}
    if first_day is not None:
        close = read_close(layout, first_day)
        return {} if close is None else {close.month: close.closed_at}
    return {c.month: c.closed_at for c in list_closed(layout)}


def frozen_path(layout: Layout, month: str, name: str) -> Path:
    return layout.closed_month(month) / f"{name}.parquet"


def read_frozen(layout: Layout, close: ClosedMonth, name: str) -> pa.Table:
    """The frozen table of report `name` of a closed month."""
    path = frozen_path(layout, close.month, name)
    if not path.is_file():
        raise InputError(
            f"closed month {close.month} has no frozen {name} ({path} is missing)",
            hint="restore it from a backup, or `cdr reopen` the month and close it again",
        )
    # the figures finance signed off: a file that is no longer the one the close wrote (an
    # edit, a wrong restore) is never reported as them (`cdr forget` records its rewrite)
    expected = (close.reports.get(name) or {}).get("sha256")
    if expected and file_sha256(path) != expected:
        raise InputError(
            f"closed month {close.month}: {path} changed since the close (its SHA-256 is not "
            f"the one {MANIFEST} records)",
            hint="restore it from a backup, or `cdr reopen` the month and close it again; "
            "--current recomputes the month from the tables",
        )
    return pq.read_table(path)


def read_journal(layout: Layout) -> list[dict[str, Any]]:
    """Every close and reopen, oldest first."""
    path = layout.closed / JOURNAL
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            entry = exc
        if not isinstance(entry, dict):
            # cdr writes every line whole (the journal is rewritten and renamed); a line of
            # a hand edit stopped close and reopen with an unexpected error, a close after
            # its folder was already in place
            raise InputError(
                f"{path} line {number}: not a journal entry (a JSON object): {line[:80]!r}",
                hint="restore the journal from a backup, or remove or repair that line; "
                "cdr writes every line itself, keep notes elsewhere",
            )
        entries.append(entry)
    return entries


def unreconciled_status(call_coverage: str) -> str:
    """The status of every reconciliation row of a month with no entitlement loaded: the
    first that applies (README, `status`): `no_call_data` in a month without any call data
    (a forced close), else `no_entitlement` (nothing in force, so never `over`)."""
    return "no_call_data" if call_coverage == "none" else "no_entitlement"


def warn_unreconciled(close: ClosedMonth) -> None:
    """A month closed before any entitlement was loaded has nothing to reconcile against
    (every row `no_entitlement`, or `no_call_data` without call data; no cost), frozen as
    such: a warning says how to redo it."""
    if "entitlements" not in close.versions:
        log.warning(
            "%s closed with no entitlements loaded: every reconciliation row is "
            "%s, without cost; load finance's entitlements (cdr ingest FILE), "
            'then cdr reopen %s --reason "entitlements loaded" and close it again',
            close.month,
            unreconciled_status(close.call_coverage),
            close.month,
        )
