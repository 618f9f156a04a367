"""What a run that died (kill -9, power loss, an error before its commit) leaves behind, and
how the next writer puts it right.

A run writes its ledger `files` records as each source is merged, and commits the tables at
its end. If it dies in between, some records claim rows that no commit holds. The next
writer finds the run still `running` (`Ledger.mark_interrupted`), asks each table's log
which tables the run committed, and turns every `loaded` record of a table the run did not
commit into `interrupted` (no rows loaded): the file is no longer counted as loaded, so it is
loaded again, and the result equals a clean run. The data files the run wrote but never
committed are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.pending import committed_versions, discard_orphans
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA, Ledger, file_record_id
from cdr_pipeline.state.lock import live_run, writer_lock
from cdr_pipeline.state.tables import format_versions
from cdr_pipeline.state.waits import forget_gone, gone_waits

log = logging.getLogger(__name__)

NOT_COMMITTED = "not committed: the run ended before its commit; the file loads again"


def recover_interrupted(
    settings: Settings, command: str, on_wait: Callable[[str], None] | None = None
) -> list[str]:
    """Under the writer lock: `recover_dead`. For callers that read the ledger before they
    ingest (the nightly inbox scan); `on_wait` as `writer_lock`'s."""
    with writer_lock(settings.layout, command, settings.lock_wait_seconds, on_wait=on_wait):
        return recover_dead(settings.layout, Ledger(settings.layout))


def recover_dead(layout: Layout, ledger: Ledger) -> list[str]:
    """Mark runs that died as `interrupted`, undo their uncommitted claims, and give their
    rows the versions they committed before they died and the rows those hold: otherwise
    `cdr runs` showed a committed version as no run's, and totals without its rows. Returns
    their ids."""
    gone = gone_waits(layout)  # before the rows are read (`state/waits.py`)
    live = live_run(layout)
    ids = ledger.mark_interrupted([live] if live else [], gone)
    forget_gone(layout, gone)
    _say_died(ledger, ids)
    committed = recover_runs(layout, ledger, ids)
    if not any(committed.values()):
        return ids
    runs, files = ledger.runs(), ledger.files()
    for run_id, versions in committed.items():
        found = runs.filter(pl.col("run_id") == run_id)
        if not versions or found.is_empty():
            continue
        row = found.row(0, named=True)
        mine = files.filter(
            (pl.col("run_id") == run_id)
            & (pl.col("status") == "loaded")
            & pl.col("table_name").is_in(list(versions))
        )
        text = format_versions(versions)
        rows = int(mine["rows_loaded"].sum() or 0)
        # "committed call_legs=0" read as no rows: the first version of a table is 0
        done = f"table versions {text} ({mine.height} file(s), {rows:,} rows loaded)"
        row.update(
            table_versions=text,
            files_loaded=mine.height,
            rows_loaded=rows,
            message=f"{row['message']}; it had committed {done}",
        )
        ledger.write("runs", run_id, [row], RUNS_SCHEMA)
    return ids


def _say_died(ledger: Ledger, ids: list[str]) -> None:
    """One warning per run that died, in the log of the run that found it (at 3 a.m. the
    night after an OOM kill reads as an ordinary night otherwise)."""
    if not ids:
        return
    for row in ledger.runs().filter(pl.col("run_id").is_in(ids)).iter_rows(named=True):
        started = row["started_at"]
        since = f"{started:%Y-%m-%d %H:%M} UTC" if started is not None else "at an unknown time"
        log.warning(
            "run %s (%s, started %s) ended before it finished (killed or crashed, or its "
            "disk stayed full to the end): recorded interrupted, what it left uncommitted "
            "is removed; the same command again (a nightly: the next one) completes its work",
            row["run_id"],
            row["command"],
            since,
        )


def recover_runs(
    layout: Layout, ledger: Ledger, run_ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Undo the uncommitted claims and files of the runs `run_ids` (runs that died, or the
    current one ending before its commit). Returns run -> the versions it committed."""
    ids = list(run_ids)
    committed = {run_id: committed_versions(layout, run_id) for run_id in ids}
    if not ids:
        return committed
    files = ledger.files().filter(pl.col("run_id").is_in(ids) & (pl.col("status") == "loaded"))
    for row in files.iter_rows(named=True):
        if row["table_name"] in committed[row["run_id"]]:
            continue
        row.update(
            status="interrupted",
            rows_loaded=0,
            rows_duplicate=0,
            rows_updated=0,
            webex_go_rows=0,
            message=NOT_COMMITTED,
        )
        record = file_record_id(row["run_id"], row["file_seq"], row["source"])
        ledger.write("files", record, [row], FILES_SCHEMA)
    removed = discard_orphans(layout, ids)
    if removed:
        log.info("removed %d uncommitted data file(s) of run(s) %s", removed, ", ".join(ids))
    return committed
