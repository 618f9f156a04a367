"""A validation that runs while an ingest is still loading: it checks the committed versions
and must not name the unfinished run as validated, or the nightly's `pending` scope would
skip that run's rows for ever."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ProgressEvent, ingest_paths
from cdr_pipeline.quality import runner, validate_warehouse
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.tables import snapshot
from tests.quality.conftest import CALL_DAY, table_frame, write_partition


def _exports(tmp: Path, samples: Path) -> tuple[Path, Path, Path]:
    """Three small DCH CSVs of distinct legs cut from the sample; the second has one leg
    whose Direction is outside its closed set (an error-severity failure ingest loads)."""
    src = next(p for p in sorted(samples.glob("*.csv")) if "dch" in p.name)
    with open(src, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(30)]
    rows[12][header.index("Direction")] = "SIDEWAYS"
    out = []
    for i in range(3):
        path = tmp / f"export_{i}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows[i * 10 : (i + 1) * 10])
        out.append(path)
    return out[0], out[1], out[2]


def test_a_validation_alongside_an_ingest_leaves_that_run_to_the_next(
    tmp_path: Path, samples_dir: Path
) -> None:
    """`cdr validate --all` while an ingest ran recorded the unfinished run as validated
    (it read the version before that run's commit), so the nightly after it said "nothing
    new to validate" and exited 0 over a Direction error the run had loaded."""
    first, bad, last = _exports(tmp_path, samples_dir)
    settings = Settings(warehouse=tmp_path / "wh")
    done = ingest_paths(settings, [first])
    loading, release = threading.Event(), threading.Event()

    def hold(event: ProgressEvent) -> None:
        # `bad` is recorded loaded; the run has not committed while `last` is being read
        if event.source.endswith(last.name) and not event.done and not loading.is_set():
            loading.set()
            release.wait(120)

    ingest = threading.Thread(
        target=ingest_paths, args=(settings, [bad, last]), kwargs={"progress": hold}
    )
    ingest.start()
    try:
        assert loading.wait(120)
        runs = Ledger(settings.layout).runs()
        (running,) = runs.filter(pl.col("status") == "running")["run_id"].to_list()
        everything = validate_warehouse(settings, "all")
        latest = validate_warehouse(settings)
    finally:
        release.set()
        ingest.join(120)
    assert everything.exit_code == 0 and latest.exit_code == 0  # the SIDEWAYS leg: not yet
    assert everything.ingest_run_ids == [done.run_id]
    assert latest.ingest_run_ids == [done.run_id]
    assert latest.rows_validated == 10  # the first run's rows, not the unfinished run's

    pending = validate_warehouse(settings, "pending")  # what the nightly validates
    assert pending.ingest_run_ids == [running]
    assert pending.exit_code == 4
    assert pending.result("call_legs.direction.in_set").unexpected_values == ["SIDEWAYS"]


GHOST = "00000000-0000-4000-8000-00000000dead"


def test_the_device_check_reads_the_device_version_the_validation_names(
    tmp_path: Path,
    call_rows: pl.DataFrame,
    copy_table: Callable[[Path, str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ingest that committed device events while `cdr validate --all` ran: the device
    suites checked the version before it (and the report named that one), while the Webex
    Go device check of call_legs, read later, looked the legs' users up in the new one."""
    legs = call_rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .alias(column)
        for column, value in [
            ("is_webex_go", True),
            ("sub_client_type", "MOBILE_NETWORK"),
            ("user_uuid", GHOST),
        ]
    )
    write_partition(tmp_path, "call_legs", CALL_DAY, legs)
    copy_table(tmp_path, "device_snapshots")
    copy_table(tmp_path, "device_events")
    settings = Settings(warehouse=tmp_path)
    before = snapshot(tmp_path / "tables/device_events", "device_events", None).version
    events = table_frame(settings, "device_events")

    def resolve_then_commit(*args: Any, **kwargs: Any) -> Any:
        resolved = real(*args, **kwargs)
        # the other writer's commit, between the versions taken and the suites' reads
        write_partition(tmp_path, "device_events", None, _user(events.head(1), GHOST))
        return resolved

    real = runner.resolve_scope
    monkeypatch.setattr(runner, "resolve_scope", resolve_then_commit)
    report = validate_warehouse(settings, "all")

    assert report.table_versions["device_events"] == before
    check = report.result("call_legs.webex_go_device_known.known_device")
    assert check.evaluated and GHOST in check.unexpected_values  # not known at `before`
    index = report.data_docs_index.read_text()  # type: ignore[union-attr]
    assert f"device_events version {before}" in index


def _user(frame: pl.DataFrame, user: str) -> pl.DataFrame:
    return frame.with_columns(pl.lit(user).alias("user_uuid"))
