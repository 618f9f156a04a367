"""The paths a run reads: files as given, folders walked, and what each path is (a named
pipe or a device given by name is no file to read)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.unreadable import NotAFile

_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})
"""What `stat` says of a path that names nothing (or links that loop), as `Path.exists` reads
it; any other error (permission denied on a folder above it) is of a path that may exist."""


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders walked recursively (hidden and system entries skipped:
    `skipped_name`), in stable order.
    A folder that cannot be listed is in the list itself: the run fails it alone, naming
    it (a walk that passes over it loses its files without a word); so is a symbolic link
    that leads nowhere, named or found. Only a path that names nothing stops the run.
    A file named twice (`x.csv ./x.csv`, a folder and a file in it) is listed once: each
    was read again, a damaged one failing as often as it was named."""
    out: list[Path] = []
    for p in paths:
        try:
            mode: int | None = p.stat().st_mode
        except OSError as exc:
            if exc.errno not in _ABSENT:  # cannot be looked at (a folder above it may not be
                out.append(p)  # searched): the run fails it alone, naming why
                continue
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            out.extend(sorted(_walk(p)))
        elif mode is not None:
            out.append(p)
        elif p.is_symlink():  # fails alone (`regular_file`), as one a folder's walk finds:
            out.append(p)  # the nightly names each file of its inbox, and one stopped its run
        else:
            raise InputError("no such file or folder", path=str(p))
    return _once(out)


def _once(paths: list[Path]) -> list[Path]:
    """`paths` without a repeat of one named before: the same folder and name, the folder
    resolved (a symbolic link to a file is another path, whose content ingest skips)."""
    seen: set[str] = set()
    folders: dict[Path, str] = {}  # one realpath per folder: a walk lists thousands of files
    out = []
    for p in paths:
        folder = folders.get(p.parent)
        if folder is None:
            folder = folders[p.parent] = os.path.realpath(p.parent)
        key = os.path.join(folder, p.name)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


SYSTEM_NAMES = frozenset(
    {
        "desktop.ini",
        "thumbs.db",
        "ehthumbs.db",
        "ehthumbs_vista.db",
        "__macosx",
        "$recycle.bin",
        "system volume information",
    }
)
"""Names (any case) a folder walk skips as it skips hidden ones: files and folders the
operating system or a file manager writes into any folder (Windows Explorer's
`desktop.ini` and `Thumbs.db`, a drive's recycle bin and `System Volume Information`,
macOS's `__MACOSX` of an unpacked ZIP). An inbox on a Windows share failed its run every
night on them (`desktop.ini`: not a recognised export, exit 3)."""


def skipped_name(name: str) -> bool:
    """Whether a folder walk skips an entry: hidden (`.name`), a system name above, or an
    Office owner file (`~$name.xlsx`, written beside a workbook while it is open)."""
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_NAMES


def _walk(folder: Path) -> Iterator[Path]:
    """The regular files under `folder` (links to files included, hidden and system
    entries, `skipped_name`, and linked folders not), each link that leads nowhere, and
    each folder that cannot be listed. The walk keeps its own stack: `os.walk` (Python
    3.11) recursed once per level, so an inbox of folders nested a thousand deep (a sync
    client's loop) ended the run as a bug, RecursionError, exit 1."""
    unlisted: list[Path] = []
    stack = [folder]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as entries:
                for entry in entries:
                    if skipped_name(entry.name):
                        continue
                    path = Path(entry.path)
                    if _is_folder(entry):
                        stack.append(path)
                    elif _is_file(path) or _leads_nowhere(entry):
                        yield path
        except OSError:
            unlisted.append(here)
    yield from unlisted


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:  # cannot be looked at: `_is_file` lists it
        return False


def _leads_nowhere(entry: os.DirEntry[str]) -> bool:
    """Whether a folder's entry is a symbolic link to nothing (its target moved or deleted,
    or links that loop). It is listed, so the run fails it alone, naming it, as it does a
    link named on the command line: the walk passed over it, and the export it stood for was
    not loaded, exit 0, without a word."""
    try:
        return entry.is_symlink() and not os.path.exists(entry.path)
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    """Whether a folder's entry is a file to load: a regular file or a link to one, not a
    link that leads nowhere or loops, a pipe or a device. One that cannot be looked at (a
    folder that may be read but not searched, as `chmod -R 644` leaves it) is listed too:
    the run fails it alone, naming why, where asking crashed the run (exit 1)."""
    try:
        return path.is_file()
    except OSError:
        return True


def input_bytes(files: Sequence[Path]) -> int:
    """The size of the regular files among `files` together (the whole input, for a progress
    percentage). One that cannot be looked at now counts nothing: the run fails it alone."""
    total = 0
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


KINDS_OF_FILE = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def regular_file(path: Path) -> os.stat_result:
    """The status of `path`; an `OSError` naming what it is when it is no regular file. A
    named pipe or a device given by name would block the open or never end (`/dev/zero`): it
    is refused at once, as a file that cannot be read, and the run goes on with the others."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno not in _ABSENT or not path.is_symlink():
            raise
        raise NotAFile(
            exc.errno,
            "a symbolic link that leads nowhere (its target is missing, or links loop)",
            str(path),
            hint="point the link at the export, or remove it",
        ) from exc
    if stat.S_ISDIR(st.st_mode):  # a folder the walk could not list (`expand_paths`)
        try:
            os.scandir(path).close()
        except OSError as exc:
            raise NotAFile(
                exc.errno,
                f"a folder that cannot be listed ({exc.strerror}): none of its files were loaded",
                str(path),  # an input's, not the warehouse's: `environment_error` tells them apart
                hint="give this user read and execute access to it (chmod u+rx) and run again",
            ) from exc
    if not stat.S_ISREG(st.st_mode):
        what = KINDS_OF_FILE.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise NotAFile(
            errno.EINVAL,
            f"{what}, not a file",
            hint="not a regular file: give cdr the export itself, a file (a pipe or a device is "
            "never read; save what it carries to a file and load that)",
        )
    return st
