"""The nightly's archive stage: the inbox files a run committed move to `--archive`,
never overwriting an archived file, never leaving a partial copy in use."""

from __future__ import annotations

import contextlib
import errno
import filecmp
import glob
import logging
import os
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.ingest import IngestResult
from cdr_pipeline.state.files import NAME_MAX, fit_name, fsync_dir
from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)

_PART_RANDOM = 8
"""Hex digits ending the hidden name of a copy under way into the archive (another file
system): `_part_prefix` and these."""


def archive_loaded(
    result: IngestResult | None, inbox: Path, archive: Path, earlier: Sequence[Path] = ()
) -> list[Path]:
    """Move the inbox files that are committed (loaded, empty or loaded before, by this run
    or, `earlier`, by an earlier one) to `archive`, keeping their relative path. Failed files
    stay in the inbox for someone to look at."""
    status: dict[str, set[str]] = {str(p): {"skipped"} for p in earlier}
    for f in result.files if result is not None else []:
        status.setdefault(f.path, set()).add(f.status)
    moved = []
    for path_text, states in sorted(status.items()):
        if states - {"loaded", "empty", "skipped"}:
            continue
        path = Path(path_text)
        if not os.path.lexists(path):
            _gone(path)
            continue
        dest = archive / path.relative_to(inbox)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            free = _free_name(path, dest)
            if free is None:  # the archive holds this very content under this name already
                path.unlink()
                continue
            _move(path, free)
        except OSError:
            if os.path.lexists(path):
                raise
            _gone(path)  # taken away while it was being moved
            continue
        moved.append(free)
    return moved


def _gone(path: Path) -> None:
    """A committed file that left the inbox before the archive stage moved it (someone moved
    or deleted it during the night): there is nothing to move. It stopped the stage as a
    disk error, exit 6, 'No such file or directory writing ARCHIVE/NAME' with the hint to
    free space, and the files after it stayed in the inbox."""
    log.warning("%s left the inbox during the night: not archived (it is loaded)", path)


def _free_name(path: Path, dest: Path) -> Path | None:
    """`dest`, or when the archive holds another file of that name (a re-sent
    `entitlements.csv` with new rows), the first free `name.2.csv`, `name.3.csv`...: an
    archived file is never overwritten. None when a file of the name holds the same bytes."""
    base, dot, rest = dest.name.partition(".")
    candidate, n = dest, 1
    while candidate.exists():
        if filecmp.cmp(path, candidate, shallow=False):
            return None
        n += 1
        candidate = dest.with_name(_numbered(base, f".{n}", f"{dot}{rest}"))
    return candidate


def _numbered(base: str, number: str, rest: str) -> str:
    """`base.N.rest`, cut to fit a file name (an inbox file may take all 255 bytes): the
    end of `base` gives way, or, when `rest` alone takes the room, the end of the name
    before its last suffix, which the number then precedes. The number always stays, so
    each candidate is another name."""
    if len(os.fsencode(number + rest)) < NAME_MAX:
        return fit_name(base, number + rest)
    stem, suffix = os.path.splitext(base + rest)
    if len(os.fsencode(number + suffix)) < NAME_MAX:
        return fit_name(stem, number + suffix)
    return fit_name(base + rest, number)


def _part_prefix(name: str) -> str:
    """The hidden name of a copy of `name` under way into the archive, without its random
    end: `.NAME.part-`, NAME cut so that the whole fits a file name."""
    return "." + fit_name(name, ".part-", limit=NAME_MAX - 1 - _PART_RANDOM)


def _move(path: Path, dest: Path) -> None:
    """Move `path` to `dest`: a rename on one file system; else a copy to a temporary name,
    made durable and renamed into place before the inbox file is removed, so that a full
    disk leaves no truncated file in the archive (and the inbox file stays), nor a power
    cut an empty one in the archive and none in the inbox. An error names the archive's
    file, not the inbox's nor the hidden copy's. The partial copies of `dest` a nightly
    killed during its copy left are removed first (one nightly at a time: none is being
    written)."""
    part = _part_prefix(dest.name)
    try:
        for left in dest.parent.glob(f"{glob.escape(part)}*"):
            left.unlink(missing_ok=True)
    except OSError as exc:  # a read-only archive: the error named `.NAME.part-...`, not NAME
        raise OSError(exc.errno, exc.strerror, str(dest)) from exc
    try:
        os.rename(path, dest)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise OSError(exc.errno, exc.strerror, str(_refusing(exc, path, dest))) from exc
    tmp = dest.with_name(f"{part}{secrets.token_hex(_PART_RANDOM // 2)}")
    try:
        shutil.copy2(path, tmp)
        # on disk before the inbox's file goes: a power cut after the removal left the
        # archive an empty or missing file (its data still in the page cache), the inbox none
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        _remove_copy(tmp)
        raise OSError(exc.errno, exc.strerror, str(dest)) from exc
    except BaseException:
        _remove_copy(tmp)
        raise
    path.unlink()


def _refusing(exc: OSError, path: Path, dest: Path) -> Path:
    """The side of a refused rename to name: it needs write access to the inbox's folder as
    well as the archive's, and a read-only inbox (`chmod 555`, a read-only mount) was named
    as the archive file being written, with the hint to give access to the archive."""
    denied = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if denied and not os.access(path.parent, os.W_OK | os.X_OK):
        return path
    return dest


def _remove_copy(tmp: Path) -> None:
    """Remove the partial copy of a move that failed, keeping the move's own error: on an
    archive that turned read-only during the copy (a disk error, `errors=remount-ro`) the
    removal failed too, and its error, naming the hidden copy, replaced the one naming the
    user's file. What stays is removed by the next move of that name."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def refuse_a_new_warehouse_beside_an_archive(layout: Layout, archive: Path | None) -> None:
    """A night that would start a new warehouse while `archive` holds files an earlier
    night moved there is refused (exit 3): the warehouse folder vanished or is not mounted
    (its disk, a changed `CDR_WAREHOUSE`). It went on: a new warehouse of tonight's files,
    which the archive stage then moved away, so the real warehouse never loaded them."""
    if archive is None or layout.is_warehouse() or not archive.is_dir():
        return
    for folder, dirs, files in os.walk(archive):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        named = next((f for f in files if not f.startswith(".")), None)
        if named is not None:
            raise ConfigError(
                f"the warehouse {layout.root} holds no data yet, but the archive {archive} "
                f"holds files an earlier night loaded ({Path(folder, named)}): is the "
                "warehouse's disk mounted, and is --warehouse / CDR_WAREHOUSE right?",
                hint="mount it or fix the setting; to start a new warehouse on purpose, "
                "pass an empty --archive folder (or first run cdr ingest)",
            )
