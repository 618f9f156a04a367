"""A night waiting for a lock (`--wait-lock`) is a run of the ledger from the start of its
wait: a night killed there (kill -9, the OOM killer, a stop timeout's SIGKILL) had no row,
and `cdr runs` showed the night before's `ok` as the latest night.

The row says `waiting` while the night waits. Whether its process still lives is told by a
kernel lock, as for the writer lock: the night holds `state/waits/<run id>.lock` from before
it writes that row until after it writes its last (its end, or `running` and then its end),
and the kernel releases it when the process dies. So a `waiting` row whose file is not
locked is a night that died; `cdr runs` shows it `interrupted`, and the next writer records
it so and removes the file. So is a `waiting` row whose file is not there (deleted by hand,
or removed after a writer could not record the row): no night can hold it, and it read
`waiting` for good. Nothing of this happens on a night that gets its locks at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)

FOLDER = "waits"
SUFFIX = ".lock"


def _folder(layout: Layout) -> Path:
    return layout.state / FOLDER


class WaitMark:
    """The lock file of one night's wait: `take` when the wait starts, `release` when the
    night has written its last row."""

    def __init__(self, layout: Layout, run_id: str) -> None:
        self.layout, self.run_id = layout, run_id
        self.fd: int | None = None

    def take(self) -> bool:
        """Lock the night's file (once); False when it cannot be made (a full disk, a
        read-only warehouse: then no `waiting` row either, as before)."""
        if self.fd is not None:
            return True
        folder = _folder(self.layout)
        path = folder / f"{self.run_id}{SUFFIX}"
        tmp = folder / f".{self.run_id}.tmp"
        fd = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # under its name only once locked: a reader never finds it unlocked while the
            # night lives (a flock belongs to the file, not its name)
            os.rename(tmp, path)
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            log.debug("the wait is not marked (%s)", exc)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        """Let the lock go; the file stays for the next writer to remove (`forget_gone`):
        removed here, a reader that listed the folder before could not tell it from a
        night that died."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def gone_waits(layout: Layout) -> set[str]:
    """The run ids whose wait file no process holds: a night that died, or one that ended
    (whose last row says so). Read before the ledger's rows: a `waiting` row read after
    its file was found free is a night that died. One `stat` where no night ever waited."""
    folder = _folder(layout)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(SUFFIX) and not n.startswith(".")]
    except OSError:
        return set()
    gone = set()
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            gone.add(name.removesuffix(SUFFIX))
        except OSError:  # held: the night still runs (or this cannot be told)
            continue
        finally:
            os.close(fd)
    return gone


def missing_waits(layout: Layout, run_ids: Iterable[str]) -> set[str]:
    """Of the run ids of `waiting` rows already read, those whose wait file is not there
    now. Checked after the rows were read, never from a listing made before (a night that
    took its file after the listing and wrote its row before the read lives): a night writes
    its `waiting` row only once its file is locked under its name, and the file stays until
    the night has written its last row and let it go. A file that cannot be looked at (a
    permission) is not missing."""
    missing = set()
    for run_id in run_ids:
        try:
            os.stat(_folder(layout) / f"{run_id}{SUFFIX}")
        except FileNotFoundError:
            missing.add(run_id)
        except OSError:
            continue
    return missing


def forget_gone(layout: Layout, run_ids: Collection[str]) -> None:
    """Remove the wait files of `run_ids` (from `gone_waits`, once their rows are final)."""
    for run_id in run_ids:
        with contextlib.suppress(OSError):
            (_folder(layout) / f"{run_id}{SUFFIX}").unlink()
