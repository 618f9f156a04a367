"""Warehouse view timings against a plain DuckDB aggregate over the same Parquet files.

Builds a warehouse with the sample generator (`write_call_export` for the calls, the device
files of `generate_samples` with the same seed, so the devices match the callers), runs
`cdr ingest` and `cdr build`, then times, warm, median of --repeat runs in one read-only
connection:
  baseline  plain DuckDB over the call_legs Parquet files: count(*), sum(duration_seconds)
            grouped by user and month
  usage     select * from rpt_licence_usage_monthly where month = M, and all months
  recon     select * from rpt_licence_reconciliation where month = M, and all months
  calls     select * from fct_calls where report_month = M   (fetched as Arrow)
and prints each as a ratio to the baseline, plus the time of `cdr build`. The licence reports
must stay within 3x the baseline (the script exits 1 otherwise).

    python benchmarks/views.py                   # 10M legs (slow: generation + ingest)
    python benchmarks/views.py --legs 1000000    # 1M legs
    python benchmarks/views.py --legs 100000     # quick look
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

HERE = Path(__file__).parent
DEVICE_FILES = ("device_snapshots.csv", "activation_events.csv", "entitlements.csv")


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _median(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict, repeat: int
) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = con.sql(sql, params=params).to_arrow_table().num_rows
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--month", default="2026-10", help="month timed (YYYY-MM)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "views")
    parser.add_argument("--reuse", action="store_true", help="reuse an ingested workdir")
    args = parser.parse_args()

    from cdr_pipeline.samples import generate_samples
    from cdr_pipeline.samples.bulk import write_call_export

    work = args.workdir / f"{args.legs}"
    wh, inputs = work / "warehouse", work / "inputs"
    cdr = [str(Path(sys.executable).with_name("cdr")), "-q", "--warehouse", str(wh)]
    start = date(2026, 9, 1)
    t_gen = t_ingest = 0.0
    if not (args.reuse and (wh / "tables").is_dir()):
        shutil.rmtree(work, ignore_errors=True)
        inputs.mkdir(parents=True)
        t0 = time.perf_counter()
        write_call_export(
            inputs / "calls.csv", legs=args.legs, seed=args.seed, start=start, days=args.days
        )
        samples = work / "samples"
        generate_samples(samples, legs=400, seed=args.seed, start=start, days=args.days)
        for name in DEVICE_FILES:
            shutil.copy(samples / name, inputs / name)
        t_gen = time.perf_counter() - t0
        t_ingest = _timed([*cdr, "ingest", str(inputs)])
    t_build = _timed([*cdr, "build"])

    month = date.fromisoformat(args.month + "-01")
    con = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    glob = str((wh / "tables" / "call_legs" / "**" / "*.parquet").resolve())
    baseline_sql = (
        "select user_uuid, date_trunc('month', call_date) as month, count(*) as legs, "
        "sum(duration_seconds) as seconds "
        f"from read_parquet('{glob}', hive_partitioning=true) group by all"
    )
    total_legs = con.execute("select count(*) from fct_call_legs").fetchall()[0][0]
    results = [
        ("baseline: plain aggregate by user, month", *_median(con, baseline_sql, {}, args.repeat)),
        (
            "rpt_licence_usage_monthly, one month",
            *_median(
                con,
                "select * from rpt_licence_usage_monthly where month = $m",
                {"m": month},
                args.repeat,
            ),
        ),
        (
            "rpt_licence_usage_monthly, all months",
            *_median(con, "select * from rpt_licence_usage_monthly", {}, args.repeat),
        ),
        (
            "rpt_licence_reconciliation, one month",
            *_median(
                con,
                "select * from rpt_licence_reconciliation where month = $m",
                {"m": month},
                args.repeat,
            ),
        ),
        (
            "rpt_licence_reconciliation, all months",
            *_median(con, "select * from rpt_licence_reconciliation", {}, args.repeat),
        ),
        (
            "fct_calls, one month (all columns)",
            *_median(
                con, "select * from fct_calls where report_month = $m", {"m": month}, args.repeat
            ),
        ),
    ]
    con.close()
    base = results[0][1]
    print(f"\nwarehouse: {total_legs:,} call legs, month {args.month}")
    if t_gen:
        print(f"generate {t_gen:.1f}s, cdr ingest {t_ingest:.1f}s")
    print(f"cdr build: {t_build:.2f}s (process start included)\n")
    print(f"{'query':45s} {'seconds':>8s} {'rows':>10s} {'x baseline':>10s}")
    for name, seconds, rows in results:
        print(f"{name:45s} {seconds:8.2f} {rows:10,d} {seconds / base:10.1f}")
    worst = max(seconds / base for name, seconds, _ in results if name.startswith("rpt_licence"))
    print(f"\nlicence reports: worst {worst:.2f}x the baseline (limit 3x)")
    if worst > 3:
        sys.exit(1)


if __name__ == "__main__":
    main()
