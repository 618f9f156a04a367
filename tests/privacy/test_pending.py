"""The pending erasure of `cdr forget` (`state/privacy/erasure.pending`): its one-time key
and the person's raw values."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.privacy.pending import PendingErasure, load_pending, save_pending
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
