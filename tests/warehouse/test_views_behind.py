"""A reader of `cdr.duckdb` whose views lag the tables (a load committed, its refresh still
under way or never finished) is told so, and told why; and a stop during the refresh that
ends an ingest says that the load is committed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.cli import build as cli_build
from cdr_pipeline.cli.context import CliContext
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.lock import running_writer, writer_lock
from cdr_pipeline.warehouse import build_warehouse, connect
from cdr_pipeline.warehouse.signature import build_record, check_views_here, record_build
from tests.warehouse.sample_warehouse import small_export

LOGGER = "cdr_pipeline.warehouse.build"


@pytest.fixture
def behind(tmp_path: Path, samples_dir: Path) -> Settings:
    """A warehouse whose views read the device snapshots only, while the tables also hold
    a few calls (loaded through the library, which leaves the refresh to its caller)."""
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [samples_dir / "device_snapshots.csv"]).exit_code == 0
    build_warehouse(settings)
    calls = small_export(tmp_path / "calls.csv")
    assert ingest_paths(settings, [calls]).exit_code == 0
    return settings


def _notes(caplog: pytest.LogCaptureFixture, settings: Settings) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        connect(settings).close()
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_reader_of_views_behind_the_tables_is_told_what_to_run(
    behind: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    (note,) = _notes(caplog, behind)
    assert note.startswith("the views read device_snapshots=0, the tables hold call_legs=0,")
    assert "answers leave the newer data out" in note
    assert "did not finish; run cdr build" in note
    build_warehouse(behind)
    assert _notes(caplog, behind) == []


def test_a_refresh_under_way_is_named_not_called_unfinished(
    behind: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with writer_lock(behind.layout, "cdr ingest"):
        (note,) = _notes(caplog, behind)
    assert f"a writer is bringing them up to date (pid {os.getpid()}, cdr ingest, since" in note
    assert "run cdr build" not in note


def test_a_nightly_between_its_load_and_its_build_is_named_not_called_unfinished(
    behind: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A nightly holds no writer or build lock while it validates what it loaded (its
    ingest released the one, its build stage has not taken the other): a report run then
    was told the refresh "did not finish; run cdr build" while the night was on its way to
    its build."""
    with writer_lock(behind.layout, "cdr nightly", name="nightly.lock", run_id="r1"):
        (note,) = _notes(caplog, behind)
    assert f"a writer is bringing them up to date (pid {os.getpid()}, cdr nightly, run r1" in note
    assert "run cdr build" not in note


def test_running_writer_reads_the_lock_without_taking_it(tmp_path: Path) -> None:
    layout = Settings(warehouse=tmp_path / "wh").layout
    assert running_writer(layout) is None  # no lock file yet
    with writer_lock(layout, "cdr nightly"):
        held = running_writer(layout)
        assert held is not None and held.startswith(f"pid {os.getpid()}, cdr nightly, since")
    assert running_writer(layout) is None  # released: the file is emptied
    # the line of a holder killed with -9 stays, but its process is gone
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    layout.lock_file().write_text(f"pid {dead.stdout.strip()}, cdr ingest, since x\n")
    assert running_writer(layout) is None


def test_a_stop_during_the_refresh_says_the_load_is_committed(
    behind: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stopped(settings: Settings) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cdr_pipeline.warehouse.refresh_warehouse", stopped)
    run_id = Ledger(behind.layout).runs().row(-1, named=True)["run_id"]
    with pytest.raises(KeyboardInterrupt):
        cli_build.refresh_views(CliContext(warehouse=behind.warehouse), run_ids=[run_id])
    assert "the data this run loaded is committed; cdr build" in capsys.readouterr().err
    last = Ledger(behind.layout).runs().row(-1, named=True)
    assert last["run_id"] == run_id and last["exit_code"] == 130
    assert "the views were not rebuilt: stopped (run cdr build)" in last["message"]


def test_builds_run_one_after_another(behind: Settings) -> None:
    """A build waits while another holds `state/build.lock`, then reads the tables as they
    are: two at once, the one that read older versions could finish last and leave the
    views there (a `cdr build` started during an ingest's closing refresh did)."""
    import threading

    from cdr_pipeline.warehouse import refresh_warehouse
    from cdr_pipeline.warehouse.signature import built_versions

    done: list[str | None] = []
    with writer_lock(behind.layout, "another build", name="build.lock"):
        worker = threading.Thread(target=lambda: done.append(refresh_warehouse(behind).versions))
        worker.start()
        worker.join(timeout=8.0)  # a refresh of this warehouse takes about 3 s
        assert worker.is_alive() and not done  # waiting for the lock
        assert built_versions(behind.layout.duckdb) == "device_snapshots=0"
    worker.join(timeout=120)
    assert done and done[0] is not None and "call_legs=0" in done[0]
    assert built_versions(behind.layout.duckdb) == done[0]


def test_a_build_under_way_is_named_to_a_lagging_reader(
    behind: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with writer_lock(behind.layout, "cdr build", name="build.lock"):
        (note,) = _notes(caplog, behind)
    assert f"a writer is bringing them up to date (pid {os.getpid()}, cdr build, since" in note


def test_a_copied_warehouse_is_refused_until_built_there_not_read_from_the_original(
    behind: Settings, tmp_path: Path
) -> None:
    """cdr.duckdb's views hold absolute paths: in a copy they read the original's files
    (its own changes unseen) and fail once the original is gone. Reading refuses with what
    to run; a build there, or the next ingest's refresh, points them at the copy."""
    import shutil

    from cdr_pipeline.errors import ConfigError
    from cdr_pipeline.reports.figures import month_figures
    from cdr_pipeline.reports.finance import finance_summary
    from cdr_pipeline.warehouse import refresh_warehouse

    build_warehouse(behind)
    copy = Settings(warehouse=tmp_path / "copy")
    shutil.copytree(behind.warehouse, copy.warehouse)
    with pytest.raises(ConfigError) as refused:
        connect(copy)
    assert f"was built for the warehouse at {behind.warehouse.resolve()}" in refused.value.message
    assert "run `cdr build` here" in (refused.value.hint or "")
    # the finance pack and summary compute over the tables, not the views, yet a copy's
    # current data is refused alike for every report (README: "refuses reads (exit 3)")
    for compute in (finance_summary, month_figures):
        with pytest.raises(ConfigError, match="a copied or moved warehouse"):
            compute(copy, "2026-09")
    shutil.rmtree(behind.warehouse)  # the original gone: the copy must stand alone
    refresh_warehouse(copy)  # what an ingest ends with: a whole build in a moved folder
    con = connect(copy)
    try:
        assert con.execute("select count(*) from fct_call_legs").fetchall()[0][0] > 0
        assert con.execute("select count(*) from analyst.fct_calls").fetchall()[0][0] > 0
        assert con.execute("select count(*) from ingest_runs").fetchall()[0][0] == 2
    finally:
        con.close()
    assert check_views_here(copy) is None  # built there: the finance reports answer too


def test_a_reader_of_views_built_by_another_version_is_told_to_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After an upgrade (`pip install -U`) the views of `cdr.duckdb` are still the old
    version's SQL until something builds them: reports read the old figures (a fixed rule
    unfixed) without a word. The signature its build recorded (`cdr_meta.build`) is what an
    older version's build leaves: the same record with another digest."""
    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)  # no data needed: the views and their record are the point
    assert _notes(caplog, settings) == []
    # a changed setting the views use (cdr.toml edited, nothing built since)
    (note,) = _notes(caplog, Settings(warehouse=settings.warehouse, idle_days=7))
    assert "or with other settings" in note
    with duckdb.connect(str(settings.layout.duckdb)) as con:
        versions = str(build_record(con)["table_versions"])
        record_build(con, "0" * 64, versions, settings.warehouse)
    (note,) = _notes(caplog, settings)
    assert note.startswith("the views were built by another version of cdr-pipeline")
    assert note.endswith("run cdr build (an ingest or a nightly also builds them)")
    # a version older still recorded no build at all
    with duckdb.connect(str(settings.layout.duckdb)) as con:
        con.execute("drop schema cdr_meta cascade")
    (note,) = _notes(caplog, settings)
    assert note.startswith("the views were built by another version of cdr-pipeline")
