"""What `cdr runs` tells an operator the morning after: which runs did not end well, and
why (the ledger row's message: the stage that failed, the error, an interruption)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.cli import ingest as cli_ingest
from cdr_pipeline.cli.main import cli
from cdr_pipeline.state import ledger as ledger_module
from cdr_pipeline.state import lock
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_record
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.waits import WaitMark, forget_gone, gone_waits

CLEAN_ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}
T0 = datetime(2026, 11, 3, 2, 30, tzinfo=UTC)
WHY = "archive: failed: archiving stopped: No space left on device writing archive/a.csv"


def _runs(wh: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", *args], env=CLEAN_ENV)


def _night(ledger: Ledger, run_id: str, start: datetime, **fields: object) -> None:
    row = run_record(run_id, "cdr nightly", started_at=start, **fields)
    ledger.write("runs", run_id, [row], RUNS_SCHEMA)


def test_runs_says_why_a_night_failed(tmp_path: Path) -> None:
    """The message was recorded but no form of `cdr runs` showed it, not even --wide or
    --json ("every column"): the operator saw exit 6 and nothing more."""
    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    _night(ledger, "night-1", T0, status="ok", exit_code=0, finished_at=T0)
    later = T0 + timedelta(days=1)
    _night(ledger, "night-2", later, status="failed", exit_code=6, finished_at=later, message=WHY)
    compact = _runs(wh)
    assert compact.exit_code == 0, compact.output
    assert f"night-2 failed: {WHY}" in compact.output
    assert "night-1 ok" not in compact.output  # a run that ended well needs no note
    assert WHY in _runs(wh, "--wide").output
    rows = json.loads(_runs(wh, "--json").output)
    assert [r["message"] for r in rows] == [None, WHY]
    # a --limit past any ledger shows it all (past 2**63 the table's tail overflowed: exit 1)
    huge = str(10**20)
    assert json.loads(_runs(wh, "--json", "--limit", huge).output) == rows
    assert len(json.loads(_runs(wh, "--json", "--files", "--limit", huge).output)) == 0


def test_a_killed_night_does_not_read_exit_0(tmp_path: Path) -> None:
    """A nightly's row holds its ingest's exit 0 while the night goes on; killed (kill -9,
    a power cut) after that, the next writer marked it interrupted but kept the 0, so the
    table showed a night that never finished as a good one."""
    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    _night(ledger, "night-1", T0, status="running", exit_code=0, rows_loaded=5)
    with writer_lock(Layout(wh), "cdr nightly", name="nightly.lock", run_id="night-1"):
        head, _, line = _runs(wh).output.splitlines()
    exit_column = line[head.index("exit") : head.index("files")]
    assert exit_column.strip() == ""  # still going: no exit code yet
    assert ledger.mark_interrupted() == ["night-1"]
    (row,) = json.loads(_runs(wh, "--json").output)
    assert (row["status"], row["exit_code"]) == ("interrupted", 130)
    assert "killed or crashed" in row["message"]
    compact = _runs(wh).output.splitlines()
    assert compact[2].split()[4] == "130", compact


_HOLDER = """
import sys, time
from pathlib import Path
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import RUNS_SCHEMA, Ledger, run_record
from cdr_pipeline.state.lock import writer_lock
layout = Layout(Path(sys.argv[1]))
with writer_lock(layout, "cdr nightly", name="nightly.lock", run_id="night-1"):
    row = run_record("night-1", "cdr nightly", status="running", exit_code=0)
    Ledger(layout).write("runs", "night-1", [row], RUNS_SCHEMA)
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_night_killed_reads_interrupted_before_the_next_writer(tmp_path: Path) -> None:
    """A night killed with -9 (the OOM killer at 02:45) read `running`, no exit code, in
    `cdr runs` and its --json until the next writer, the next night: a monitoring check
    took it for a night still going all day. `cdr runs` writes nothing and reads the locks'
    files only: a holder that is gone makes the row `interrupted`, exit 130."""
    wh = tmp_path / "wh"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(wh)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    try:
        (row,) = json.loads(_runs(wh, "--json").output)
        # alive: still going, and no exit code yet (not its ingest's 0: --json said 0)
        assert (row["status"], row["exit_code"]) == ("running", None)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    (row,) = json.loads(_runs(wh, "--json").output)
    assert (row["status"], row["exit_code"]) == ("interrupted", 130)
    assert "killed or crashed" in row["message"]
    assert "night-1 interrupted: the process ended" in _runs(wh).output
    # shown only: the next writer records it (and logs its warning)
    assert Ledger(Layout(wh)).runs()["status"].to_list() == ["running"]
    # a holder on another machine (a warehouse on NFS) cannot be looked up: still going
    line = f"pid {holder.pid}, cdr nightly, run night-1, since 2026-11-03T02:30:00Z, on elsewhere"
    Layout(wh).lock_file("nightly.lock").write_text(line + "\n")
    (row,) = json.loads(_runs(wh, "--json").output)
    assert row["status"] == "running"


def test_a_killed_night_whose_pid_is_another_process_now_reads_interrupted(
    tmp_path: Path,
) -> None:
    """A night killed with -9 leaves its lock line; once its pid is another process's
    (after a reboot a daemon's, in a container one of the first pids again), that process
    was taken for the night: `cdr runs` showed it `running`, no exit code, until the next
    night. A process that does not have the lock file open holds no lock."""
    wh = tmp_path / "wh"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(wh)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for name in ("nightly.lock", "writer.lock"):
            lock = Layout(wh).lock_file(name)
            if lock.exists():  # the dead night's line, its pid now the other process's
                text = lock.read_text()
                lock.write_text(text.replace(f"pid {holder.pid},", f"pid {other.pid},"))
        assert f"pid {other.pid}," in Layout(wh).lock_file("nightly.lock").read_text()
        (row,) = json.loads(_runs(wh, "--json").output)
        assert (row["status"], row["exit_code"]) == ("interrupted", 130)
    finally:
        other.kill()
        other.wait()


def test_a_run_that_committed_and_then_failed_says_why(tmp_path: Path) -> None:
    """An ingest stopped (SIGTERM) while refreshing the views after its commit keeps status
    `ok` (its data counts) with exit 130 and a message; the compact table showed exit 130 and
    no line under it, though README says every run that did not end well gets one."""
    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    why = "the views were not rebuilt: stopped (run cdr build)"
    row = run_record("run-1", "cdr ingest", started_at=T0, status="ok", exit_code=130)
    row.update(finished_at=T0, message=why)
    ledger.write("runs", "run-1", [row], RUNS_SCHEMA)
    compact = _runs(wh)
    assert compact.exit_code == 0, compact.output
    assert f"run-1 exit 130: {why}" in compact.output


def test_an_ingest_after_a_killed_one_does_not_claim_its_work(tmp_path: Path) -> None:
    """An ingest that found an earlier run killed (kill -9 while it read a 60,000-leg
    export) said 'this run completed their work' though it loaded only its own file: the
    export was not loaded, and a killed run leaves no record of the file it was reading."""
    from tests.ingest.helpers import fixture

    wh = tmp_path / "wh"
    row = run_record("dead-1", "cdr ingest", started_at=T0, status="running")
    Ledger(Layout(wh)).write("runs", "dead-1", [row], RUNS_SCHEMA)
    args = ["--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv"))]
    res = CliRunner().invoke(cli, args, env=CLEAN_ENV)
    assert res.exit_code == 0, res.output
    assert "completed their work" not in res.output
    assert "earlier run(s) dead-1 had been interrupted" in res.output
    assert "not loaded unless this run was given them too" in res.output


def test_runs_shows_the_date_a_night_ran_for(tmp_path: Path) -> None:
    """`cdr nightly --run-date D` re-runs the night of D (its reports, its month close), but
    the ledger kept no D: `cdr runs` could not tell a re-run of 10-01 from the night it ran.
    A record written before the ledger had the column still reads (no date)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wh = tmp_path / "wh"
    ledger = Ledger(Layout(wh))
    old = pa.schema([f for f in RUNS_SCHEMA if f.name != "run_date"])
    row = run_record("night-0", "cdr nightly", started_at=T0, status="ok", exit_code=0)
    row = {k: v for k, v in row.items() if k in old.names}
    folder = wh / "state" / "ledger" / "runs"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], old), folder / "night-0.parquet")
    later = T0 + timedelta(days=1)
    again = datetime(2026, 10, 1).date()
    _night(ledger, "night-1", later, status="ok", exit_code=0, finished_at=later, run_date=again)
    _night(ledger, "night-2", later, status="ok", exit_code=0, run_date=later.date())
    rows = json.loads(_runs(wh, "--json").output)
    assert [r["run_date"] for r in rows] == [None, "2026-10-01", "2026-11-04"]
    compact = _runs(wh)
    assert compact.exit_code == 0, compact.output
    lines = {ln.split()[0]: ln for ln in compact.output.splitlines()[2:]}
    assert "nightly 10-01" in lines["night-1"]  # a re-run: the date it was for
    assert "nightly 11-04" not in lines["night-2"]  # the night of its own day
    assert "nightly" in lines["night-0"]


def test_runs_files_wide_and_json_show_every_ledger_column(tmp_path: Path) -> None:
    """`--wide` and `--json` promise every column, but `--files` showed eleven: an old
    export's missing columns and a new one's unknown columns (kept in `extra`), recorded in
    the ledger, were shown by no form of `cdr runs`."""
    wh = tmp_path / "wh"
    export = tmp_path / "dch.csv"
    export.write_text(
        "Report ID,Start time,Direction,Correlation ID,Future column\n"
        "r1,2026-11-03T10:00:00.000Z,ORIGINATING,c1,x\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", str(export)], env=CLEAN_ENV)
    assert run.exit_code == 0, run.output
    (row,) = json.loads(_runs(wh, "--files", "--json").output)
    assert row["unknown_columns"] == ["Future column"]
    assert "release_time" in row["missing_columns"]
    assert set(Ledger(Layout(wh)).files().columns) == set(row)
    wide = _runs(wh, "--files", "--wide").output
    assert "Future column" in wide and "release_time" in wide


def test_runs_lists_an_erasure_with_the_versions_it_committed(tmp_path: Path) -> None:
    """`cdr forget` commits a new version of each table holding the person, but `cdr runs`
    listed ingests only: `--as-of` could name a version no run had made, and figures
    changed between two versions with no run in between. The erasure is listed as a run
    of `cdr forget` with its versions and counts, never the person's values."""
    from cdr_pipeline.config import Settings
    from cdr_pipeline.ingest import ingest_paths
    from cdr_pipeline.privacy import forget

    wh = tmp_path / "wh"
    export = tmp_path / "dch.csv"
    export.write_text(
        "Report ID,Start time,Direction,Correlation ID,User UUID,User,Calling number\n"
        "r1,2026-11-03T10:00:00.000Z,ORIGINATING,c1,u-1,Grace Muller,+13125550120\n"
        "r2,2026-11-03T11:00:00.000Z,ORIGINATING,c2,u-2,Bob Other,+13125550199\n",
        encoding="utf-8",
    )
    settings = Settings(warehouse=wh)
    ingest = ingest_paths(settings, [export])
    assert ingest.exit_code == 0
    erased = forget(settings, number="+13125550120")
    rows = json.loads(_runs(wh, "--json").output)
    assert [r["command"] for r in rows] == ["cdr ingest", "cdr forget"]
    line = rows[1]
    assert line["run_id"] == erased.run_id and line["status"] == "ok"
    assert line["table_versions"] == "call_legs=1"
    assert "in 1 row(s)" in line["message"]
    assert line["started_at"] <= line["finished_at"]
    compact = _runs(wh)
    assert compact.exit_code == 0, compact.output
    assert "forget" in compact.output.splitlines()[-1]
    for shown in (compact.output, _runs(wh, "--wide").output, json.dumps(rows)):
        assert "3125550120" not in shown and "Grace" not in shown
    assert _runs(wh, "--json", "--limit", "1").output.count("cdr forget") == 1


def test_runs_with_stdout_closed_is_an_output_error(tmp_path: Path) -> None:
    """`cdr runs --json >&-` (a monitoring check started with stdout closed) printed
    nothing and exited 0: the check read success from a command that showed no run. It is
    the output that cannot be written: exit 6, naming it, as `cdr report` does."""
    import os

    wh = tmp_path / "wh"
    _night(Ledger(Layout(wh)), "night-1", T0, status="failed", exit_code=6, finished_at=T0)
    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", "--warehouse", str(wh), "runs", "--json"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **CLEAN_ENV},
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 6, done.stderr
    assert "error: cannot write the standard output: it is closed" in done.stderr


def test_a_run_that_starts_while_runs_reads_is_not_taken_for_dead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdr runs` asked whether a writer lives, then spent seconds on imports, then read
    the rows: an ingest that started in between (its lock taken, its `running` row
    written) read `interrupted`, exit 130, while it ran (2 of 10 `cdr runs` processes
    beside another process looping over ingests). Here the ingest starts right after the
    question; the run that died before (no lock held) still reads `interrupted`."""
    wh = tmp_path / "wh"
    died = run_record("run-0", "cdr ingest", status="running", started_at=T0)
    Ledger(Layout(wh)).write("runs", "run-0", [died], RUNS_SCHEMA)
    asked = lock.writers_gone

    with contextlib.ExitStack() as ingest:

        def then_an_ingest_starts(layout: Layout) -> bool:
            gone = asked(layout)
            if not Ledger(layout).runs().filter(pl.col("run_id") == "run-1").height:
                ingest.enter_context(writer_lock(layout, "cdr ingest"))
                row = run_record("run-1", "cdr ingest", status="running", started_at=T0)
                Ledger(layout).write("runs", "run-1", [row], RUNS_SCHEMA)
            return gone

        monkeypatch.setattr(lock, "writers_gone", then_an_ingest_starts)
        monkeypatch.setattr(cli_ingest, "writers_gone", then_an_ingest_starts, raising=False)
        seen = {r["run_id"]: r for r in json.loads(_runs(wh, "--json").output)}
        again = {r["run_id"]: r for r in json.loads(_runs(wh, "--json").output)}
    assert (seen["run-0"]["status"], seen["run-0"]["exit_code"]) == ("interrupted", 130)
    assert seen.get("run-1", {"status": "running"})["status"] == "running"
    assert (again["run-1"]["status"], again["run-1"]["exit_code"]) == ("running", None)


def test_a_night_that_ends_while_runs_reads_reads_as_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night `waiting` for a lock when `cdr runs` read its row, which then ended (its row
    `locked`, its wait file let go) and whose file the next writer removed before `cdr runs`
    looked for it, read `interrupted` ('the process ended while it waited'): a row found
    dead is read again, and a night that has ended since reads as it ended."""
    wh = tmp_path / "wh"
    layout = Layout(wh)
    mark = WaitMark(layout, "night-1")
    assert mark.take()
    _night(Ledger(layout), "night-1", T0, status="waiting", message="waiting for (x)")
    looked = ledger_module.missing_waits

    def the_night_ends_first(layout: Layout, run_ids: Iterable[str]) -> set[str]:
        if mark.fd is not None:
            _night(Ledger(layout), "night-1", T0, status="locked", exit_code=5)
            mark.release()
            with writer_lock(layout, "cdr ingest"):
                forget_gone(layout, gone_waits(layout))
        return looked(layout, run_ids)

    monkeypatch.setattr(ledger_module, "missing_waits", the_night_ends_first)
    try:
        (row,) = json.loads(_runs(wh, "--json").output)
    finally:
        mark.release()
    assert (row["status"], row["exit_code"]) == ("locked", 5)
