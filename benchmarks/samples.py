"""Time and peak memory of `cdr samples` making a large (bulk) set.

Runs `cdr -q samples --rows N --out DIR` in a fresh process and prints its wall time, peak
RSS (getrusage of the child), rows per second and bytes written; the set is deleted after
unless --keep (10M legs take about 8.6 GB).

    python benchmarks/samples.py                      # 10M legs
    python benchmarks/samples.py --rows 1000000       # 1M legs
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "samples")
    parser.add_argument("--keep", action="store_true", help="keep the generated set")
    args = parser.parse_args()

    cdr = str(Path(sys.executable).with_name("cdr"))
    shutil.rmtree(args.out, ignore_errors=True)
    cmd = [cdr, "-q", "samples", "--rows", str(args.rows), "--days", str(args.days)]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "--out", str(args.out)], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    if not args.keep:
        shutil.rmtree(args.out)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "seconds": round(seconds, 1),
                "rows_per_s": round(args.rows / seconds),
                "peak_rss_mib": rss_kib // 1024,
                "gb_written": round(size / 1e9, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
