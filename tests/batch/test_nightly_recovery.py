"""What the next nightly owes a nightly that was killed midway: it validates what the
killed one loaded but never validated, as a clean run would have."""

from __future__ import annotations

import shutil
from pathlib import Path

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import run_cdr

SAMPLES = Path(__file__).parents[2] / "data" / "samples"


def test_a_nightly_killed_before_validating_is_validated_by_the_next(tmp_path: Path) -> None:
    """Killed after its ingest committed, before its validation: the next nightly found
    nothing new in the inbox, said "nothing new to validate", and the loaded rows were
    never checked (an error-severity failure in them would never have exited 4)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "dch_export_2026-09-30_2026-10-31.csv", inbox)
    wh = tmp_path / "wh"
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-03"]
    killed = run_cdr(*args, env={"CDR_FAULT_KILL_AT": "validate"})
    assert killed.returncode == -9, killed.stderr
    ledger = Ledger(Layout(wh))
    (loaded,) = ledger.runs()["run_id"].to_list()
    assert ledger.read("validations").is_empty()
    rerun = run_cdr(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert "validate" in rerun.stdout and "nothing new to validate" not in rerun.stdout
    checked = ledger.read("validations")
    assert checked["scope"].unique().to_list() == ["pending"]
    assert loaded in checked["ingest_run_ids"][0].to_list()
    assert checked["rows_validated"].sum() > 0
    # and once validated, a night with nothing new validates nothing again
    again = run_cdr(*args)
    assert again.returncode == 0 and "nothing new to validate" in again.stdout, again.stdout
