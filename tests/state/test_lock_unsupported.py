"""A warehouse on a file system that takes no `flock` (an NFS mount with `nolock`, some
SMB and FUSE mounts) is named as such, never "unexpected OSError ... report it"."""

from __future__ import annotations

import errno
import fcntl
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_ENVIRONMENT, WarehouseUnwritable
from cdr_pipeline.state.lock import is_held, writer_lock


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP])
def test_a_file_system_without_locks_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """`cdr nightly` on such a mount ended "unexpected OSError: [Errno 37] No locks
    available; rerun with --debug ... and report it", exit 1, as if a bug: it is exit 6,
    naming the lock file and what to change."""

    def no_locks(fd: int, op: int) -> None:
        raise OSError(code, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    layout = Settings(warehouse=tmp_path / "wh").layout
    with pytest.raises(WarehouseUnwritable) as raised, writer_lock(layout, "cdr ingest"):
        pass
    assert str(layout.lock_file("writer.lock")) in raised.value.message
    assert "lock" in (raised.value.hint or "")
    assert is_held(layout, "writer.lock") is None  # unknown: only the pid's line tells

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    args = ["--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", str(inbox)]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == EXIT_ENVIRONMENT, run.output
    assert "unexpected" not in run.output and "does not support file locks" in run.output
