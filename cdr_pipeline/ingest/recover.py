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
from collections.abc import Iterable

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.pending import committed_tables, discard_orphans
from cdr_pipeline.state import tables
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA, Ledger, file_record_id
from cdr_pipeline.state.lock import writer_lock

log = logging.getLogger(__name__)

NOT_COMMITTED = "not committed: the run ended before its commit; the file loads again"


def recover_interrupted(settings: Settings, command: str) -> list[str]:
    """Under the writer lock: mark runs that died as `interrupted` and undo their uncommitted
    claims. For callers that read the ledger before they ingest (the nightly inbox scan)."""
    layout = settings.layout
    with writer_lock(layout, command, settings.lock_wait_seconds):
        ledger = Ledger(layout)
        ids = ledger.mark_interrupted()
        recover_runs(layout, ledger, ids)
    return ids


def _note_committed(layout: Layout, ledger: Ledger, committed: dict[str, set[str]]) -> None:
    """The run rows of dead runs that committed some tables before they died say which
    versions, and count the rows those tables took: otherwise `cdr runs` showed a committed
    version as no run's, and totals without the rows it holds."""
    runs = ledger.runs()
    files = ledger.files()
    for run_id, names in committed.items():
        versions = {n: tables.run_version(layout.table(n), run_id) for n in sorted(names)}
        text = ",".join(f"{n}={v}" for n, v in versions.items() if v is not None)
        rows = runs.filter(pl.col("run_id") == run_id)
        if not text or rows.is_empty():
            continue
        row = rows.row(0, named=True)
        mine = files.filter(
            (pl.col("run_id") == run_id)
            & (pl.col("status") == "loaded")
            & pl.col("table_name").is_in(sorted(names))
        )
        row.update(
            table_versions=text,
            files_loaded=mine.height,
            rows_loaded=int(mine["rows_loaded"].sum() or 0),
            message=f"{row['message'] or 'the process ended before the run finished'}; "
            f"it had committed {text}",
        )
        ledger.write("runs", run_id, [row], RUNS_SCHEMA)


def recover_runs(layout: Layout, ledger: Ledger, run_ids: Iterable[str]) -> None:
    """Undo the uncommitted claims and files of the runs `run_ids` (runs that died)."""
    ids = list(run_ids)
    if not ids:
        return
    files = ledger.files().filter(pl.col("run_id").is_in(ids) & (pl.col("status") == "loaded"))
    committed = {run_id: committed_tables(layout, run_id) for run_id in ids}
    for row in files.iter_rows(named=True):
        if row["table_name"] in committed[row["run_id"]]:
            continue
        row.update(
            status="interrupted",
            rows_loaded=0,
            rows_duplicate=0,
            rows_updated=0,
            message=NOT_COMMITTED,
        )
        record = file_record_id(row["run_id"], row["file_seq"], row["source"])
        ledger.write("files", record, [row], FILES_SCHEMA)
    _note_committed(layout, ledger, committed)
    removed = discard_orphans(layout, ids)
    if removed:
        log.info("removed %d uncommitted data file(s) of run(s) %s", removed, ", ".join(ids))
