"""One error hierarchy. Each error carries the exit code the CLI uses and a hint for the user.

Exit codes (documented in README "Exit codes"):
    0 ok · 1 unexpected error · 2 usage · 3 bad input or configuration ·
    4 data-quality failure · 5 another writer holds the warehouse lock ·
    6 the warehouse cannot be written (no space, read-only file system, permission) or read
      (permission, damage), or a
      build needed more memory than `build_memory_mb` (a partition merge: `merge_memory_mb`) ·
    130 stopped by Ctrl-C, SIGTERM or SIGHUP · 141 the reader of stdout closed it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_QUALITY = 4
EXIT_LOCKED = 5
EXIT_ENVIRONMENT = 6
EXIT_INTERRUPTED = 130
"""Ctrl-C, SIGTERM or SIGHUP: 128 + SIGINT, as shells report an interrupted command."""
EXIT_OUTPUT_CLOSED = 141
"""The reader of stdout closed it (`cdr runs | head`): 128 + SIGPIPE, as shells report a
command that a closed pipe stopped."""


class CdrError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """The message and, if any, the hint, on one line (a file's result in the ledger)."""
        return f"{self.message}; hint: {self.hint}" if self.hint else self.message


class ConfigError(CdrError):
    """Configuration is missing, malformed or contradictory."""

    exit_code = EXIT_BAD_INPUT


class InputError(CdrError):
    """An input file cannot be used (unknown kind, wrong encoding, not a DCH export...)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path or ""
        if path and line is not None:
            where = f"{path} line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.line = line


class RejectRateExceeded(InputError):
    """Too many rows of one file were rejected; the file's rows were not published."""


class LockBusy(CdrError):
    """Another writer holds the warehouse lock."""

    exit_code = EXIT_LOCKED


class ConservationError(CdrError):
    """rows read != loaded + duplicate + rejected for a file: a bug, never silently accepted."""

    exit_code = EXIT_UNEXPECTED


class WarehouseUnwritable(CdrError):
    """The warehouse (or a file the pipeline writes) cannot be written: the disk is full, the
    file system is read-only, or permission is denied. Not the input's fault, not a bug:
    committed data stays as it was; free space or fix the mount, then run again."""

    exit_code = EXIT_ENVIRONMENT

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.path = path


class WarehouseDamaged(CdrError):
    """A table's Delta log cannot be read, or a data file it lists is missing or truncated
    (a disk fault, an edit by hand): not the input's fault, not a bug of ours. Nothing is
    written until the log or the file is restored."""

    exit_code = EXIT_ENVIRONMENT


class WarehouseUnreadable(CdrError):
    """A file of the warehouse this user may not read (its mode or owner changed, a copy
    that kept another user's): not damage, not a bug, and not a write. Nothing is written;
    give the user read access (or run cdr as the owner) and run again."""

    exit_code = EXIT_ENVIRONMENT


def is_denied(exc: BaseException) -> bool:
    """Whether `exc` says permission was denied (by its errno, or in words: delta-rs and
    DuckDB lose the errno)."""
    return _errno_of(exc) in _DENIED


def denied_reading(path: Path | str) -> WarehouseUnreadable:
    """A permission denied while reading the warehouse's `path`, as an exit-6 error naming
    the file and the read. Left to `environment_error`, which sees no file name in
    pyarrow's or polars' error, it was reported as a write under the warehouse."""
    return WarehouseUnreadable(
        f"permission denied reading {path}",
        hint=f"this user may not read it: check its owner and mode (ls -l {path}); run cdr as "
        "the warehouse's owner, or give that user read access to it. Nothing was changed",
    )


class BuildOutOfMemory(CdrError):
    """A build needed more memory than `build_memory_mb` gives DuckDB (a day with more legs
    than a refresh step can hold). Not the input's fault, not a bug: the previous
    `cdr.duckdb` and every committed table stay as they were."""

    exit_code = EXIT_ENVIRONMENT


class MergeOutOfMemory(CdrError):
    """An ingest's partition merge needed more memory than `merge_memory_mb` gives DuckDB
    (a day with very many legs). Not the input's fault, not a bug: the run commits nothing,
    and every committed table stays as it was."""

    exit_code = EXIT_ENVIRONMENT

    @classmethod
    def past(cls, what: str, limit: str, exc: BaseException) -> MergeOutOfMemory:
        """`what` (merging a table, rewriting a partition) ran out of DuckDB's `limit`."""
        return cls(
            f"{what} needed more than merge_memory_mb ({limit}): {str(exc).splitlines()[0]}",
            hint="raise merge_memory_mb in cdr.toml (or CDR_MERGE_MEMORY_MB) and run the "
            "same command again: nothing of it was committed",
        )


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS}
_NO_HANDLES = {errno.EMFILE, errno.ENFILE}
"""The open files the process (`ulimit -n`) or the system allows are all in use: a file of
many days stages one file a day, held open."""
_DENIED = {errno.EACCES, errno.EPERM}
_BAD_PATH = {
    errno.ENOENT,
    errno.ENAMETOOLONG,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EINVAL,
    errno.ELOOP,
}
"""A path the file system will not create a file at (`--out /proc/x`, a name over 255 bytes)."""
_TEXTS = (
    ("no space left on device", errno.ENOSPC),
    ("disk quota exceeded", errno.EDQUOT),
    ("file too large", errno.EFBIG),
    ("read-only file system", errno.EROFS),
    ("too many open files", errno.EMFILE),
    ("permission denied", errno.EACCES),
    ("operation not permitted", errno.EPERM),
)
"""Libraries that lose the errno (DuckDB, Arrow) still say it in words."""


def _errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code:
        return code
    text = str(exc).lower()
    return next((num for words, num in _TEXTS if words in text), None)


def known_error(exc: BaseException, root: Path | None) -> CdrError | None:
    """`exc` as the error the CLI reports with its exit code: itself, or a write the machine
    cannot take under `root` (`environment_error`); None for a bug."""
    return exc if isinstance(exc, CdrError) else environment_error(exc, root)


def free_space(code: int, disk: str) -> str:
    """What to do about a full disk (`code`: ENOSPC or EDQUOT) holding `disk`. `df -h`
    alone sent the operator of a disk out of inodes (many small files) or of a user over
    quota to a disk that showed space left."""
    if code == errno.EDQUOT:
        return f"free space under {disk} or raise the disk quota of the user cdr runs as (quota -s)"
    return f"free space on the disk holding {disk} (df -h {disk}; or file entries: df -i {disk})"


def environment_error(exc: BaseException, root: Path | None) -> WarehouseUnwritable | None:
    """`exc` as an exit-6 error when it says the machine cannot take a write (disk full,
    read-only file system, or a permission denied under `root`, the warehouse), else None.
    A permission error elsewhere (an input file) is the input's problem, not this one."""
    found = _carrier(exc)
    if found is None:
        return None
    exc, code = found
    # a copy or a rename names both files (shutil.copyfile: the source first); the write
    # failed on the second, the one whose disk is full or read-only
    filename = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
    where = str(filename) if filename else (str(root) if root is not None else "the warehouse")
    # an error without a file name (from a library writing under the warehouse) names the
    # folder; its own words name the file, so that the operator looks in the right place
    said = "" if filename else _first_line(exc)
    detail = f" ({said})" if said else ""
    if code in _DENIED:
        if filename and root is not None and not _under(Path(str(filename)), root):
            return None
        return WarehouseUnwritable(
            f"permission denied writing {'under ' if not filename else ''}{where}{detail}",
            path=where,
            hint="run cdr as the warehouse's owner, or give that user write access to it",
        )
    # the disk to free is the one the failed write went to: the warehouse's, or another's
    # (a nightly's --archive folder)
    elsewhere = filename and root is not None and not _under(Path(str(filename)), root)
    disk = str(Path(where).parent) if elsewhere or root is None else str(root)
    if code == errno.EFBIG:
        return WarehouseUnwritable(
            f"the file size limit stops writing {where} ({os.strerror(code)})",
            path=where,
            hint="raise the file size limit (ulimit -f) of the job; committed data is unchanged",
        )
    if code in _FULL:
        return WarehouseUnwritable(
            f"no space left writing {where} ({os.strerror(code)})",
            path=where,
            hint=f"{free_space(code, disk)} and run again; "
            "committed data is unchanged and the run can simply be repeated",
        )
    if code in _NO_HANDLES:
        return WarehouseUnwritable(
            f"too many open files writing {where}: the job's limit of open files is reached",
            path=where,
            hint="raise the open-file limit of the job (ulimit -n 4096; LimitNOFILE= of a "
            "systemd unit), or load files of fewer days (max_file_days); committed data is "
            "unchanged and the run can simply be repeated",
        )
    blocker = _file_in_the_way(filename, root) if code == errno.ENOTDIR else None
    if blocker is not None:
        return WarehouseUnwritable(
            f"cannot write {where}: {blocker} is a file where the warehouse keeps a folder",
            path=str(blocker),
            hint=f"move it away (mv {blocker} {blocker}.bak) and run again; "
            "committed data is unchanged",
        )
    if code in _READ_ONLY:
        return WarehouseUnwritable(
            f"cannot write {where}: the file system is read-only",
            path=where,
            hint="remount it read-write or point --warehouse at a writable folder; "
            "committed data is unchanged",
        )
    return None


def _carrier(exc: BaseException | None) -> tuple[BaseException, int] | None:
    """The error of `exc`'s chain that carries an errno (the cause may), with the errno."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        code = _errno_of(exc)
        if code is not None:
            return exc, code
        exc = exc.__cause__ or exc.__context__
    return None


class OutputUnwritable(CdrError):
    """A command's output (`--out`, or stdout redirected to a file) cannot be written: its
    disk is full, its file system read-only, or its folder not ours. The warehouse is not
    written by it and stays as it was."""

    exit_code = EXIT_ENVIRONMENT


def output_error(exc: BaseException, out: Path | None) -> OutputUnwritable | None:
    """`exc`, raised while writing a command's output to `out` (None: stdout), as an exit-6
    error naming that output when the machine cannot take the write; else None. Without
    it, an error without a file name was blamed on the warehouse, the wrong disk to free."""
    found = _carrier(exc)
    if found is None:
        return None
    code = found[1]
    target = str(out) if out is not None else "the standard output"
    folder = str(out.parent) if out is not None else None
    elsewhere = (
        f"write to another folder (--out) or make {folder} writable"
        if folder
        else "redirect it elsewhere"
    )
    if code in _BAD_PATH and out is not None and _names_output(found[0], out):
        message = f"cannot write {target} ({os.strerror(code)})"
        hint = "pass --out a shorter path in an ordinary folder (not /proc or /sys)"
    elif code not in _FULL | _READ_ONLY | _DENIED:
        return None
    elif code == errno.EFBIG:
        message = f"the file size limit stops writing {target} ({os.strerror(code)})"
        hint = "raise the file size limit (ulimit -f) of the job"
    elif code in _FULL:
        message = f"no space left writing {target} ({os.strerror(code)})"
        hint = (
            f"{free_space(code, folder)}, or write to another disk"
            if folder
            else "stdout goes to a file or device that is full: free space there, or pass --out"
        )
    elif code in _READ_ONLY:
        message, hint = f"cannot write {target}: the file system is read-only", elsewhere
    else:
        message, hint = f"permission denied writing {target}", elsewhere
    return OutputUnwritable(message, hint=f"{hint}; the warehouse is unchanged")


def _names_output(exc: BaseException, out: Path) -> bool:
    """`exc` is about `out`, a file beside it (the temporary one it is written through) or
    one of the folders made for it: a missing file the report read is not the output's
    fault."""
    filename = getattr(exc, "filename", None)
    if filename is None:
        return False
    path = Path(os.fsdecode(filename)).absolute()
    target = out.absolute()
    return path.parent == target.parent or path in target.parents


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: links that loop (Python 3.11)
        return False
    return True


def _file_in_the_way(filename: object, root: Path | None) -> Path | None:
    """The file under the warehouse `root` that stands where a folder of `filename`'s path
    should be (`closed` or `state/staging` made a file by hand), if any."""
    if not filename or root is None or not _under(Path(str(filename)), root):
        return None
    path = Path(str(filename))
    return next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)


def special_kind(path: Path) -> str | None:
    """What `path` is when it is there but no regular file or folder (a named pipe, a
    device, a socket: `cdr.toml` or a lock made one), else None; for the message."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else None
