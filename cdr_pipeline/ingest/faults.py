"""Deterministic crash injection for the crash-safety tests.

`CDR_FAULT_KILL_AFTER_MERGES=N` makes the process SIGKILL itself right after its N-th
partition swap, the worst moment for a writer: some partitions of a file are merged, the rest
and the ledger record are not. Unset (always, outside tests) it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "CDR_FAULT_KILL_AFTER_MERGES"
_merges = 0


def after_merge() -> None:
    global _merges
    limit = os.environ.get(_ENV)
    if not limit:
        return
    _merges += 1
    if _merges >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)
