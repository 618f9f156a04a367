"""The run ledger as `cdr runs` shows it, writing nothing: a run whose process is gone
reads `interrupted`, as the next writer records it.

`cdr runs` takes no lock, so runs start and end while it reads. Whether a writer lives is
asked after the rows are read, and a row found dead is read again: it stays dead only if it
still says the same. Asked before the read (`cdr runs` spends seconds on imports in
between), a run that started meanwhile (its lock taken, its `running` row written) read
`interrupted`; so did a run or night that ended between the read and the question, as it
writes its last row before it lets its lock or wait file go (`state/waits.py`).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from cdr_pipeline.state import lock
from cdr_pipeline.state.ledger import Ledger, interrupted_row


def runs_seen(ledger: Ledger, gone: Collection[str] = ()) -> pl.DataFrame:
    """`ledger.runs()` as `cdr runs` shows them. With no writer alive (`lock.writers_gone`)
    a `running` run died (kill -9, the OOM killer) and reads `interrupted`: it read
    `running` all day after a night killed at 02:45. A run going has no exit code yet (a
    nightly's row holds its ingest's 0 meanwhile, which --json showed while the night could
    still fail); nor has a night `waiting` for a lock, which died in its wait if
    `Ledger.waited` says so (`gone`: `waits.gone_waits`, read before the rows)."""
    runs = _going(ledger)
    dead = _dead(ledger, runs, gone)
    if not dead:
        return runs
    runs = _going(ledger)  # again: those that ended meanwhile say so now
    rows = [
        interrupted_row(r) if dead.get(r["run_id"]) == r["status"] else r for r in runs.to_dicts()
    ]
    return pl.DataFrame(rows, schema=runs.schema)


def _going(ledger: Ledger) -> pl.DataFrame:
    """The ledger's runs, without an exit code for those `running`."""
    return ledger.runs().with_columns(pl.when(pl.col("status") != "running").then("exit_code"))


def _dead(ledger: Ledger, runs: pl.DataFrame, gone: Collection[str]) -> dict[str, str]:
    """run id -> status of the rows of `runs` (just read) whose process is gone: nights
    `waiting` that `Ledger.waited` finds dead, and runs `running` when no writer is alive
    now (asked only when one is `running`: it reads the lock files)."""
    died = ledger.waited(runs, gone)
    going = pl.col("status") == "running"
    if not runs.filter(going).is_empty() and lock.writers_gone(ledger.layout):
        died = died | going
    return dict(runs.filter(died).select("run_id", "status").iter_rows())
