"""A stage that fails says what to try in its error line, as a file that fails does: a night
on a full disk logged "build failed: no space left writing ..." and nothing else, so
`jq 'select(.level == "error")'` on the night's log showed what failed but never the hint
(free space, remount, restore) that every other error line carries."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cdr_pipeline.batch.stages import NightlySummary
from cdr_pipeline.errors import WarehouseUnwritable


def test_a_failed_stage_logs_its_hint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    summary = NightlySummary(root=tmp_path)
    with (
        caplog.at_level(logging.INFO, logger="cdr_pipeline.batch.stages"),
        summary.run_stage("build"),
    ):
        raise WarehouseUnwritable(
            f"no space left writing {tmp_path}", path=str(tmp_path), hint="free space"
        )
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == f"build failed: no space left writing {tmp_path}; hint: free space"
    assert summary.stages[0].exit_code == 6
