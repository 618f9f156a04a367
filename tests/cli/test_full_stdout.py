"""A command whose stdout goes to a full disk (`cdr ingest >> ingest.log` from cron, with
/var/log full) names the standard output, as `cdr report` and `cdr nightly` do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import FIXTURES, ROOT


def to_full_stdout(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`cdr ARGS` in a fresh process whose stdout is /dev/full (every write fails with
    ENOSPC); its stderr is captured."""
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "cdr_pipeline", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
            cwd=ROOT,
            timeout=600,
        )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_stdout_is_named_by_every_command(tmp_path: Path) -> None:
    """`cdr ingest` loaded its file, then its summary could not be written: it said "no
    space left writing WAREHOUSE ... df -h WAREHOUSE", the wrong disk to free, and exited
    120 (Python's flush at exit failed again, "Exception ignored"); `cdr runs` the same."""
    wh = str(tmp_path / "wh")
    for args in (["ingest", str(FIXTURES / "bom_crlf.csv")], ["runs"]):
        done = to_full_stdout(["--warehouse", wh, *args])
        assert done.returncode == 6, done.stderr
        assert "error: no space left writing the standard output" in done.stderr, done.stderr
        assert f"df -h {wh}" not in done.stderr and "Exception ignored" not in done.stderr
    assert Ledger(Layout(Path(wh))).runs()["status"].to_list() == ["ok"]  # the load counts


def test_a_full_warehouse_beside_a_full_stdout_is_still_the_warehouses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On one full disk a write of the warehouse fails, and stdout, holding output not yet
    flushed, would fail too: the error is the write's, not stdout's."""
    import errno
    import io

    from cdr_pipeline.cli.context import stdout_error

    class Full(io.StringIO):
        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    try:
        raise OSError(errno.ENOSPC, "No space left on device")  # as a file's write() does
    except OSError as exc:
        assert stdout_error(exc) is None
