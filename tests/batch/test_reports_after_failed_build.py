"""A night whose build failed (a full disk, a permission, a build out of memory) wrote its
reports from the views that build left: they left out what the night loaded, and stayed in
`reports/<run date>/` with a stage line saying `0` and nothing saying they were short."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import WarehouseUnwritable
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse
from tests.ingest.helpers import run_unprivileged

SAMPLES = Path(__file__).parents[2] / "data" / "samples"


def test_no_reports_from_the_views_a_failed_build_left(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "calling_detailed_call_history_2026-09-01_2026-10-01", inbox)
    # September loaded and its views built (what a first night leaves; its reports and
    # validation are not what is checked, so the night itself is not run)
    first = ingest_paths(Settings(warehouse=wh), [inbox])
    assert first.exit_code == 0, [f.message for f in first.errors]
    build_warehouse(Settings(warehouse=wh))
    (wh / "reports").mkdir()  # as a night's reports leave it: writable for the next night's
    # the next night loads October; the warehouse folder itself takes no new file, so the
    # build (a new cdr.duckdb beside the old) is refused: permission denied, exit 6
    shutil.copy(SAMPLES / "dch_export_2026-09-30_2026-10-31.csv", inbox)
    wh.chmod(0o555)
    try:
        night = run_unprivileged(
            "--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-02"
        )
    finally:
        wh.chmod(0o755)
    assert night.returncode == 6, night.stdout + night.stderr
    stages = {line.split()[0]: line for line in night.stdout.splitlines() if line.strip()}
    assert stages["build"].split()[1] == "6"
    assert stages["reports"].split()[1] == "6" and "not written" in stages["reports"]
    assert not (wh / "reports" / "2026-11-02").exists()
    # the next night, able to build, writes them
    again = run_nightly(Settings(warehouse=wh), inbox, run_date=date(2026, 11, 2))
    assert again.exit_code == 0, again.stages
    assert (wh / "reports" / "2026-11-02" / "top-callers_2026-10.csv").is_file()


def test_a_first_night_whose_build_failed_says_so_at_its_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first night on a full disk (nothing loaded, no table, its build refused) had a
    reports stage "failed: .../cdr.duckdb does not exist", exit 3: bad input or
    configuration, in a night whose only fault was the disk."""

    def full(settings: Settings) -> None:
        raise WarehouseUnwritable(f"no space left writing {settings.warehouse}", hint="free")

    monkeypatch.setattr("cdr_pipeline.warehouse.refresh_warehouse", full)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    night = run_nightly(Settings(warehouse=tmp_path / "wh"), inbox, run_date=date(2026, 10, 2))
    reports = night.stage("reports")
    assert reports is not None and reports.exit_code == 6, night.stages
    assert reports.summary.startswith("not written:") and "build failed" in reports.summary
    assert night.exit_code == 6
