"""Durable, atomic file installs: write beside the target, fsync, rename.

A reader sees the old file or the new one, and a crash leaves one of the two.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def apply_file_mode(file_mode: int) -> None:
    """Make every file this process creates from now on get at most `file_mode` (0o600 by
    default: call records are personal data), and every folder the matching search bits
    (0o700; 0o750 for 0o640). Set through the process umask, so files that DuckDB, Arrow and
    polars create are covered too."""
    os.umask(0o777 & ~folder_mode(file_mode))


def folder_mode(file_mode: int) -> int:
    """The mode of a folder holding files of `file_mode`: its read bits give search too."""
    return file_mode | ((file_mode & 0o444) >> 2)


NAME_MAX = 255
"""Bytes of one file name: the bound of every common file system (ext4, XFS, Btrfs, tmpfs,
NTFS and APFS in characters); a longer name fails with `File name too long`."""
TEMP_ROOM = 14
"""What `temp_name` adds to a name (`.` and `.tmp-` and eight hex digits): a name this
pipeline makes up leaves it free, so its temp file can be written beside it."""


def temp_name(path: Path) -> Path:
    """A hidden, unique temp file beside `path`."""
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def fit_name(head: str, tail: str = "", limit: int = NAME_MAX) -> str:
    """`head + tail`, `head` cut (whole characters, from its end) so that the name takes at
    most `limit` bytes in the file system's encoding; `tail` (a number, a suffix) is kept.
    A name made from another (a file sent to the inbox, of up to 255 bytes) plus something
    of ours would otherwise pass the bound and fail with `File name too long`."""
    room = limit - len(os.fsencode(tail))
    if room < 0:
        raise ValueError(f"{tail!r} alone is longer than {limit} bytes")
    head = head[:room]  # a character takes at least one byte
    while len(os.fsencode(head)) > room:
        head = head[:-1]
    return head + tail


def install_file(src: Path, dest: Path) -> None:
    """Make `src` durable and rename it to `dest` atomically. Across file systems `src` is
    first copied to a hidden temp file beside `dest`, so the final step is still a rename."""
    with open(src, "rb") as fh:
        os.fsync(fh.fileno())
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = temp_name(dest)
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        src.unlink()
    fsync_dir(dest.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(data: bytes, path: Path, private: bool = False) -> None:
    """Write `data` to a hidden temp file beside `path`, then install it. A write that
    fails (disk full) leaves `path` as it was and no temp file. `private`: the file is
    owner-only (0600) from its creation whatever the umask or `file_mode` says, never
    readable by others for a moment (keys and raw values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        if private:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                fh.write(data)
        else:
            tmp.write_bytes(data)
        install_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write Parquet to a hidden temp file beside `path`, then install it (on failure as
    `atomic_write_bytes`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        install_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content (the ledger's identity of an input file)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
