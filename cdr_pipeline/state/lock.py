"""One writer at a time: an advisory `flock` on `<warehouse>/state/writer.lock`.

The kernel releases it when the holder exits, even on `kill -9`, so a crash never leaves a
stale lock behind. The file records who holds it, for the message the second writer prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cdr_pipeline.errors import ConfigError, LockBusy, WarehouseUnwritable, special_kind
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.text import iso_seconds

log = logging.getLogger(__name__)

HOST = socket.gethostname()
"""This machine's name, in the line of a lock it holds."""


@contextmanager
def writer_lock(
    layout: Layout,
    command: str,
    wait_seconds: float = 0.0,
    name: str = "writer.lock",
    run_id: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the lock file `state/<name>` for the block. `writer.lock` serialises writers
    of the tables; the nightly job holds `nightly.lock` for its whole run as well, naming
    its `run_id` there (`live_run`). `on_wait(holder)` is called when a wait begins (the
    nightly's `waiting` row)."""
    path = layout.lock_file(name)
    check_folder(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():  # made by hand ("cleaning" a lock): open() said IsADirectoryError, exit 1
        raise WarehouseUnwritable(
            f"the lock {path} is a folder, not a file: no writer can take the lock",
            path=str(path),
            hint=f"remove the folder (rmdir {path}); cdr makes the lock file again, and the "
            "kernel releases a lock when its holder exits, so a lock never needs removing",
        )
    kind = special_kind(path)
    if kind:  # a link to /dev/null, a named pipe: "unexpected OSError ... Invalid argument"
        raise WarehouseUnwritable(
            f"the lock {path} is {kind}, not a file: no writer can take the lock",
            path=str(path),
            hint=f"remove it (rm {path}); cdr makes the lock file again, and the kernel "
            "releases a lock when its holder exits, so a lock never needs replacing",
        )
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        began = time.monotonic()
        deadline = began + max(wait_seconds, 0.0)
        waited = False
        while True:
            try:
                _flock(fd, path)
                if waited:  # the wait's length: `cdr runs` counts a night from here
                    log.info("got the warehouse lock after %.0f s", time.monotonic() - began)
                break
            except BlockingIOError:
                holder = _line(path)
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another writer holds the warehouse lock ({holder or 'unknown holder'})",
                        hint=f"wait for it to finish, or pass --wait-lock SECONDS (lock: {path})",
                    ) from None
                if not waited:  # a wait of minutes must not read as a hang in the log
                    log.info(
                        "waiting up to %g s for the warehouse lock (%s)",
                        wait_seconds,
                        holder or "unknown holder",
                    )
                    waited = True
                    if on_wait is not None:
                        on_wait(holder or "unknown holder")
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        started = iso_seconds(datetime.now(UTC))
        run = f"run {run_id}, " if run_id else ""
        with contextlib.suppress(OSError):
            # who holds it is only for the message a second writer prints: a full disk
            # must not stop a writer (a vacuum is what frees the space)
            # and where: on a warehouse two machines share (NFS), a pid alone sent the
            # operator looking for a process on the wrong one
            line = f"pid {os.getpid()}, {command}, {run}since {started}, on {HOST}\n"
            os.pwrite(fd, line.encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _line(path: Path) -> str:
    """The holder's line of the lock file `path`; empty for a named pipe or a device in its
    place, which no writer can take (`writer_lock` refuses it) and whose read blocked
    forever: `cdr runs`, a monitoring check, hung on a named pipe there."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read().decode("utf-8", errors="replace").strip()
    finally:
        os.close(fd)


_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _flock(fd: int, path: Path) -> None:
    """Take the lock `fd` (of `path`) without waiting (BlockingIOError while it is held).
    A file system that takes no flock (an NFS mount with `nolock`, some SMB or FUSE
    mounts) ended the command as "unexpected OSError ... report it", exit 1."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LOCKS:
            raise
        raise WarehouseUnwritable(
            f"the file system of the warehouse does not support file locks: locking {path} "
            f"failed ({os.strerror(exc.errno)})",
            path=str(path),
            hint="mount it with locking (NFS: without nolock, with a lock daemon running) "
            "or put the warehouse on a local disk: the lock keeps two writers apart",
        ) from exc


def check_folder(layout: Layout) -> None:
    """Refuse a warehouse that is a file (CDR_WAREHOUSE or cdr.toml set to one; --warehouse
    is refused by click), or under one, or with a file where `state/` goes: the setting is
    wrong, not the program (exit 3, not a NotADirectoryError)."""
    root = layout.root.absolute()
    for path in (layout.state.absolute(), root, *root.parents):
        if path.exists() and not path.is_dir():
            where = "it is a file" if path == root else f"{path} is a file"
            raise ConfigError(
                f"the warehouse {root} is not a folder: {where}",
                hint="point --warehouse, CDR_WAREHOUSE or cdr.toml's warehouse at a folder",
            )


def running_writer(layout: Layout, name: str = "writer.lock") -> str | None:
    """Who holds the lock `state/<name>` now ("pid 123, cdr ingest, since ..."), read from
    the file without touching the lock (trying it could make a writer that starts at that
    moment give up); None when it is free. A holder killed with -9 leaves its line behind:
    its process is gone, so the lock counts as free."""
    try:
        text = _line(layout.lock_file(name))
    except OSError:
        return None
    word, _, rest = text.partition(" ")
    pid = rest.partition(",")[0]
    if word != "pid" or not (pid.isascii() and pid.isdigit()):
        return None
    host = text.rpartition(", on ")[2] if ", on " in text else HOST
    if host != HOST:  # another machine's pid says nothing here: not taken for a live one
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, under another user
        pass
    if _holds_open(int(pid), layout.lock_file(name)) is False:
        return None  # its number, another process's now (after a reboot, in a container)
    return text


def _holds_open(pid: int, path: Path) -> bool | None:
    """Whether process `pid` has the lock file `path` open, as its holder does from before
    it takes the lock until after it releases it; None when this cannot be told (no
    `/proc`, another user's process). A night killed with -9 leaves its line behind, and
    once its pid is another process's (after a reboot the OOM killer's victim's number is
    soon a daemon's; in a container every run is one of the first pids), that process was
    taken for the holder: `cdr runs` showed the dead night `running` all day."""
    try:
        lock = path.stat()
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.path.samestat(os.stat(f"/proc/{pid}/fd/{fd}"), lock):
                return True
        except OSError:  # closed meanwhile, or a descriptor that is no file
            continue
    return False


WRITER_LOCKS = ("writer.lock", "nightly.lock")
"""The locks a run with a `running` row of the ledger holds while it runs: an ingest (cdr
ingest, fetch, a nightly's stage) holds `writer.lock`, a nightly `nightly.lock` throughout."""


def writers_gone(layout: Layout) -> bool:
    """Whether no process can be running a run of the ledger: each lock of `WRITER_LOCKS`
    is absent, released (its line is emptied then) or names a pid of this machine that no
    longer exists (its holder was killed with -9). Read from the files only, never by trying
    a lock (a writer starting in that moment without --wait-lock would give up). A holder
    on another machine, or a line that cannot be read, counts as alive."""
    for name in WRITER_LOCKS:
        try:
            text = _line(layout.lock_file(name))
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if not text:
            continue
        elsewhere = ", on " in text and text.rpartition(", on ")[2] != HOST
        if elsewhere or running_writer(layout, name) is not None:
            return False
    return True


def live_run(layout: Layout, name: str = "nightly.lock") -> str | None:
    """The run id the live holder of `state/<name>` named (`writer_lock(run_id=...)`), if
    any: a run still going, which its ledger row's `running` must not be taken for a
    run that died. Whether the lock is held is asked of the kernel (`is_held`), not of the
    pid its line names: a night killed with -9 leaves that line, and after a reboot or in a
    container its pid is soon another process's (the dead night, taken for a live one,
    kept its claims on files it never committed, which an ingest then skipped as loaded);
    a holder on another host (a warehouse on NFS) has a pid this machine cannot look up."""
    held = is_held(layout, name)
    holder = running_writer(layout, name) if held is None else None
    if held:
        path = layout.lock_file(name)
        holder = _line(path)
    for part in (holder or "").split(", "):
        if part.startswith("run "):
            return part.removeprefix("run ")
    return None


def is_held(layout: Layout, name: str) -> bool | None:
    """Whether a process (this one on another descriptor included) holds `state/<name>`:
    a shared try of the lock, released at once; None when the file cannot be opened for it
    (then only the pid in its line tells). Only for callers holding `writer.lock`: a writer
    that tries `name` in the moment of the try and does not wait gives up (exit 5), but it
    would give up on `writer.lock` next anyway."""
    try:
        fd = os.open(layout.lock_file(name), os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing the descriptor releases the try's lock
    return False
