"""The pending erasure of `cdr forget` (`state/privacy/erasure.pending`): its one-time key
and the person's raw values."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.privacy.pending import (
    PendingErasure,
    begin_erasure,
    clear_pending,
    load_pending,
    save_pending,
)
from cdr_pipeline.state.layout import Layout


def test_the_pending_erasure_is_owner_only_whatever_file_mode_says(tmp_path: Path) -> None:
    """file_mode = 0o640 (a warehouse shared with a group) sets the umask 027: the file of
    the one-time key and the raw values was then group-readable, as the pseudonym key
    never is."""
    layout = Layout(tmp_path / "wh")
    before = os.umask(0o027)
    try:
        save_pending(layout, PendingErasure(b"k" * 32, {"name": {"Ann Lee"}}))
    finally:
        os.umask(before)
    assert stat.S_IMODE(layout.pending_erasure.stat().st_mode) == 0o600


@pytest.mark.parametrize("text", ["{not json", '{"key": "zz", "found": {}}', "[]", ""])
def test_a_damaged_pending_erasure_is_named(tmp_path: Path, text: str) -> None:
    """A damaged file (a hand edit, a disk fault) stopped every later cdr forget with an
    unexpected error (exit 1) that named no file."""
    layout = Layout(tmp_path / "wh")
    layout.privacy.mkdir(parents=True)
    layout.pending_erasure.write_text(text, encoding="utf-8")
    with pytest.raises(WarehouseDamaged, match=r"erasure\.pending"):
        load_pending(layout)


def test_a_forget_clears_only_the_pending_erasure_it_saved(tmp_path: Path) -> None:
    """A forget clears its file after its build, outside the writer lock. A second forget
    that took the lock meanwhile saved its own erasure (merged with the first's): the first
    must leave that file, or a kill of the second loses its key and values."""
    layout = Layout(tmp_path)
    first = begin_erasure(layout, {"user": {"u-1"}}, 16, dry_run=False)
    second = begin_erasure(layout, {"user": {"u-2"}}, 16, dry_run=False)
    assert second.key == first.key and second.found == {"user": {"u-1", "u-2"}}
    clear_pending(layout, first)
    kept = load_pending(layout)
    assert kept is not None and kept.found == {"user": {"u-1", "u-2"}}
    clear_pending(layout, second)
    assert load_pending(layout) is None
