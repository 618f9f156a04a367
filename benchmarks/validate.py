"""Validation cost against ingest cost, same input, same run.

Generates a DCH export with the sample generator, then times, each in a fresh process:
  (a) `cdr ingest FILE` into a fresh warehouse, and
  (b) `cdr validate --all` on that warehouse (GX import, all suites, Data Docs, ledger).
Prints seconds and peak RSS of each (getrusage of that child alone, via os.wait4) and the
ratio b/a. Target: ratio <= 0.5 at 1M legs.

With --failing, a second export of the same legs in which every `Call type` is a value the
documentation does not list (an open-enum warning on every row) is ingested and validated
as well: the cost of a check that fails everywhere, against the clean validation.

    python benchmarks/validate.py                 # 1M legs
    python benchmarks/validate.py --legs 200000   # quick look
    python benchmarks/validate.py --failing       # and a check failing on every row
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent


def measure(args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    parser.add_argument("--failing", action="store_true", help="also a check failing everywhere")
    opts = parser.parse_args()

    from cdr_pipeline.samples import write_call_export

    work = opts.workdir or Path(tempfile.mkdtemp(prefix="cdr-bench-validate-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / f"dch_{opts.legs}.csv"
    if not export.exists():
        t = time.perf_counter()
        write_call_export(export, legs=opts.legs, seed=7, start=date(2026, 9, 1), days=opts.days)
        print(f"generated {opts.legs:,} legs in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    wh = work / "warehouse"
    shutil.rmtree(wh, ignore_errors=True)
    cdr = str(BIN / "cdr")
    ingest_s, ingest_rss, code = measure([cdr, "--warehouse", str(wh), "-q", "ingest", str(export)])
    assert code == 0, f"ingest exited {code}"
    validate_s, validate_rss, code = measure([cdr, "--warehouse", str(wh), "validate", "--all"])
    assert code in (0, 4), f"validate exited {code}"
    result = {
        "legs": opts.legs,
        "mb": round(export.stat().st_size / 1e6, 1),
        "ingest_s": round(ingest_s, 2),
        "ingest_peak_rss_mib": round(ingest_rss),
        "validate_s": round(validate_s, 2),
        "validate_peak_rss_mib": round(validate_rss),
        "validate_exit_code": code,
        "ratio_validate_to_ingest": round(validate_s / ingest_s, 3),
        "target_ratio": 0.5,
    }
    if opts.failing:
        result |= failing_everywhere(export, work, cdr, validate_s)
    print(json.dumps(result, indent=2))
    if opts.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def failing_everywhere(export: Path, work: Path, cdr: str, clean_s: float) -> dict[str, object]:
    """`cdr validate --all` of the same legs, every one with an undocumented call type."""
    import duckdb

    odd = work / "dch_odd_call_type.csv"
    duckdb.execute(
        "COPY (SELECT * REPLACE ('SIP_HOLOGRAM' AS \"Call type\") "
        "FROM read_csv(?, all_varchar=true)) TO '" + str(odd) + "' (HEADER)",
        [str(export)],
    )
    wh = work / "warehouse_odd"
    shutil.rmtree(wh, ignore_errors=True)
    _, _, code = measure([cdr, "--warehouse", str(wh), "-q", "ingest", str(odd)])
    assert code == 0, f"ingest exited {code}"
    seconds, rss, code = measure([cdr, "--warehouse", str(wh), "validate", "--all"])
    assert code == 0, f"validate exited {code} (an open-enum value is a warning)"
    shutil.rmtree(wh, ignore_errors=True)
    odd.unlink()
    return {
        "failing_everywhere_validate_s": round(seconds, 2),
        "failing_everywhere_peak_rss_mib": round(rss),
        "failing_everywhere_to_clean": round(seconds / clean_s, 2),
    }


if __name__ == "__main__":
    main()
