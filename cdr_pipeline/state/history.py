"""How far back a table can still be read: `cdr vacuum` deletes a file once the commit that
replaced it is older than the grace period, so an old version loses files while a later one
that no longer lists them stays whole."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote

from cdr_pipeline.errors import InputError
from cdr_pipeline.state import tables


def first_readable(root: Path, version: int, files: Iterable[Path]) -> int | None:
    """The first version after `version` (whose data files are `files`) that lists no file
    missing from disk, found by replaying the log entries after it (every entry is kept:
    `tables.KEEP_LOG`), one `stat` per file they add; None when none is, or an entry does
    not read (the damage is said when that version is read)."""
    present = {path: path.is_file() for path in files}
    missing = sum(not ok for ok in present.values())
    for later in tables.log_versions(root):
        if later <= version:
            continue
        try:
            with open(root / "_delta_log" / f"{later:020d}.json", encoding="utf-8") as fh:
                actions = [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError):
            return None
        for action in actions:
            if isinstance(action.get("add"), dict):
                path = root / unquote(str(action["add"].get("path")))
                if path not in present:
                    present[path] = path.is_file()
                    missing += not present[path]
            elif isinstance(action.get("remove"), dict):
                path = root / unquote(str(action["remove"].get("path")))
                missing -= not present.pop(path, True)
        if missing == 0:
            return later
    return None


def vacuumed(snap: tables.Snapshot, gone: int, listed: list[Path]) -> InputError:
    """The error for a version whose files `cdr vacuum` deleted (`gone` of its `listed`
    files), naming the first later version that can still be read."""
    assert snap.version is not None
    first = first_readable(snap.root, snap.version, listed)
    stamp = None if first is None else tables.commit_time(snap.root, first)
    since = (
        ""
        if first is None
        else f"version {first}" + (f" (committed {stamp.isoformat()})" if stamp is not None else "")
    )
    return InputError(
        f"{snap.name} version {snap.version} can no longer be read: {gone} of its "
        f"{len(listed)} data file(s) were replaced since (by a later load, retention or "
        "`cdr forget`) and deleted by `cdr vacuum`"
        + (f"; the first later one that can is {since}" if since else ""),
        hint="a version stays readable for vacuum_grace_hours after the commit that "
        "replaced its files; ask for a later version or time (cdr runs --wide lists the "
        "versions), or raise vacuum_grace_hours to keep history longer",
    )
