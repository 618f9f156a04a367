"""`cdr nightly`: a whole unattended run over an inbox, and its failure modes."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import FetchOptions, Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.privacy.pending import PendingErasure, save_pending
from cdr_pipeline.reports.standard import report_months
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.tables import snapshot
from tests.batch.helpers import cdr_here
from tests.ingest.helpers import FIXTURES, run_cdr

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "data" / "samples"
RUN_DATE = date(2026, 11, 3)


def tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every table's rows without load lineage, sorted, for equality checks."""
    out = {}
    for folder in sorted((warehouse / "tables").iterdir()):
        df = pl.read_delta(str(folder))  # the current version
        drop = ["run_id", "ingested_at", "load_seq", "source_file", "source_row", "source_kind"]
        df = df.drop([c for c in drop if c in df.columns])
        out[folder.name] = df.sort(df.columns)
    return out


def inbox_with_samples(tmp: Path) -> Path:
    inbox = tmp / "inbox"
    shutil.copytree(SAMPLES, inbox)
    return inbox


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("nightly")
    inbox = inbox_with_samples(tmp)
    settings = Settings(warehouse=tmp / "wh")
    before = sorted((p.name, p.read_bytes()) for p in inbox.iterdir())
    summary = run_nightly(settings, inbox, run_date=RUN_DATE)
    # its tables as this night left them, before a later test runs another night on them
    return settings, inbox, summary, before, tables(settings.warehouse)


def test_a_run_over_all_five_kinds(first_run) -> None:  # type: ignore[no-untyped-def]
    settings, inbox, summary, before, _ = first_run
    assert summary.exit_code == 0, summary.stages
    assert [s.name for s in summary.stages] == ["ingest", "validate", "build", "reports", "vacuum"]
    kinds = {f.kind for f in summary.ingest.files}
    assert kinds == {
        "calls",
        "device_snapshots",
        "activation_events",
        "entitlements",
        "org_directory",
    }
    assert set(tables(settings.warehouse)) == {
        "call_legs",
        "device_snapshots",
        "device_events",
        "entitlements",
        "org_directory",
    }
    # input files are never changed
    assert sorted((p.name, p.read_bytes()) for p in inbox.iterdir()) == before
    # reports for the previous month and the month to date, plus the non-monthly ones
    folder = settings.layout.reports / "2026-11-03"
    names = {p.name for p in folder.iterdir()}
    assert {
        "licence-usage_2026-10.csv",
        "licence-usage_2026-11.csv",
        "reconciliation_2026-10.csv",
        "reclaim-candidates.csv",
    } <= names
    usage = pl.read_csv(folder / "licence-usage_2026-10.csv")
    assert usage.height > 0 and set(usage["month"].cast(pl.String)) == {"2026-10-01"}
    assert summary.validation.exit_code == 0
    assert (settings.warehouse / "cdr.duckdb").is_file()


def test_second_run_with_nothing_new_changes_nothing(first_run) -> None:  # type: ignore[no-untyped-def]
    settings, inbox, _, _, _ = first_run
    before = tables(settings.warehouse)
    again = run_nightly(settings, inbox, run_date=RUN_DATE)
    assert again.exit_code == 0
    assert again.stage("ingest").summary == "nothing new in the inbox"  # type: ignore[union-attr]
    assert again.stage("erasure") is None  # only while a forget has not finished
    assert again.new_files == [] and len(again.inbox) == len(list(inbox.iterdir()))
    after = tables(settings.warehouse)
    assert len(before) == 5 and all(df.height for df in before.values())  # something to compare
    assert before.keys() == after.keys()
    assert all(before[k].equals(after[k]) for k in before)


def test_report_months() -> None:
    assert report_months(date(2026, 1, 15)) == [date(2025, 12, 1), date(2026, 1, 1)]
    assert report_months(date(2026, 3, 1)) == [date(2026, 2, 1), date(2026, 3, 1)]


def test_corrupt_file_loads_the_rest_and_exits_3(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # the file that loads: a call export of a few rows (no reject of its own, as the
    # samples' October export it stands for)
    shutil.copy(FIXTURES / "bom_crlf.csv", inbox)
    shutil.copy(FIXTURES / "bad_rows.csv", inbox / "broken_export.csv")
    shutil.copy(FIXTURES / "not_dch.csv", inbox / "stray.csv")
    archive = tmp_path / "archive"
    settings = Settings(warehouse=tmp_path / "wh")
    summary = run_nightly(settings, inbox, run_date=RUN_DATE, archive=archive)
    assert summary.exit_code == 3
    by_name = {Path(f.path).name: f for f in summary.ingest.files}
    assert by_name["bom_crlf.csv"].status == "loaded"
    assert by_name["broken_export.csv"].status == "failed"
    assert "ragged_row" in by_name["broken_export.csv"].message
    # the stray CSV is one of the two failures behind exit 3, not silently passed over
    assert by_name["stray.csv"].status == "failed"
    assert "not a recognised export" in by_name["stray.csv"].message
    assert sorted(by_name) == ["bom_crlf.csv", "broken_export.csv", "stray.csv"]
    rejects = pl.read_parquet(sorted((settings.layout.rejects).rglob("*.parquet")))
    assert rejects.height == 4
    # later stages still ran
    assert [s.name for s in summary.stages][-3:] == ["reports", "vacuum", "archive"]
    # only the committed file was archived; the failed ones stay in the inbox
    assert sorted(p.name for p in inbox.iterdir()) == ["broken_export.csv", "stray.csv"]
    assert [p.name for p in summary.archived] == ["bom_crlf.csv"]


def test_sigkill_mid_merge_then_rerun_equals_an_uninterrupted_run(
    tmp_path: Path,
    first_run,
) -> None:
    inbox = inbox_with_samples(tmp_path)
    killed = tmp_path / "killed"
    args = [
        "--warehouse",
        str(killed),
        "nightly",
        "--inbox",
        str(inbox),
        "--run-date",
        "2026-11-03",
    ]
    proc = run_cdr(*args, env={"CDR_FAULT_KILL_AFTER_MERGES": "4"})
    assert proc.returncode == -9, proc.stderr
    rerun = cdr_here(*args)
    assert rerun.exit_code == 0, rerun.output
    # the uninterrupted run: the same nightly over the same samples, run once for the module
    got, want = tables(killed), first_run[4]
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].equals(want[name]), name
    statuses = Ledger(Layout(killed)).runs()["status"].to_list()
    assert "interrupted" in statuses


def test_files_a_killed_nightly_committed_are_archived_by_the_next(tmp_path: Path) -> None:
    """The nightly dies right after committing call_legs (before the device tables and the
    archive stage): the next nightly loads what was not committed and archives every file."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("dch_export_2026-09-30_2026-10-31.csv", "device_snapshots.csv"):
        # the sample file's first 30 rows: two files, one table each, is the case, not size
        head = (SAMPLES / name).read_bytes().splitlines(keepends=True)[:31]
        (inbox / name).write_bytes(b"".join(head))
    archive = tmp_path / "archive"
    wh = tmp_path / "wh"
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--archive", str(archive)]
    proc = run_cdr(*args, "--run-date", "2026-11-03", env={"CDR_FAULT_KILL_AT": "commit"})
    assert proc.returncode == -9, proc.stderr
    assert len(list(inbox.iterdir())) == 2  # the killed run archived nothing
    rerun = cdr_here(*args, "--run-date", "2026-11-03")
    assert rerun.exit_code == 0, rerun.output
    assert list(inbox.iterdir()) == []
    assert sorted(p.name for p in archive.iterdir()) == [
        "dch_export_2026-09-30_2026-10-31.csv",
        "device_snapshots.csv",
    ]
    clean = tmp_path / "clean"
    for name in ("dch_export_2026-09-30_2026-10-31.csv", "device_snapshots.csv"):
        shutil.copy(archive / name, tmp_path / name)
    # the tables alone are compared: an ingest without the views' build `cdr ingest` adds
    loaded = ingest_paths(
        Settings(warehouse=clean),
        [tmp_path / "dch_export_2026-09-30_2026-10-31.csv", tmp_path / "device_snapshots.csv"],
    )
    assert loaded.exit_code == 0, [f.message for f in loaded.errors]
    got, want = tables(wh), tables(clean)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].equals(want[name]), name


def test_a_second_concurrent_run_exits_promptly_with_the_lock_message(tmp_path: Path) -> None:
    inbox = inbox_with_samples(tmp_path)
    wh = tmp_path / "wh"
    with writer_lock(Layout(wh), "cdr nightly (the first run)", name="nightly.lock"):
        t0 = time.monotonic()
        proc = run_cdr("--warehouse", str(wh), "nightly", "--inbox", str(inbox))
        assert time.monotonic() - t0 < 30
    assert proc.returncode == 5
    assert "the first run" in proc.stderr and "lock" in proc.stderr
    assert not (wh / "tables").exists()


def test_dry_run_lists_and_changes_nothing(tmp_path: Path) -> None:
    inbox = inbox_with_samples(tmp_path)
    wh = tmp_path / "wh"
    result = CliRunner().invoke(
        cli,
        [
            "--warehouse",
            str(wh),
            "nightly",
            "--inbox",
            str(inbox),
            "--dry-run",
            "--run-date",
            "2026-11-03",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "dch_export_2026-09-30_2026-10-31.csv" in result.output and "new" in result.output
    assert "licence-usage_2026-10.csv" in result.output
    # not even a lock file: a typo'd --warehouse must not become a warehouse
    assert not wh.exists()


def test_a_dry_run_never_waits_for_the_night_it_would_plan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dry run took the nightly lock: run by hand during the night it made the real run
    wait or exit 5, and it waited itself. It takes no lock and says a night is running."""
    settings = Settings(warehouse=tmp_path / "wh", lock_wait_seconds=0)
    ingest_paths(settings, [FIXTURES / "bom_crlf.csv"])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURES / "bom_crlf.csv", inbox)
    shutil.copy(FIXTURES / "gzipped.csv.gz", inbox / "late.csv.gz")
    with writer_lock(settings.layout, "cdr nightly (the real one)", name="nightly.lock"):
        plan = run_nightly(settings, inbox, run_date=RUN_DATE, dry_run=True)
    assert plan.exit_code == 0
    assert [f.path.name for f in plan.new_files] == ["late.csv.gz"]
    assert "a nightly is running" in caplog.text and "the real one" in caplog.text


def test_retention_drops_only_old_call_partitions_and_records_it(
    tmp_path: Path,
    first_run,
) -> None:
    """A night with retention on a copy of the module's night over the samples (its ingest
    is not what is checked here; the same inbox, so the night loads nothing new).
    The same night, with a cdr forget left unfinished, checks that a nightly says so (this
    was a test of its own, a night of its own): a forget stopped before its end (a kill, a
    full disk at its build) left its pending file, and the person's values in cdr.duckdb
    and replaced files, until someone ran that forget again; no nightly said so. Each
    night now does, until it is finished, without the person's values."""
    settings, inbox = Settings(warehouse=tmp_path / "wh"), first_run[1]
    shutil.copytree(first_run[0].warehouse, settings.warehouse)
    save_pending(settings.layout, PendingErasure(b"k" * 32, {"user": {"u-erased"}}))
    summary = run_nightly(settings, inbox, run_date=RUN_DATE, retain_days=40)
    assert summary.exit_code == 0
    stage = summary.stage("erasure")
    assert stage is not None, summary.stages
    assert "has not finished" in stage.summary and "cdr forget again" in stage.summary
    assert "u-erased" not in stage.summary  # the person's values stay in the file
    # cutoff 2026-09-24: September 1..23 leave the table (one commit), the rest stays
    legs = settings.layout.tables / "call_legs"
    parts = sorted(snapshot(legs, "call_legs", "call_date").files)
    assert parts[0] == "2026-09-24"
    # their files stay on disk for readers of older versions until the grace period ends
    old = sorted(legs.glob("call_date=2026-09-0*/*.parquet"))
    assert old
    assert vacuum_tables(settings).files == 0
    assert vacuum_tables(settings, grace_hours=0).files >= len(old)
    assert not any(p.exists() for p in old)
    dropped = Ledger(settings.layout).read("retention")
    assert dropped["partition"].min() == "call_date=2026-09-01"
    assert dropped["partition"].max() == "call_date=2026-09-23"
    assert dropped["rows"].sum() > 0
    # nothing else was deleted: device tables, entitlements and the directory are whole
    assert {p.name for p in settings.layout.tables.iterdir()} == {
        "call_legs",
        "device_snapshots",
        "device_events",
        "entitlements",
        "org_directory",
    }
    snaps = pl.read_delta(str(settings.layout.tables / "device_snapshots"))
    assert snaps["snapshot_time"].min().date() < date(2026, 9, 24)


def test_a_nightly_whose_fetch_failed_says_why(tmp_path: Path) -> None:
    """The API fails for good mid-fetch: the fetch stage exits 1 and its result, and the
    night's row in `cdr runs`, say why (it said only '40 records in 2 page(s)', the error
    went to the log alone)."""
    from datetime import timedelta
    from functools import partial

    from cdr_pipeline.fetch import fetch_records
    from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client
    from tests.fetch.fakewebex import FakeWebex, Fault, make_records

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    records = make_records(60, NOW - timedelta(hours=20), timedelta(minutes=10))
    settings = Settings(warehouse=tmp_path / "wh", fetch=FetchOptions(nightly=True, page_size=20))
    # and an error-level log line says it (operations.md: jq 'select(.level == "error")'),
    # which the fetch library, whose result carries the error, no longer logs itself
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    logging.getLogger("cdr_pipeline").addHandler(handler)
    try:
        with FakeWebex(TOKEN, records) as server:
            server.faults.append(Fault("/v1/cdr_feed", 503, b"{}", times=100, after=2))
            client = make_client(server.url, FakeClock())
            summary = run_nightly(
                settings, inbox, run_date=RUN_DATE,
                fetcher=partial(fetch_records, client=client, now=NOW),
            )  # fmt: skip
    finally:
        logging.getLogger("cdr_pipeline").removeHandler(handler)
    assert any(r.levelno >= logging.ERROR and "HTTP 503" in r.getMessage() for r in logged)
    fetch = summary.stage("fetch")
    assert fetch is not None and fetch.exit_code == 1 and summary.exit_code == 1
    assert "HTTP 503" in fetch.summary and "40 records" in fetch.summary
    night = Ledger(settings.layout).runs().filter(pl.col("command") == "cdr nightly").to_dicts()
    assert len(night) == 1 and "HTTP 503" in night[0]["message"]
    assert TOKEN not in fetch.summary + night[0]["message"]


def test_nightly_fetches_before_it_ingests_when_configured(tmp_path: Path) -> None:
    from datetime import timedelta
    from functools import partial

    from cdr_pipeline.fetch import fetch_records
    from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client, warehouse_ids
    from tests.fetch.fakewebex import FakeWebex, make_records

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "entitlements.csv", inbox)
    records = make_records(30, NOW - timedelta(hours=20), timedelta(minutes=20))
    settings = Settings(warehouse=tmp_path / "wh", fetch=FetchOptions(nightly=True, page_size=20))
    with FakeWebex(TOKEN, records) as server:
        client = make_client(server.url, FakeClock())
        summary = run_nightly(
            settings,
            inbox,
            run_date=RUN_DATE,
            fetcher=partial(fetch_records, client=client, now=NOW),
        )
    assert summary.exit_code == 0, summary.stages
    assert [s.name for s in summary.stages][:3] == ["fetch", "ingest", "validate"]
    assert summary.fetch.records > 0
    # the fetched legs are in the warehouse next to the inbox's entitlements
    fetched = set(warehouse_ids(settings))
    assert fetched and fetched <= {r["Report ID"] for r in records}


def test_a_nightly_logs_the_records_its_fetch_could_not_reach(tmp_path: Path) -> None:
    """The host was off for a day and the stream keeps 12 h: `cdr fetch` prints which
    records no run can fetch any more and where to get them, but a nightly printed none of
    its fetch's notes, and logged only the clamp of its start. It logs each note that asks
    for action as a warning (and not the routine ones)."""
    from datetime import timedelta
    from functools import partial

    from cdr_pipeline.fetch import fetch_records
    from tests.fetch.conftest import NOW, TOKEN, FakeClock, make_client
    from tests.fetch.fakewebex import FakeWebex, make_records

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    records = make_records(6, NOW - timedelta(hours=4), timedelta(minutes=20))
    inserted = {str(r["Report ID"]): NOW - timedelta(hours=3) for r in records}
    fetch = FetchOptions(nightly=True, source="stream", page_size=20)
    settings = Settings(warehouse=tmp_path / "wh", fetch=fetch)
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    logging.getLogger("cdr_pipeline").addHandler(handler)
    try:
        with FakeWebex(TOKEN, records, inserted=inserted) as server:
            first = fetch_records(settings, client=make_client(server.url, FakeClock()), now=NOW)
            assert first.watermark_after is not None
            summary = run_nightly(
                settings, inbox, run_date=RUN_DATE,
                fetcher=partial(
                    fetch_records, client=make_client(server.url, FakeClock()),
                    now=NOW + timedelta(days=1),
                ),
            )  # fmt: skip
    finally:
        logging.getLogger("cdr_pipeline").removeHandler(handler)
    assert any("no longer served" in n for n in summary.fetch.notes), summary.fetch.notes
    warnings = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    (lost,) = [w for w in warnings if "no longer served" in w]
    assert "cdr fetch --source feed --since" in lost
    # an empty window near now is routine, every night: no warning for it
    assert any("is empty and within" in n for n in summary.fetch.notes)
    assert not any("is empty and within" in w for w in warnings)


def test_a_dry_run_names_what_vacuum_and_archive_would_do(tmp_path: Path) -> None:
    """The plan of a night listed ingest, validate, build and the reports, but not its last
    two stages, which delete (vacuum) and move (archive) files: an operator checking the
    night before the real one saw nothing of either. It names both, and does neither."""
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    ingest_paths(settings, [FIXTURES / "bom_crlf.csv"])
    table = settings.layout.table("call_legs")
    stray = next(table.rglob("*.parquet")).with_name("left-by-a-dead-run.parquet")
    stray.write_bytes(b"PAR1")  # a file no commit lists: vacuum deletes it
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    shutil.copy(FIXTURES / "bom_crlf.csv", inbox)
    shutil.copy(FIXTURES / "gzipped.csv.gz", inbox / "late.csv.gz")
    plan = run_nightly(settings, inbox, archive=archive, run_date=RUN_DATE, dry_run=True)
    (stage,) = plan.stages
    assert "; vacuum 1 file(s) replaced more than 0 hour(s) ago" in stage.summary
    assert (
        f"; archive the 1 new file(s) that load and 1 file(s) loaded before to {archive}"
        in stage.summary
    )
    assert stray.exists() and not archive.exists()
    assert sorted(p.name for p in inbox.iterdir()) == ["bom_crlf.csv", "late.csv.gz"]
    without = run_nightly(settings, inbox, run_date=RUN_DATE, dry_run=True)
    assert "archive" not in without.stages[0].summary
