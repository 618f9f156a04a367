"""How much a long ledger costs `cdr runs` and the start of an ingest.

Records N runs (each with one `files` record) through `Ledger.write`, as real runs do (the
ledger compacts itself as it goes), then times, each in a fresh process:
  (a) `cdr runs` on that warehouse and on an empty one;
  (b) the ledger reads an ingest starts with (`mark_interrupted` and the loaded-file digests)
      plus the runs `cdr runs` lists, imports excluded
and, for comparison, the same reads over the old layout (one file per record, never
compacted). Target: with 10,000 runs, (a) and (b) add at most 1 s.

    python benchmarks/ledger.py              # 10,000 runs
    python benchmarks/ledger.py --runs 2000  # quick look
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
START = """
import sys, time
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from pathlib import Path
t = time.perf_counter()  # the reads only: imports cost the same with any ledger
ledger = Ledger(Layout(Path(sys.argv[1])))
ledger.mark_interrupted()
ledger.loaded_hashes()
ledger.runs()
print(time.perf_counter() - t)
"""


def fill(root: Path, runs: int, compact: bool) -> None:
    from cdr_pipeline.state import ledger as ledger_mod
    from cdr_pipeline.state.layout import Layout
    from cdr_pipeline.state.ledger import FILES_SCHEMA, RUNS_SCHEMA, Ledger

    if not compact:
        ledger_mod.COMPACT_AT = 10**9  # the old layout: one file per record, forever
    ledger = Ledger(Layout(root))
    now = datetime.now(UTC)
    for i in range(runs):
        run_id = f"20260101T000000000Z-{i:06x}"
        ledger.write(
            "runs",
            run_id,
            [{"run_id": run_id, "command": "cdr ingest", "status": "ok", "started_at": now,
              "finished_at": now, "exit_code": 0, "files_seen": 1, "files_loaded": 1,
              "rows_read": 100, "rows_loaded": 100, "table_versions": f"call_legs={i}"}],
            RUNS_SCHEMA,
        )  # fmt: skip
        ledger.write(
            "files",
            f"{run_id}-00000-abcdef01",
            [{"run_id": run_id, "file_seq": 0, "path": f"/in/{i}.csv", "source": f"/in/{i}.csv",
              "kind": "calls", "table_name": "call_legs", "content_sha256": f"{i:064x}",
              "size_bytes": 1000 + i, "status": "loaded", "rows_read": 100, "rows_loaded": 100,
              "loaded_at": now}],
            FILES_SCHEMA,
        )  # fmt: skip


def timed(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def start_seconds(root: Path, repeat: int = 3) -> float:
    out = [
        float(subprocess.run([sys.executable, "-c", START, str(root)], check=True,
                             capture_output=True, text=True).stdout)
        for _ in range(repeat)
    ]  # fmt: skip
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "ledger")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cdr = [sys.executable, "-m", "cdr_pipeline", "--warehouse"]
    rows = []
    empty = args.out / "empty"
    (empty / "state").mkdir(parents=True)  # a warehouse (cdr runs refuses any other folder)
    base_runs = timed([*cdr, str(empty), "runs"])
    base_start = start_seconds(empty)
    for label, compact in (("compacted", True), ("one file per record", False)):
        root = args.out / label.replace(" ", "_")
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c",
             f"import sys; sys.path.insert(0, {str(HERE)!r}); import ledger; "
             f"ledger.fill(__import__('pathlib').Path({str(root)!r}), {args.runs}, {compact})"],
            check=True,
        )  # fmt: skip
        written = time.perf_counter() - t
        files = sum(1 for _ in (root / "state" / "ledger").rglob("*.parquet"))
        runs_s = timed([*cdr, str(root), "runs"])
        start_s = start_seconds(root)
        rows.append((label, files, written, runs_s - base_runs, start_s - base_start))
    print(
        f"{args.runs:,} runs; empty warehouse: cdr runs {base_runs:.2f}s, start {base_start:.2f}s"
    )
    print(f"{'layout':>22} {'files':>7} {'write all s':>12} {'cdr runs +s':>12} {'start +s':>9}")
    for label, files, written, runs_s, start_s in rows:
        print(f"{label:>22} {files:>7} {written:>12.1f} {runs_s:>12.2f} {start_s:>9.2f}")


if __name__ == "__main__":
    main()
