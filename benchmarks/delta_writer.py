"""Which writer for the Delta tables: the project's tuned Parquet writer committed through
delta-rs's transaction API, or delta-rs's own writer and MERGE?

Both get the same normalized call legs as Arrow (loaded once with `cdr ingest`, read back),
in the same process, and write a fresh `call_date`-partitioned Delta table:
  (a) ours: `Stager` (zstd, per-column statistics and dictionaries) writes one file per day,
      committed with `state.tables.commit` (one Add action per file);
  (b) delta-rs: `write_deltalake(..., partition_by=["call_date"])`.
Then a re-delivery of 10 % of the records, spread over every day, with a later report time:
  (a) ours: staged the same way and merged per day with DuckDB (`merge_staged`), one commit;
  (b) delta-rs: `DeltaTable.merge` on report_id, `when_matched_update_all` where the incoming
      report time is later, `when_not_matched_insert_all`.

    python benchmarks/delta_writer.py --legs 200000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--legs", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "delta_writer")
    args = ap.parse_args()

    import polars as pl
    from deltalake import DeltaTable, write_deltalake

    from cdr_pipeline.ingest.merge import merge_staged
    from cdr_pipeline.ingest.pending import PendingTables
    from cdr_pipeline.ingest.stager import Stager
    from cdr_pipeline.samples import write_call_export
    from cdr_pipeline.schema import CALL_LEGS
    from cdr_pipeline.state.layout import Layout

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    src = args.out / "export.csv"
    write_call_export(src, legs=args.legs, seed=3, start=date(2026, 9, 1), days=30)
    loaded = args.out / "loaded"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cdr_pipeline",
            "-q",
            "--warehouse",
            str(loaded),
            "ingest",
            str(src),
        ],
        check=True,
    )
    rows = pl.read_delta(str(loaded / "tables" / "call_legs"))
    rows = rows.select([c.name for c in CALL_LEGS.stored_columns] + ["call_date"])
    update = rows.sample(fraction=0.10, seed=1).with_columns(
        pl.col("report_time") + timedelta(seconds=1),
        pl.lit("Failure").alias("call_outcome"),
        pl.col("load_seq") + 1,
    )
    arrow_schema = CALL_LEGS.table_arrow_schema()
    results = []

    def stage(df: pl.DataFrame, root: Path) -> dict[str, Path]:
        stager = Stager(root, CALL_LEGS, max_pending_rows=200_000)
        for chunk in df.iter_slices(25_000):
            stager.add(chunk)
        return stager.close()

    def ours_write(df: pl.DataFrame, wh: Path, run_id: str) -> None:
        layout = Layout(wh)
        pending = PendingTables(layout, run_id)
        table = pending.table(CALL_LEGS)
        staged = stage(df, layout.staging_run(run_id) / "rows")
        merge_staged(table, staged, layout.staging_run(run_id) / "tmp", run_id)
        pending.commit()
        shutil.rmtree(layout.staging_run(run_id), ignore_errors=True)

    ours = args.out / "ours"
    t = time.perf_counter()
    ours_write(rows, ours, "r1")
    results.append(("ours: stager + transaction commit", "write", time.perf_counter() - t))
    t = time.perf_counter()
    ours_write(update, ours, "r2")
    results.append(("ours: DuckDB merge per day + commit", "re-delivery", time.perf_counter() - t))

    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    theirs = str(args.out / "deltars")
    data = rows.to_arrow().cast(arrow_schema)
    t = time.perf_counter()
    write_deltalake(theirs, data, partition_by=["call_date"])
    results.append(("delta-rs write_deltalake", "write", time.perf_counter() - t))
    t = time.perf_counter()
    (
        DeltaTable(theirs)
        .merge(
            update.to_arrow().cast(arrow_schema),
            predicate="t.report_id = s.report_id",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update_all(predicate="s.report_time > t.report_time")
        .when_not_matched_insert_all()
        .execute()
    )
    results.append(("delta-rs MERGE", "re-delivery", time.perf_counter() - t))
    # the two tables hold the same rows
    a = pl.read_delta(str(ours / "tables" / "call_legs")).sort("report_id")
    b = pl.read_delta(theirs).sort("report_id").select(a.columns)
    assert a.equals(b), "the two writers disagree"
    size = {
        name: sum(p.stat().st_size for p in Path(root).rglob("*.parquet")) / 1e6
        for name, root in (("ours", ours), ("delta-rs", theirs))
    }
    print(f"{args.legs:,} legs, {rows.height:,} rows, re-delivery {update.height:,} rows")
    for name, step, seconds in results:
        print(f"{name:>40} {step:>12} {seconds:8.2f} s")
    print(f"files on disk after both steps: ours {size['ours']:.0f} MB, "
          f"delta-rs {size['delta-rs']:.0f} MB")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: after ours {ours_rss:.0f} MiB, after delta-rs {peak:.0f} MiB")


if __name__ == "__main__":
    main()
