"""A validation that runs while an ingest is still loading: it checks the committed versions
and must not name the unfinished run as validated, or the nightly's `pending` scope would
skip that run's rows for ever."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ProgressEvent, ingest_paths
from cdr_pipeline.quality import validate_warehouse
from cdr_pipeline.state.ledger import Ledger


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
