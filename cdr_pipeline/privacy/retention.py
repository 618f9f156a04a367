"""Retention of personal fields (`[privacy] personal_days`): call legs older than N days keep
pseudonyms instead of personal fields.

In every `call_date=` partition before the cutoff, each personal value (`schema/personal.py`)
becomes its keyed pseudonym and the dropped fields (public IPs, `extra`, authorisation
codes) become NULL, in place: one Delta commit over all such partitions, whose replaced
files `cdr vacuum` deletes after the grace period. Rows, durations, devices and every
finance figure stay as they were: the user UUID and user number that link a leg to its
device and licence are kept raw (`RETENTION_KEEPS`); `cdr forget` replaces them too. A
partition whose files were all written by an earlier pass is not read again; a record that
arrives late for an old day is pseudonymised by the next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.privacy.reject_texts import ExpiredTexts, expire_reject_texts
from cdr_pipeline.privacy.rewrite import (
    RETENTION_MARK,
    RETENTION_TAG,
    rewrite_connection,
    rewrite_partitions,
)
from cdr_pipeline.schema import CALL_LEGS
from cdr_pipeline.schema.personal import RETENTION_KEEPS, pseudonymised_columns
from cdr_pipeline.state import tables
from cdr_pipeline.state.ledger import TS, Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.secret import load_key, pseudonym, raw_values_sql
from cdr_pipeline.text import lit
from cdr_pipeline.warehouse import refresh_warehouse

log = logging.getLogger(__name__)

TAG, PASS_MARK = RETENTION_TAG, RETENTION_MARK

PERSONAL_RETENTION_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("table_name", pa.string()),
        ("partition", pa.string()),
        ("rows", pa.int64()),
        ("personal_days", pa.int32()),
        ("cutoff", pa.date32()),
        ("pseudonymised_at", TS),
    ]
)


@dataclass
class PersonalRetentionResult:
    cutoff: date
    partitions: list[tuple[str, int]] = field(default_factory=list)
    """(partition, rows) pseudonymised, or that would be in a dry run."""
    version: int | None = None
    rejects: list[ExpiredTexts] = field(default_factory=list)
    """Rejects files whose raw text and detail of records quarantined before the cutoff
    were emptied (`reject_texts.py`)."""

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.partitions)


def _pending(snap: tables.Snapshot, cutoff: date) -> list[str]:
    out = []
    for value, files in sorted(snap.files.items()):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            continue
        if day < cutoff and not all(PASS_MARK in f.name for f in files):
            out.append(value)
    return out


def apply_personal_retention(
    settings: Settings,
    personal_days: int,
    run_id: str,
    today: date | None = None,
    dry_run: bool = False,
) -> PersonalRetentionResult:
    """Pseudonymise the personal fields of call legs older than `personal_days` (UTC days),
    then rebuild the views when anything changed."""
    if personal_days < 1:
        raise ValueError("personal_days must be at least 1")
    today = today or datetime.now(UTC).date()
    result = PersonalRetentionResult(today - timedelta(days=personal_days))
    layout = settings.layout
    root = layout.table(CALL_LEGS.name)
    keep = RETENTION_KEEPS.get(CALL_LEGS.name, frozenset())
    kinds = {c: k for c, k in pseudonymised_columns(CALL_LEGS.name).items() if c not in keep}
    with writer_lock(layout, "cdr nightly (personal retention)", settings.lock_wait_seconds):
        before = datetime.combine(result.cutoff, time(), UTC)
        result.rejects = expire_reject_texts(layout, before, dry_run)
        if result.rejects and not dry_run:
            _record_rejects(settings, result, personal_days, run_id)
        snap = tables.snapshot(root, CALL_LEGS.name, CALL_LEGS.partition_by)
        pending = _pending(snap, result.cutoff)
        if not pending:
            return result
        key = load_key(layout)
        con = rewrite_connection(settings, pa.table({"kind": [], "value": [], "pseudonym": []}))
        try:
            values: set[tuple[str, str]] = set()
            for value in pending:
                files = snap.partition_files(value)
                listed = ", ".join(lit(str(f)) for f in files)
                source = f"read_parquet([{listed}], hive_partitioning=false, union_by_name=true)"
                present = {r[0] for r in con.execute(f"describe select * from {source}").fetchall()}
                cols = [c for c in kinds if c in present]
                rows = con.execute(f"select count(*) from {source}").fetchall()
                result.partitions.append((f"{CALL_LEGS.partition_by}={value}", int(rows[0][0])))
                if not cols:
                    continue
                found = con.execute(raw_values_sql(source, cols)).fetchall()
                values |= {(kinds[str(c)], str(v)) for c, v in found}
            if dry_run:
                return result
            ordered = sorted(values)
            replacements = pa.table(
                {
                    "kind": [k for k, _ in ordered],
                    "value": [v for _, v in ordered],
                    "pseudonym": [pseudonym(key, k, v) for k, v in ordered],
                }
            )
            con.execute("drop table __replacements")
            con.register("__rows", replacements)
            con.execute("create table __replacements as select * from __rows")
            result.version = rewrite_partitions(
                con,
                settings,
                CALL_LEGS,
                snap,
                pending,
                run_id,
                null_dropped="true",
                keep=keep,
                tag=TAG,
            )
        finally:
            con.close()
        _record(settings, result, personal_days, run_id)
    log.info(
        "personal retention: %d partition(s) before %s pseudonymised (%d rows)",
        len(result.partitions),
        result.cutoff,
        result.rows,
    )
    refresh_warehouse(settings)  # into a new file: the commit left the mark
    return result


def _record(
    settings: Settings, result: PersonalRetentionResult, personal_days: int, run_id: str
) -> None:
    """Ledger record of the partitions pseudonymised."""
    done = [(CALL_LEGS.name, name, rows) for name, rows in result.partitions]
    _write_record(settings, result, personal_days, run_id, run_id, done)


def _record_rejects(
    settings: Settings, result: PersonalRetentionResult, personal_days: int, run_id: str
) -> None:
    """Ledger record of the rejects files emptied (table `rejects/<table>`, partition the
    file's name), apart from the partitions' record of the same run."""
    done = [(f"rejects/{e.file.split('/')[0]}", e.file, e.rows) for e in result.rejects]
    _write_record(settings, result, personal_days, run_id, f"{run_id}-rejects", done)


def _write_record(
    settings: Settings,
    result: PersonalRetentionResult,
    personal_days: int,
    run_id: str,
    record_id: str,
    done: list[tuple[str, str, int]],
) -> None:
    now = datetime.now(UTC)
    Ledger(settings.layout).write(
        "personal_retention",
        record_id,
        [
            {
                "run_id": run_id,
                "table_name": table,
                "partition": name,
                "rows": rows,
                "personal_days": personal_days,
                "cutoff": result.cutoff,
                "pseudonymised_at": now,
            }
            for table, name, rows in done
        ],
        PERSONAL_RETENTION_SCHEMA,
    )
