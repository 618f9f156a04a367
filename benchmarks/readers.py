"""CSV readers compared on one export: speed, peak memory and quarantine fidelity.

The same DCH-like export (from the sample generator), with five faulty records planted at
known lines, is read to string columns, in bounded batches, by
  (a) project    the ingest's block reader (`ingest/csv_reader.py`: numpy record splitting,
                 polars parsing of each chunk, rejects with line, raw text and reason);
  (b) duckdb     `read_csv(..., all_varchar = true, store_rejects = true)`, fetched as Arrow
                 batches, rejects from `reject_errors`;
  (c) polars     `pl.scan_csv(..., infer_schema = False).collect_batches()` (polars 2 has no
                 `read_csv_batched`), with the options it needs
                 to get through the file (`truncate_ragged_lines`, `encoding='utf8-lossy'`,
                 `ignore_errors`): it has no reject output.
each in a fresh process (peak RSS from getrusage). The faults are the ones real exports
carry: a ragged row (one field too many), a short row, a stray quote inside an unquoted
field (`O"Brien`), invalid UTF-8 and a quoted field never closed. A reader is faithful when
it loads every other record unchanged (the row count says so) and quarantines exactly these
five with their line number, raw text and a reason.

    python benchmarks/readers.py                   # 1M legs
    python benchmarks/readers.py --legs 200000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
BATCH = 100_000

MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mib": r.ru_maxrss / 1024,
                  "cpu": r.ru_utime + r.ru_stime, "code": out.returncode,
                  "stdout": out.stdout, "stderr": out.stderr[-2000:]}))
"""

PROJECT = """
import json, sys
from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.csv_reader import read_csv_body
rows, rejects = 0, []
with open(sys.argv[1], "rb") as f:
    header = read_header(f)
    for chunk in read_csv_body(f, header, int(sys.argv[2])):
        rows += chunk.frame.height
        rejects += [[r.source_row, r.reason, bool(r.raw_text)] for r in chunk.rejects]
print(json.dumps({"rows": rows, "rejects": rejects}))
"""

DUCKDB = """
import json, sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
# the dialect is given (the sniffer gives up on the faulty file), as the project's reader
# knows it from its own header sniff
q = chr(34)
reader = con.sql(
    f"SELECT * FROM read_csv($f, all_varchar = true, header = true, delim = ',', "
    f"quote = '{q}', escape = '{q}', store_rejects = true)",
    params={"f": sys.argv[1]},
).to_arrow_reader(int(sys.argv[2]))
rows = sum(batch.num_rows for batch in reader)
found = con.execute(
    "SELECT line, error_type, csv_line IS NOT NULL AND csv_line <> '' FROM reject_errors "
    "ORDER BY line"
).fetchall()
print(json.dumps({"rows": rows, "rejects": [[int(l), str(t), bool(r)] for l, t, r in found]}))
"""

POLARS = """
import json, sys
import polars as pl
lazy = pl.scan_csv(
    sys.argv[1], infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy",
    ignore_errors=True,
)
rows = sum(b.height for b in lazy.collect_batches(chunk_size=int(sys.argv[2])))
print(json.dumps({"rows": rows, "rejects": []}))
"""


def plant_faults(src: Path, dst: Path, every: int) -> dict[int, str]:
    """Copy `src` to `dst` with five records replaced by faulty ones, `every` lines apart;
    returns {line: fault}. Line numbers are 1-based, the header is line 1."""
    faults = ["ragged", "short", "stray quote", "invalid utf-8", "unclosed quote"]
    planted: dict[int, str] = {}
    with src.open("rb") as inp, dst.open("wb") as out:
        for line_no, raw in enumerate(inp, start=1):
            k = (line_no - 1) // every
            if line_no > 1 and (line_no - 1) % every == 0 and k <= len(faults):
                fault = faults[k - 1]
                body = raw.rstrip(b"\r\n")
                ending = raw[len(body) :]
                if fault == "ragged":
                    body += b",extra"
                elif fault == "short":
                    body = body.rsplit(b",", 3)[0]
                elif fault == "stray quote":
                    first, rest = body.split(b",", 1)
                    body = b'O"Brien' + first + b"," + rest
                elif fault == "invalid utf-8":
                    first, rest = body.split(b",", 1)
                    body = first + b"\xff\xfe," + rest
                else:  # a quoted field that never closes (the next line is its own record)
                    first, rest = body.split(b",", 1)
                    body = first + b',"' + rest.replace(b'"', b"")
                raw = body + ending
                planted[line_no] = fault
            out.write(raw)
    return planted


def run(code: str, path: Path) -> dict[str, object]:
    cmd = [sys.executable, "-c", MEASURE, sys.executable, "-c", code, str(path), str(BATCH)]
    res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    if res["code"] != 0:
        return {**res, "rows": None, "rejects": [], "error": res["stderr"].strip().splitlines()[-1]}
    return {**res, **json.loads(res["stdout"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--legs", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    from cdr_pipeline.samples import write_call_export

    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / f"dch_{args.legs}.csv"
    if not src.exists():
        write_call_export(src, legs=args.legs, seed=11, start=date(2026, 9, 1), days=30)
    dirty = args.out / f"dch_{args.legs}_faults.csv"
    planted = plant_faults(src, dirty, every=args.legs // 6)
    with dirty.open("rb") as f:
        records = sum(1 for _ in f) - 1
    good = records - len(planted)
    print(f"{records:,} records, faulty at lines {planted}", file=sys.stderr)
    head = f"{'reader':>8} {'seconds':>8} {'CPU s':>7} {'peak RSS MiB':>13} {'rows':>10}"
    print(f"{head} {'faults found (line)':>20} {'exact':>6}")
    for name, code in (("project", PROJECT), ("duckdb", DUCKDB), ("polars", POLARS)):
        res = run(code, dirty)
        rejects = res["rejects"]
        assert isinstance(rejects, list)
        found = sorted({int(r[0]) for r in rejects} & set(planted))
        exact = res["rows"] == good and found == sorted(planted) and all(r[2] for r in rejects)
        rows = "-" if res["rows"] is None else f"{res['rows']:,}"
        print(
            f"{name:>8} {float(str(res['seconds'])):8.2f} {float(str(res['cpu'])):7.2f} "
            f"{float(str(res['rss_mib'])):13.0f} {rows:>10} "
            f"{f'{len(found)} of {len(planted)}':>20} {'yes' if exact else 'no':>6}"
        )
        print(f"  {name}: {json.dumps(rejects[:8])} {res.get('error', '')}", file=sys.stderr)


if __name__ == "__main__":
    main()
