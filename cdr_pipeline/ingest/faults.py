"""Deterministic crash injection for the crash-safety tests.

`CDR_FAULT_KILL_AFTER_MERGES=N` makes the process SIGKILL itself right after its N-th
partition merge: some partitions of a run are written, nothing is committed.
`CDR_FAULT_KILL_AT=NAME` kills it at the named point: `commit` (right after the first table
of the run is committed, before the others and before the ledger's closing record) or
`compact` (after the first partition a run appended to is gathered into one file, before
any commit) or `vacuum` (after the first table is vacuumed) or `validate` (a nightly's,
after its ingest committed, before it validates) or `erasure-commit` (`cdr forget`, after
its first table commit) or `erasure-recorded` (`cdr forget`, after its ledger record,
before its build). Unset (always, outside tests) each costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "CDR_FAULT_KILL_AFTER_MERGES"
_POINT_ENV = "CDR_FAULT_KILL_AT"
_merges = 0


def after_merge() -> None:
    global _merges
    limit = os.environ.get(_ENV)
    if not limit:
        return
    _merges += 1
    if _merges >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """Kill the process here when `CDR_FAULT_KILL_AT` names this point."""
    if os.environ.get(_POINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
