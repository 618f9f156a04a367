"""The errors' hints say what to do about the error that happened."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cdr_pipeline.errors import environment_error


@pytest.mark.parametrize(
    ("code", "todo"),
    [
        (errno.ENOSPC, "free space on the disk holding {wh} (df -h {wh}; or file entries: df -i"),
        (errno.EDQUOT, "raise the disk quota of the user cdr runs as (quota -s)"),
    ],
)
def test_a_full_disk_says_where_to_look_beyond_its_free_bytes(
    tmp_path: Path, code: int, todo: str
) -> None:
    """A disk out of inodes (file entries: a warehouse of many small files) and a user over
    quota fail a write with ENOSPC and EDQUOT while `df -h` shows space left: the hint
    sent the operator only to `df -h`, which showed a disk with room."""
    wh = tmp_path / "wh"
    error = environment_error(OSError(code, "full", str(wh / "tables" / "x.parquet")), wh)
    assert error is not None and error.exit_code == 6
    assert todo.format(wh=wh) in (error.hint or "")
