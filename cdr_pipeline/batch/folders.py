"""The nightly's checks of its folders before anything runs: an inbox that is a folder,
apart from the warehouse and the archive (neither inside the other), and an archive that is
or can be made a folder."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.resources import samples_dir


def check_inbox(inbox: Path, archive: Path | None, warehouse: Path) -> None:
    """Refuse (exit 3, before anything runs) an inbox that is not a folder, or whose walk
    would take the warehouse's files or the archive's for inputs."""
    if not inbox.is_dir():
        raise ConfigError(
            f"inbox {inbox} is not a folder",
            hint="pass --inbox DIR or set inbox in cdr.toml / CDR_INBOX",
        )
    # the committed cdr.toml's inbox: archiving would move the samples `cdr demo` loads
    if archive is not None and inbox.resolve() == samples_dir().resolve():
        raise ConfigError(
            f"--archive would move the bundled samples out of {inbox}",
            hint="copy them to an inbox of your own (cp -r data/samples inbox) and pass "
            "--inbox inbox, or run without --archive",
        )
    # the walk would take the warehouse's own files (cdr.duckdb, reports, rejects, Data
    # Docs) for inputs every night, and the archive stage move those it skipped
    held = warehouse.resolve().is_relative_to(inbox.resolve())
    if held and not _walk_skips(warehouse.resolve(), inbox.resolve()):
        raise ConfigError(
            f"the warehouse {warehouse} is inside the inbox {inbox}: each night would "
            "read its files as inputs",
            hint="pass an inbox that holds only the exports (for example "
            f"--inbox {inbox.resolve() / 'inbox'}), beside the warehouse, not above it",
        )
    # an inbox in the warehouse (`--inbox /srv/cdr/warehouse/reports`): the walk took the
    # warehouse's own files for inputs, and the archive stage moved those it counted loaded
    # or empty (a report of headers only, a lock file) out of the warehouse
    if inbox.resolve().is_relative_to(warehouse.resolve()):
        raise ConfigError(
            f"the inbox {inbox} is inside the warehouse {warehouse}: each night would read "
            "the warehouse's own files as inputs and archive them",
            hint="pass an inbox that holds only the exports, beside the warehouse (for "
            f"example --inbox {warehouse.resolve().parent / 'inbox'}), not in it",
        )
    if archive is not None:
        _check_archive_path(archive)
    # the walk of the inbox would find the archived files each night, as re-sent, and the
    # archive stage move them one folder deeper (archive/archive/...), for ever
    # (not under a hidden name: the walk skips it)
    inside = archive is not None and archive.resolve().is_relative_to(inbox.resolve())
    if archive is not None and inside and not _walk_skips(archive.resolve(), inbox.resolve()):
        raise ConfigError(
            f"--archive {archive} is inside the inbox {inbox}: each night would load it "
            "again and archive what is in it one folder deeper",
            hint="pass an archive beside the inbox, not in it (for example "
            f"--archive {inbox.resolve().parent / 'archive'}), and move what is in it there",
        )


def _walk_skips(path: Path, under: Path) -> bool:
    """Whether a walk of `under` skips `path`: a folder on the way has a hidden name."""
    return any(part.startswith(".") for part in path.relative_to(under).parts)


def _check_archive_path(archive: Path) -> None:
    """Refuse (exit 3) an archive that no folder can be made at: a file in the place of it
    or of a folder above it (`--archive /srv/cdr/archive.tar/2026`). The night ran its
    stages, then its archive stage failed as a disk error (exit 6), `Not a directory`, with
    the hint to free space on the archive's disk."""
    existing = archive
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(
            f"--archive {archive}: {existing} is a file, not a folder, so the archive stage "
            "could not move anything there",
            hint="pass --archive a folder (or the path of one to make) beside the inbox",
        )
