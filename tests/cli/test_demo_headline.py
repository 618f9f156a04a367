"""The demo's licence line says bought before held, as the finance summary's headline, chart
and table do (it read "held 3 at month end (peak 4) vs 5 bought")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cdr_pipeline.batch as batch
from cdr_pipeline.batch.stages import DemoSummary
from cdr_pipeline.cli.main import cli


def test_the_demo_line_says_bought_then_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headline = {
        "month": "2026-09",
        "calls": 10,
        "webex_go_calls": 4,
        "webex_go_share": 0.4,
        "licences_held_peak": 4,
        "licences_held_month_end": 3,
        "licences_bought": 5,
        "idle_licences": 1,
    }

    def run_demo(settings: Any, samples_dir: Any, progress: Any) -> DemoSummary:
        return DemoSummary(samples_dir=tmp_path, headline=headline)

    monkeypatch.setattr(batch, "run_demo", run_demo)
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "demo"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "2026-09: Webex Go licences bought 5 vs held 4 (peak; 3 at month end); 1 idle" in text
