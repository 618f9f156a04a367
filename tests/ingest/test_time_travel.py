"""`--as-of` at the edges: a moment before anything was loaded or in the future is refused
(exit 3) instead of answering with empty or still-changing figures and exit 0; the finance
outputs honour it, and a command that cannot answer as of a moment says so."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import InputError
from cdr_pipeline.resources import samples_dir
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state import tables
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.warehouse.snapshots import parse_as_of, resolve_time, table_snapshots
from tests.ingest.helpers import copy_of, fixture, load


def _cdr(wh: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--warehouse", str(wh), *args])


def _loaded(folder: Path, devices_first: bool) -> Path:
    """A warehouse of the bundled call export and activation events loaded by one run (after
    a run of device snapshots when `devices_first`)."""
    wh, samples = folder / "wh", samples_dir()
    if devices_first:
        load(wh, samples / "device_snapshots.csv")
    load(wh, samples / "dch_export_2026-09-30_2026-10-31.csv", samples / "activation_events.csv")
    return wh


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Calls and events of one run, loaded once per module: a test copies it (its tables and
    ledger) before it redates or adds commits."""
    return _loaded(tmp_path_factory.mktemp("one_run"), devices_first=False)


@pytest.fixture(scope="module")
def devices_then_one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Device snapshots, then calls and events of one run; loaded once, copied by a test."""
    return _loaded(tmp_path_factory.mktemp("devices_then_one_run"), devices_first=True)


def test_as_of_before_the_first_commit_or_in_the_future_exits_3(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"))
    assert _cdr(wh, "build").exit_code == 0
    early = _cdr(wh, "report", "hourly-volume", "--as-of", "2001-01-01")
    assert early.exit_code == 3, early.output
    assert "nothing had been loaded into the warehouse yet" in early.output
    assert "the first load was committed at" in early.output
    # a local time written without its zone reads as UTC: ahead of UTC it is in the future
    ahead = (datetime.now(UTC) + timedelta(hours=2)).replace(tzinfo=None).isoformat()
    late = _cdr(wh, "report", "hourly-volume", "--as-of", ahead)
    assert late.exit_code == 3 and "is in the future" in late.output, late.output
    now = _cdr(wh, "report", "hourly-volume", "--as-of", datetime.now(UTC).isoformat())
    assert now.exit_code == 0, now.output
    # digits Python's str.isdigit accepts and int() does not: a bad value, not a bug (exit 1)
    for odd in ("\u00b2", "\u0661"):  # superscript two, Arabic-Indic one
        bad = _cdr(wh, "report", "hourly-volume", "--as-of", odd)
        assert bad.exit_code == 3, bad.output
        assert "is neither a table version nor a timestamp" in bad.output


def _cover(path: Path) -> dict[str, object]:
    sheet = load_workbook(path, read_only=True)["Cover"]
    return {str(r[0]).strip(): r[1] for r in sheet.iter_rows(values_only=True) if r[0]}


def test_finance_pack_and_summary_honour_as_of(tmp_path: Path) -> None:
    """`--as-of` was accepted and silently ignored by the finance pack and summary: the
    workbook of today came out under a request for version 0."""
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"), samples_dir() / "entitlements.csv")
    load(wh, fixture("overlap_b.csv"), samples_dir() / "entitlements_amendment.csv")
    assert _cdr(wh, "build").exit_code == 0
    then, now = tmp_path / "then.xlsx", tmp_path / "now.xlsx"
    args = ["report", "finance-pack", "--month", "2026-10"]
    res = _cdr(wh, *args, "--out", str(then), "--as-of", "0")
    assert res.exit_code == 0, res.output
    assert _cdr(wh, *args, "--out", str(now)).exit_code == 0
    old, new = _cover(then), _cover(now)
    assert (old["call_legs"], old["entitlements"]) == (0, 0)
    assert (new["call_legs"], new["entitlements"]) == (1, 1)
    assert str(old["Status"]).startswith("as of ") and str(new["Status"]).startswith("open")
    html = _cdr(wh, "report", "finance-summary", "--month", "2026-10", "--as-of", "0")
    assert html.exit_code == 0 and "call_legs=0,entitlements=0" in html.output, html.output
    restated = _cdr(wh, "report", "restatements", "--as-of", "0")
    assert restated.exit_code == 2 and "--as-of does not apply" in restated.output


def test_as_of_from_python_takes_a_date_and_refuses_other_types(tmp_path: Path) -> None:
    """A notebook passes `as_of=date(2026, 10, 31)` as the CLI takes `--as-of 2026-10-31`:
    it failed with "'datetime.date' object has no attribute 'strip'" (a float likewise),
    and `as_of=True` answered as version 1 (a bool is an int to Python)."""
    settings = Settings(warehouse=tmp_path / "wh")
    when = parse_as_of(date(2026, 10, 31))
    assert when == datetime(2026, 10, 31, tzinfo=UTC) == parse_as_of("2026-10-31")
    # RFC 3339 allows lower-case t and z: "2026-10-31t00:00:00z" was 'neither a version
    # nor a timestamp'
    assert parse_as_of("2026-10-31t00:00:00z") == when == parse_as_of("2026-10-31T00:00Z")
    for bad in (True, 3.0, [1]):
        with pytest.raises(InputError, match="is neither a table version nor a timestamp"):
            resolve_time(settings, bad)  # type: ignore[arg-type]


def test_as_of_before_the_oldest_entry_a_log_kept_is_refused(tmp_path: Path) -> None:
    """A log whose oldest entries were deleted (by delta-rs's log cleanup under an earlier
    cdr, or by another Delta writer) was read as if the table did not exist yet at a moment
    before its oldest entry: `--as-of` then answered with no calls and exit 0; a version
    number there was said not to exist though 'versions go from 0'."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import create_table_with_add_actions

    from cdr_pipeline.state import tables
    from cdr_pipeline.warehouse.snapshots import table_snapshots

    settings = Settings(warehouse=tmp_path / "wh")
    root = settings.layout.table("call_legs")
    schema = pa.schema([("x", pa.int64())])
    every_2 = {"delta.checkpointInterval": "2"}
    create_table_with_add_actions(
        str(root), DeltaSchema.from_arrow(schema), [], configuration=every_2
    )
    for i in range(3):
        path = root / f"part-{i}.parquet"
        pq.write_table(pa.table({"x": [i]}, schema=schema), path)
        tables.commit(root, schema, None, {tables.UNPARTITIONED: [path]}, [], f"run-{i}")
    early = tables.commit_time(root, 1)
    for version in (0, 1, 2):  # what the cleanup left: a checkpoint at 3 and the entries after it
        (root / "_delta_log" / f"{version:020d}.json").unlink()
    for as_of in (early, 1):
        with pytest.raises(InputError, match="no longer holds the versions before 3") as caught:
            table_snapshots(settings, as_of)
        assert "ask for version 3 or a later one" in str(caught.value.hint)
    assert tables.version_at(root, 3) == 3 and tables.version_at(root, datetime.now(UTC)) == 3


def test_a_date_or_unix_time_written_as_digits_is_told_how_to_write_it(tmp_path: Path) -> None:
    """`--as-of 20261031` (ISO-8601's basic form of a date, as file names spell it) or a
    Unix time are digits, so they read as a version number: the error said only "call_legs
    has no version 20261031; versions go from 0 to 0", not how to ask for that day."""
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"))
    day = _cdr(wh, "report", "hourly-volume", "--as-of", "20261031")
    assert day.exit_code == 3, day.output
    assert "no version 20261031" in day.stderr
    assert "for the date 2026-10-31, write it with dashes: --as-of 2026-10-31" in day.stderr
    unix = _cdr(wh, "report", "hourly-volume", "--as-of", "1793437200")
    assert unix.exit_code == 3, unix.output
    assert "--as-of 2026-10-31T09:00:00Z" in unix.stderr
    other = _cdr(wh, "report", "hourly-volume", "--as-of", "99")
    assert other.exit_code == 3 and "write it" not in other.stderr, other.output


def test_a_version_before_any_call_record_says_so_not_no_data(tmp_path: Path) -> None:
    """With device data loaded and no call records yet, `--as-of 0` said "hint: no data
    yet", though the warehouse held data a report answers from: a version number names a
    version of call_legs, and a time reads the other tables."""
    wh = tmp_path / "wh"
    load(wh, samples_dir() / "device_snapshots.csv")
    res = _cdr(wh, "report", "licence-usage", "--as-of", "0")
    assert res.exit_code == 3, res.output
    assert "call_legs has no version 0" in res.stderr and "no data yet" not in res.stderr
    assert "no call records are loaded yet" in res.stderr and "give a time" in res.stderr
    now = datetime.now(UTC).isoformat()
    assert _cdr(wh, "report", "licence-usage", "--as-of", now).exit_code == 0


def _spread_commit(root: Path, version: int, when: datetime, step: bool = True) -> None:
    """Date `version` of the table at `root` at `when` (its commit info), as a run whose
    commits came a second apart would have left it (`step` False: as a release before
    commits named their step wrote it)."""
    entry = root / "_delta_log" / f"{version:020d}.json"
    lines = []
    for line in entry.read_text(encoding="utf-8").splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            action["commitInfo"]["timestamp"] = int(when.timestamp() * 1000)
            if not step:
                action["commitInfo"].pop(tables.STEP_KEY, None)
        lines.append(json.dumps(action))
    entry.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("step", [True, False], ids=["steps", "before-steps"])
def test_a_moment_inside_a_runs_commits_reads_the_state_before_the_run(
    tmp_path: Path, step: bool, devices_then_one_run: Path
) -> None:
    """A run commits its tables one after the other. `--as-of` a moment between two of
    them read call_legs after the run and device_events before it, a state that never
    was: now the unfinished run counts as not yet done, and its end as done. Also in a
    warehouse written before commits named their step (read by their run, as then)."""
    wh = copy_of(devices_then_one_run, tmp_path)
    layout = Settings(warehouse=wh).layout
    legs, events = layout.table("call_legs"), layout.table("device_events")
    assert tables.version_at(legs) == 0 and tables.version_at(events) == 0
    assert tables.commit_run_id(legs, 0) == tables.commit_run_id(events, 0)
    # the run's two commits, spread two seconds apart (in the past: not "in the future")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    end = start + timedelta(seconds=2)
    _spread_commit(layout.table("device_snapshots"), 0, start - timedelta(seconds=5), step)
    _spread_commit(legs, 0, start, step)
    _spread_commit(events, 0, end, step)
    assert (tables.STEP_KEY in (tables.commit_info(legs, 0) or {})) is step

    inside = table_snapshots(Settings(warehouse=wh), start + timedelta(seconds=1))
    assert inside["call_legs"].version is None and not inside["call_legs"].files
    assert inside["device_events"].version is None
    assert inside["device_snapshots"].version == 0
    after = table_snapshots(Settings(warehouse=wh), end)
    assert after["call_legs"].version == 0 and after["device_events"].version == 0
    # a report inside the window answers from before the run: no calls, not half a run
    res = _cdr(wh, "report", "hourly-volume", "--as-of", (start + timedelta(seconds=1)).isoformat())
    assert res.exit_code == 0, res.output


def test_as_of_inside_the_first_run_names_when_it_was_done(tmp_path: Path, one_run: Path) -> None:
    wh = copy_of(one_run, tmp_path)
    layout = Settings(warehouse=wh).layout
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    end = start + timedelta(seconds=2)
    _spread_commit(layout.table("call_legs"), 0, start)
    _spread_commit(layout.table("device_events"), 0, end)
    res = _cdr(wh, "report", "hourly-volume", "--as-of", (start + timedelta(seconds=1)).isoformat())
    assert res.exit_code == 3, res.output
    assert "nothing had been loaded into the warehouse yet" in res.output
    assert f"the first load was committed at {end.isoformat()}" in res.output
    assert _cdr(wh, "report", "hourly-volume", "--as-of", end.isoformat()).exit_code == 0


def test_a_later_step_of_the_same_run_leaves_its_ingest_whole(
    tmp_path: Path, one_run: Path
) -> None:
    """A nightly commits its ingest, then minutes later its retention, under one run id: a
    moment between the two reads the ingest done (not the state before the night), and
    `--as-of` the ingest's version reads that version."""
    wh = copy_of(one_run, tmp_path)
    layout = Settings(warehouse=wh).layout
    legs, events = layout.table("call_legs"), layout.table("device_events")
    run_id = tables.commit_run_id(legs, 0)
    assert run_id is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    _spread_commit(legs, 0, start)
    _spread_commit(events, 0, start + timedelta(seconds=1))
    # the run's retention step drops a day of call_legs now, long after its ingest
    day = tables.snapshot(legs, "call_legs", "call_date")
    first_day = sorted(day.files)[0]
    schema = schemas_by_table()["call_legs"]
    version = tables.commit(
        legs, schema.table_arrow_schema(), "call_date", {}, [first_day], run_id, step="retention"
    )
    assert version == 1

    between = table_snapshots(Settings(warehouse=wh), start + timedelta(seconds=5))
    assert between["call_legs"].version == 0 and between["device_events"].version == 0
    assert first_day in between["call_legs"].files
    pinned = table_snapshots(Settings(warehouse=wh), 0)
    assert pinned["call_legs"].version == 0 and pinned["device_events"].version == 0


def test_now_while_a_writer_is_between_its_commits_reads_the_state_before_it(
    tmp_path: Path, one_run: Path
) -> None:
    """`--as-of` a moment after the last commit of a step still running (an ingest that has
    committed call_legs and not yet device_events) read call_legs after the step and the
    other tables before it: no later commit told the step unfinished yet. The commits made
    since the live writer took the lock are its own, and count as not yet done until it
    lets the lock go."""
    wh = copy_of(one_run, tmp_path)
    layout = Settings(warehouse=wh).layout
    legs = layout.table("call_legs")
    first_day = sorted(tables.snapshot(legs, "call_legs", "call_date").files)[0]
    schema = schemas_by_table()["call_legs"]
    with writer_lock(layout, "cdr ingest"):
        time.sleep(0.01)  # the lock's time and the step's first commit: not the same ms
        version = tables.commit(
            legs, schema.table_arrow_schema(), "call_date", {}, [first_day], "r2", step="ingest"
        )
        assert version == 1
        during = table_snapshots(Settings(warehouse=wh), datetime.now(UTC))
        assert during["call_legs"].version == 0 and first_day in during["call_legs"].files
        assert during["device_events"].version == 0
    done = table_snapshots(Settings(warehouse=wh), datetime.now(UTC))
    assert done["call_legs"].version == 1 and first_day not in done["call_legs"].files
