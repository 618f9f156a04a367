"""Ingest throughput and memory against a bare-DuckDB baseline, same input, same run.

For each size: generate a DCH-like export with the sample generator (its days are interleaved
through the file) and a time-ordered copy of the same rows (as exports sorted by start time
are); then, on each, time
  (a) `cdr ingest FILE` into a warehouse in use (one holding the bundled device snapshots,
      its views built), and
  (b) a bare DuckDB copy of the same file:
      COPY (SELECT *, upper(trim("Sub client type"))='MOBILE_NETWORK' AS is_webex_go
            FROM read_csv(FILE)) TO 'x.parquet' (FORMAT parquet, COMPRESSION zstd)
each in a fresh process (peak RSS from getrusage of that process).
Targets: ratio a/b <= 1.5 at 1M legs; peak RSS of (a) <= 1 GiB; RSS(5M)/RSS(1M) <= 1.2.
Interleaved days cost more than ordered ones (each chunk is sorted by day into a compact
copy and held until 8 chunks make row groups of useful size); either way new partitions are
written in final form and renamed into place. Timings move by about 5 % between runs on a
small VM: use --repeat 5 for figures to quote.

Then (unless --no-redelivery) a re-delivery run: 10 % of the records, drawn over every day,
come again with a later report time and another outcome, and `cdr ingest` of that file into
the warehouse holding the interleaved load is timed (every day is merged and rewritten, one
Delta commit). Each `cdr ingest` ends with the view refresh, as the command does; the
`new folder s` column times one more `cdr ingest` into an empty folder, whose end is the
one-time build of every view (about 3 s at any size).

    python benchmarks/ingest.py                 # 1M and 5M legs
    python benchmarks/ingest.py --legs 200000   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - t, r.ru_maxrss, r.ru_utime + r.ru_stime, code)
"""
BASELINE = """
import duckdb, sys
duckdb.execute("SET enable_progress_bar=false")
duckdb.execute(
    "COPY (SELECT *, upper(trim(\\"Sub client type\\"))='MOBILE_NETWORK' AS is_webex_go "
    "FROM read_csv(?)) TO '" + sys.argv[2] + "' (FORMAT parquet, COMPRESSION zstd)",
    [sys.argv[1]],
)
"""


SORT = """
import duckdb, sys
duckdb.execute("SET enable_progress_bar=false")
duckdb.execute(
    "COPY (SELECT * FROM read_csv(?, all_varchar=true) ORDER BY \\"Start time\\") TO '"
    + sys.argv[2] + "' (HEADER)", [sys.argv[1]],
)
"""


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """Seconds, peak RSS (MiB) and CPU seconds (user + system) of `cmd` run alone in a fresh
    process. The CPU time is the fairer figure on a machine shared with other work, where the
    wall time of either side depends on what else runs. Dirty pages of the
    previous run are written out first (os.sync, not timed): otherwise the next run's fsyncs
    wait for the last run's output."""
    os.sync()
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True
    )
    seconds, rss_kb, cpu, code = out.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"command failed ({code}): {' '.join(cmd)}")
    return float(seconds), int(rss_kb) / 1024, float(cpu)


def seed_warehouse(wh: Path) -> None:
    """A warehouse in use: it holds the bundled device snapshots (another table) and its
    views are built, so the timed `cdr ingest` ends with the refresh every later ingest
    runs, not with the one-time first build of a new folder (timed apart: `new_folder_s`)."""
    from cdr_pipeline.resources import samples_dir

    cmd = [sys.executable, "-m", "cdr_pipeline", "-q", "--warehouse", str(wh), "ingest"]
    subprocess.run(
        [*cmd, str(samples_dir() / "device_snapshots.csv")], check=True, stdout=subprocess.DEVNULL
    )


def run_pair(args: argparse.Namespace, legs: int, order: str, src: Path) -> dict[str, object]:
    """(a) cdr ingest into a warehouse in use and (b) the bare DuckDB copy of `src`, medians
    of --repeat runs; then one `cdr ingest` into an empty folder (it builds every view)."""
    ours, base = [], []
    wh = args.out / f"wh_{legs}"
    cmd = [sys.executable, "-m", "cdr_pipeline", "-q", "--warehouse", str(wh), "ingest"]
    if args.chunk_rows:
        cmd += ["--chunk-rows", str(args.chunk_rows)]
    for _ in range(args.repeat):
        shutil.rmtree(wh, ignore_errors=True)
        seed_warehouse(wh)
        ours.append(measure([*cmd, str(src)]))
        target = args.out / f"baseline_{legs}.parquet"
        base.append(measure([sys.executable, "-c", BASELINE, str(src), str(target)]))
        target.unlink(missing_ok=True)
        shutil.rmtree(wh, ignore_errors=True)
    new_folder_s, _rss, _cpu = measure([*cmd, str(src)])
    shutil.rmtree(wh, ignore_errors=True)
    ours.sort()
    base.sort()
    (a_s, a_rss, a_cpu), (b_s, b_rss, b_cpu) = ours[len(ours) // 2], base[len(base) // 2]
    return {
        "legs": legs,
        "order": order,
        "file_mb": round(src.stat().st_size / 1e6),
        "ingest_s": round(a_s, 2),
        "duckdb_s": round(b_s, 2),
        "ratio": round(a_s / b_s, 2),
        "ingest_cpu_s": round(a_cpu, 2),
        "duckdb_cpu_s": round(b_cpu, 2),
        "cpu_ratio": round(a_cpu / b_cpu, 2),
        "ingest_rss_mib": round(a_rss),
        "duckdb_rss_mib": round(b_rss),
        "new_folder_s": round(new_folder_s, 2),
    }


REDELIVER = """
import duckdb, sys
duckdb.execute("SET enable_progress_bar=false")
duckdb.execute(
    "COPY (SELECT * REPLACE ('2026-12-31T00:00:00.000Z' AS \\"Report time\\", "
    "'Failure' AS \\"Call outcome\\") FROM read_csv(?, all_varchar=true) "
    "USING SAMPLE 10 PERCENT (bernoulli, 7)) TO '" + sys.argv[2] + "' (HEADER)", [sys.argv[1]],
)
"""


def run_redelivery(args: argparse.Namespace, legs: int, src: Path) -> dict[str, object]:
    """Load `src`, then time `cdr ingest` of 10 % of its records re-delivered with a later
    report time (spread over every day)."""
    wh = args.out / f"wh_redeliver_{legs}"
    shutil.rmtree(wh, ignore_errors=True)
    again = args.out / f"dch_{legs}_redelivery.csv"
    if not again.exists():
        subprocess.run([sys.executable, "-c", REDELIVER, str(src), str(again)], check=True)
    cmd = [sys.executable, "-m", "cdr_pipeline", "-q", "--warehouse", str(wh), "ingest"]
    seed_warehouse(wh)
    measure([*cmd, str(src)])
    seconds, rss, _cpu = measure([*cmd, str(again)])
    shutil.rmtree(wh, ignore_errors=True)
    return {
        "legs": legs,
        "order": "re-delivery 10 %",
        "file_mb": round(again.stat().st_size / 1e6),
        "ingest_s": round(seconds, 2),
        "ingest_rss_mib": round(rss),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--legs", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--chunk-rows", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    ap.add_argument("--no-redelivery", action="store_true", help="skip the re-delivery run")
    args = ap.parse_args()
    from cdr_pipeline.samples import write_call_export

    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    redelivered: list[dict[str, object]] = []
    for legs in args.legs:
        src = args.out / f"dch_{legs}.csv"
        if not src.exists():
            t = time.perf_counter()
            write_call_export(src, legs=legs, seed=11, start=date(2026, 9, 1), days=30)
            print(
                f"generated {legs:,} legs ({src.stat().st_size / 1e6:,.0f} MB) in "
                f"{time.perf_counter() - t:.1f}s",
                file=sys.stderr,
            )
        ordered = args.out / f"dch_{legs}_ordered.csv"
        if not ordered.exists():
            subprocess.run([sys.executable, "-c", SORT, str(src), str(ordered)], check=True)
        for order, path in (("interleaved", src), ("ordered", ordered)):
            rows.append(run_pair(args, legs, order, path))
            print(json.dumps(rows[-1]), file=sys.stderr)
        if not args.no_redelivery:
            redelivered.append(run_redelivery(args, legs, src))
            print(json.dumps(redelivered[-1]), file=sys.stderr)
    print(
        f"{'legs':>10} {'order':>12} {'MB':>6} {'ingest s':>9} {'duckdb s':>9} {'ratio':>6} "
        f"{'ingest RSS MiB':>15} {'duckdb RSS MiB':>15} {'CPU ratio':>9} {'new folder s':>12}"
    )
    for r in rows:
        print(
            f"{r['legs']:>10,} {r['order']:>12} {r['file_mb']:>6} {r['ingest_s']:>9} "
            f"{r['duckdb_s']:>9} {r['ratio']:>6} {r['ingest_rss_mib']:>15} "
            f"{r['duckdb_rss_mib']:>15} {r['cpu_ratio']:>9} {r['new_folder_s']:>12}"
        )
    for r in redelivered:
        print(
            f"{r['legs']:>10,} {r['order']:>12} {r['file_mb']:>6} {r['ingest_s']:>9} "
            f"{'':>9} {'':>6} {r['ingest_rss_mib']:>15}"
        )
    sizes = sorted({int(str(r["legs"])) for r in rows})
    if len(sizes) >= 2:
        peak = {
            n: max(float(str(r["ingest_rss_mib"])) for r in rows if r["legs"] == n) for n in sizes
        }
        print(
            f"peak RSS ratio {sizes[-1]:,}/{sizes[0]:,} legs: "
            f"{peak[sizes[-1]] / peak[sizes[0]]:.2f}"
        )


if __name__ == "__main__":
    main()
