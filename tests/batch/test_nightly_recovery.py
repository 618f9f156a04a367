"""What the next nightly owes a nightly that was killed midway: it validates what the
killed one loaded but never validated, as a clean run would have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from cdr_pipeline.quality.report import VALIDATIONS_SCHEMA
from cdr_pipeline.quality.scope import pending_runs
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA, Ledger, run_record
from tests.batch.helpers import cdr_here, copy_of, night_args


def test_a_nightly_killed_before_validating_is_validated_by_the_next(
    tmp_path: Path, night_killed_at_validate: tuple[Path, Path]
) -> None:
    """Killed after its ingest committed, before its validation: the next nightly found
    nothing new in the inbox, said "nothing new to validate", and the loaded rows were
    never checked (an error-severity failure in them would never have exited 4).
    The same next night (one run, which was a test of test_night_record too) checks that
    the killed night did not end well: that next writer marks it interrupted, keeping the
    version and rows it committed, and ends `ok` itself."""
    wh, inbox = copy_of(night_killed_at_validate, tmp_path)
    args = night_args(wh, inbox)
    ledger = Ledger(Layout(wh))
    (row,) = ledger.runs().to_dicts()
    assert row["status"] == "running"  # until a writer looks
    loaded = row["run_id"]
    assert ledger.read("validations").is_empty()
    rerun = cdr_here(*args)
    assert rerun.exit_code == 0, rerun.output
    runs = ledger.runs()
    dead = runs.filter(pl.col("run_id") == loaded).row(0, named=True)
    assert dead["status"] == "interrupted", dead
    assert dead["table_versions"] == "call_legs=0" and dead["rows_loaded"] > 0
    assert runs["status"].to_list()[-1] == "ok"
    assert "validate" in rerun.stdout and "nothing new to validate" not in rerun.stdout
    checked = ledger.read("validations")
    assert checked["scope"].unique().to_list() == ["pending"]
    assert loaded in checked["ingest_run_ids"][0].to_list()
    assert checked["rows_validated"].sum() > 0
    # and once validated, a night with nothing new validates nothing again
    again = cdr_here(*args)
    assert again.exit_code == 0 and "nothing new to validate" in again.stdout, again.stdout


def test_a_night_after_the_clock_was_set_back_is_still_validated(tmp_path: Path) -> None:
    """A machine ran a night with its clock a month ahead (booted so, the missed night
    started at once), then NTP set it right. The next night's run started "before" that one:
    runs are ordered by start time, so the validation of the future night looked as if it
    covered it, and its rows were never validated for a month (a file failing an
    error-severity check exited 0). The table versions say it committed after."""
    ledger = Ledger(Layout(tmp_path / "wh"))
    now = datetime.now(UTC)
    _loaded_run(ledger, "ahead", now + timedelta(days=30), 0)
    _loaded_run(ledger, "after", now, 1)
    # a validation of every partition covers the runs that started before the one it names
    _validated(ledger, "v1", "all", ["ahead"], 0)
    assert pending_runs(ledger) == ["after"]
    _validated(ledger, "v2", "pending", ["after"], 1)
    assert pending_runs(ledger) == []  # once validated, not again


def _loaded_run(ledger: Ledger, run_id: str, started: datetime, version: int) -> None:
    row = run_record(run_id, "cdr ingest", status="ok", exit_code=0, started_at=started)
    row["table_versions"] = f"call_legs={version}"
    ledger.write("runs", run_id, [row], RUNS_SCHEMA)
    loaded = dict.fromkeys(FILES_SCHEMA.names) | {
        "run_id": run_id,
        "file_seq": 0,
        "status": "loaded",
        "table_name": "call_legs",
        "loaded_at": started,
    }
    ledger.write("files", f"{run_id}-0", [loaded], FILES_SCHEMA)


def _validated(ledger: Ledger, vid: str, scope: str, runs: list[str], version: int) -> None:
    checked = dict.fromkeys(VALIDATIONS_SCHEMA.names) | {
        "validation_id": vid,
        "scope": scope,
        "ingest_run_ids": runs,
        "table_versions": f"call_legs={version}",
    }
    ledger.write("validations", vid, [checked], VALIDATIONS_SCHEMA)


def test_loads_by_hand_before_a_plain_validate_are_still_pending(tmp_path: Path) -> None:
    """`cdr ingest a; cdr ingest b; cdr validate`: the validation (scope `last`) checked b
    only, yet every run before b was taken as covered, so no nightly ever validated a (an
    error-severity failure in it exited 0 for ever). Only a validation of every partition
    covers the runs before the one it names."""
    ledger = Ledger(Layout(tmp_path / "wh"))
    now = datetime.now(UTC)
    _loaded_run(ledger, "a", now, 0)
    _loaded_run(ledger, "b", now + timedelta(minutes=1), 1)
    assert pending_runs(ledger) == ["a", "b"]  # nothing validated yet: both
    _validated(ledger, "v1", "last", ["b"], 1)
    assert pending_runs(ledger) == ["a"]
    _loaded_run(ledger, "c", now + timedelta(minutes=2), 2)
    assert pending_runs(ledger) == ["a", "c"]
    _validated(ledger, "v2", "all", ["c"], 2)
    assert pending_runs(ledger) == []
