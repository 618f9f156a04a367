"""Retention: drop call-leg partitions older than N days, and record it in the ledger.

Only whole `call_date=` partitions of `call_legs` are ever dropped; every other table, the
rejects and the ledger are kept. The drop is one Delta commit that removes every file of the
expired partitions: readers of the new version stop seeing them at once, readers of older
versions keep them until `cdr vacuum` deletes the files after the grace period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq

from cdr_pipeline.config import Settings
from cdr_pipeline.schema import CALL_LEGS
from cdr_pipeline.state import tables
from cdr_pipeline.state.ledger import RETENTION_SCHEMA, Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.whole_build import mark_whole_build

log = logging.getLogger(__name__)


@dataclass
class RetentionResult:
    cutoff: date
    dropped: list[tuple[str, int]] = field(default_factory=list)
    """(partition, rows) dropped, or that would be dropped in a dry run."""

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.dropped)


def expired_partitions(settings: Settings, retain_days: int, today: date) -> RetentionResult:
    """Call-leg partitions whose date is before `today - retain_days` (UTC)."""
    cutoff = today - timedelta(days=retain_days)
    result = RetentionResult(cutoff)
    base = settings.layout.table(CALL_LEGS.name)
    snap = tables.snapshot(base, CALL_LEGS.name, CALL_LEGS.partition_by)
    for value, files in sorted(snap.files.items()):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            continue
        if day < cutoff:
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            result.dropped.append((f"{CALL_LEGS.partition_by}={value}", rows))
    return result


def apply_retention(
    settings: Settings,
    retain_days: int,
    run_id: str,
    today: date | None = None,
    dry_run: bool = False,
) -> RetentionResult:
    today = today or datetime.now(UTC).date()
    if retain_days < 1:
        raise ValueError("retain_days must be at least 1")
    with writer_lock(settings.layout, "cdr nightly (retention)", settings.lock_wait_seconds):
        base = settings.layout.table(CALL_LEGS.name)
        result = expired_partitions(settings, retain_days, today)
        if dry_run or not result.dropped:
            return result
        now = datetime.now(UTC)
        prefix = f"{CALL_LEGS.partition_by}="
        # the record goes first: call coverage (sql/int_call_coverage.sql) stops counting
        # the dropped days from it, and a reader of the version the commit makes, even one
        # as of that moment, must see it (a kill in between leaves the days uncovered though
        # still on disk, until the next retention drops them: unknown, never wrongly idle)
        Ledger(settings.layout).write(
            "retention",
            run_id,
            [
                {
                    "run_id": run_id,
                    "table_name": CALL_LEGS.name,
                    "partition": name,
                    "rows": rows,
                    "retain_days": retain_days,
                    "cutoff": result.cutoff,
                    "dropped_at": now,
                }
                for name, rows in result.dropped
            ],
            RETENTION_SCHEMA,
        )
        # the next build of cdr.duckdb is whole, also when this run dies before its own:
        # a refresh edits a copy of the old file, whose freed pages keep the dropped days
        mark_whole_build(settings.layout)
        tables.commit(
            base,
            CALL_LEGS.table_arrow_schema(),
            CALL_LEGS.partition_by,
            {},
            [name.removeprefix(prefix) for name, _ in result.dropped],
            run_id,
        )
        log.info(
            "retention: dropped %d partition(s) before %s (%d rows)",
            len(result.dropped),
            result.cutoff,
            result.rows,
        )
    return result
