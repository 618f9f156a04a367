"""A `cdr fetch` killed without a last word (kill -9, the OOM killer, a power cut) while it
paged: it wrote no row of `cdr runs` (Ctrl-C and SIGTERM write theirs, `runs.py`), so the
night read as one without a fetch. A run leaves `state/fetched/.running` while it goes and
removes it at its end, however it ends in Python; the next fetch, holding the fetch lock,
finds one left behind and records that run as `interrupted`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_INTERRUPTED, CdrError
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_record

log = logging.getLogger(__name__)

MARK = ".running"
DIED = (
    "the process ended without a last word while it fetched (kill -9, the OOM killer, a "
    "power cut); found by the next fetch, which loaded the pages it had saved and resumed "
    "from the watermark"
)


class Alive:
    """The mark of a fetch going on; `beat()` after each window dates its last sign of life."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = path

    def beat(self) -> None:
        with contextlib.suppress(OSError):  # bookkeeping: never what fails a fetch
            os.utime(self.path)


@contextlib.contextmanager
def fetch_alive(settings: Settings, command: str, run_id: str) -> Iterator[Alive]:
    """Record a fetch that died before this one (its mark left behind) as `interrupted`,
    then mark this one as going for the block. Call it holding the fetch lock."""
    folder = settings.layout.fetched
    path = folder / MARK
    _record_dead(settings, command, path)
    started = datetime.now(UTC)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f"{MARK}.tmp"
        temp.write_text(json.dumps({"run_id": run_id, "started_at": started.isoformat()}))
        os.replace(temp, path)
    except OSError as exc:
        log.debug("fetch mark not written (%s)", exc)
    try:
        yield Alive(path)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _record_dead(settings: Settings, command: str, path: os.PathLike[str] | str) -> None:
    """A row `interrupted` for the fetch whose mark is at `path`, unless a row of its ingests
    already says how it ended (a run killed while it ingested: the ingest's own `running`
    row, which the next writer marks `interrupted`)."""
    try:
        with open(path, encoding="utf-8") as f:
            mark = json.load(f)
        started = datetime.fromisoformat(mark["started_at"])
        last = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
        run_id = str(mark["run_id"])
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a mark cut short by the kill
        log.warning("a fetch left a mark that does not read (%s); not recorded", exc)
        return
    try:
        ledger = Ledger(settings.layout)
        runs = ledger.runs()
        told = runs.filter(
            (pl.col("command") == command)
            & (pl.col("started_at") >= started)
            & pl.col("status").is_in(["running", "interrupted"])
        )
        if told.is_empty():
            row = run_record(
                run_id,
                command,
                status="interrupted",
                started_at=started,
                finished_at=max(last, started),
                exit_code=EXIT_INTERRUPTED,
                message=DIED,
            )
            ledger.write("runs", run_id, [row], RUNS_SCHEMA)
            log.warning("an earlier cdr fetch (started %s) %s", started.isoformat(), DIED)
    except (OSError, CdrError) as exc:  # the ledger is bookkeeping here
        log.warning("the ledger does not record a fetch that died (%s)", exc)
