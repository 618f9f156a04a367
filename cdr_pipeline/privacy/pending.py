"""An erasure under way (`state/privacy/erasure.pending`): the one-time key of a `cdr forget`
and the person's values it found, written before its first table commit and removed once the
views are rebuilt and the vacuum ran.

A forget commits one table at a time. Killed between two commits, the tables it had
rewritten no longer held the person's values, so running it again found fewer of them (a
name or a device MAC that only the call legs held) and keyed the rest with a new one-time
key: the files outside the tables kept those values, and the person's call legs no longer
joined their devices (licences read idle, their Webex Go calls as anomalies). Stopped
after its commits, before the build (a full disk there exits 6 and says to run it again),
the rerun found the person nowhere, exited 3 ('nothing was erased') and built nothing, so
`cdr.duckdb`'s kept marts held their values until some later build. The next
forget reads the file and goes on with the same key and values (with those of the person it
is given, who may be another: both are erased under the one key). The file holds raw values,
as the pseudonym maps beside it do; it is written 0600 whatever `file_mode` says, as the key is.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.state.files import atomic_write_bytes, fsync_dir
from cdr_pipeline.state.layout import Layout


@dataclass
class PendingErasure:
    key: bytes
    """The one-time key of the tokens."""
    found: dict[str, set[str]]
    """Kind -> the person's values."""
    resumed: bool = False
    """Read from the file: an erasure killed before its end."""
    saved_as: str = field(default_factory=lambda: secrets.token_hex(8))
    """This forget's mark in the file it saves: the file is cleared only while it is still
    this forget's (`clear_pending`)."""


def begin_erasure(
    layout: Layout, found: dict[str, set[str]], size: int, dry_run: bool
) -> PendingErasure:
    """The erasure under way, with `found` (grown by its values, in place), or a new one of a
    fresh one-time key of `size` bytes; saved (unless `dry_run`) before the first commit."""
    pending = load_pending(layout)
    erasure = PendingErasure(secrets.token_bytes(size), found)
    if pending is not None:
        for kind, values in pending.found.items():
            found.setdefault(kind, set()).update(values)
        erasure = PendingErasure(pending.key, found, resumed=True)
    if not dry_run:
        save_pending(layout, erasure)
    return erasure


def load_pending(layout: Layout) -> PendingErasure | None:
    path = layout.pending_erasure
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PendingErasure(
            bytes.fromhex(data["key"]), {k: set(v) for k, v in data["found"].items()}
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a hand edit, a disk fault
        raise WarehouseDamaged(
            f"{path} is damaged ({type(exc).__name__}: {exc}): it holds the one-time key and "
            "the values of a cdr forget that did not finish",
            hint="restore it from a backup and run cdr forget again; or delete it and run "
            "that person's cdr forget again (what is left is then keyed anew)",
        ) from exc


def save_pending(layout: Layout, pending: PendingErasure) -> None:
    found = {k: sorted(v) for k, v in sorted(pending.found.items())}
    text = json.dumps(
        {"key": pending.key.hex(), "found": found, "saved_as": pending.saved_as},
        ensure_ascii=False,
    )
    # owner-only from the start, whatever file_mode says, as the pseudonym key: it holds a
    # key and raw values
    atomic_write_bytes(text.encode(), layout.pending_erasure, private=True)


def clear_pending(layout: Layout, erasure: PendingErasure | None = None) -> None:
    """Remove the file; with `erasure`, only while the file is the one it saved. A forget
    clears its file after its build, outside the writer lock: another forget may have
    taken the lock meanwhile and saved its own (merged) erasure, which must stay until
    that one ends."""
    path = layout.pending_erasure
    if erasure is not None:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("saved_as") != erasure.saved_as:
                return
        except (OSError, ValueError, AttributeError):
            return  # gone, or not this forget's: the next forget reads (or names) it
    path.unlink(missing_ok=True)
    fsync_dir(layout.privacy)
