"""How fast could the load be at best? DuckDB doing the whole normalization, against the
bare copy `benchmarks/ingest.py` compares `cdr ingest` with.

Issue 17 asks for `cdr ingest` within 1.2x the bare DuckDB copy of the same export. This
script measures the floor under that: DuckDB's own CSV reader parsing every canonical
column to its type (the headers mapped as the ingest maps them), `is_webex_go` and
`call_date` derived, written as zstd Parquet, once into one file and once into one file per
day as the table is laid out. It quarantines nothing, deduplicates nothing, commits
nothing and clusters no row groups: a load can only cost more. Each runs in a fresh
process, like the bare copy:

  (a) bare copy:    COPY (SELECT *, is_webex_go FROM read_csv(FILE)) TO 'x.parquet'
  (b) typed, one file
  (c) typed, one file per day (PARTITION_BY call_date)

    python benchmarks/native_load.py --legs 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import BASELINE, measure

TYPED = """
import sys, duckdb
duckdb.execute("SET enable_progress_bar=false; SET TimeZone='UTC'")
duckdb.execute(sys.argv[1])
"""


def typed_select(path: Path) -> str:
    """The export read by DuckDB with every canonical column typed as the schema says."""
    from cdr_pipeline.ingest.csv_header import read_header
    from cdr_pipeline.schema.base import BOOLEAN, DOUBLE, INTEGER, SMALLINT, STRING, TIMESTAMP
    from cdr_pipeline.schema.calls import CALL_LEGS
    from cdr_pipeline.schema.headers import resolve_headers
    from cdr_pipeline.text import lit

    with path.open("rb") as fh:
        header = read_header(fh)
    res = resolve_headers(header.names, CALL_LEGS)
    source: dict[str, str] = {}
    for i, name in enumerate(res.canonical):
        if name is not None:
            source.setdefault(name, f"c{i}")
    words = {True: "('true','t','yes','y','1')", False: "('false','f','no','n','0')"}
    cast = {INTEGER: "bigint", SMALLINT: "smallint", DOUBLE: "double"}
    cols = []
    for c in CALL_LEGS.input_columns:
        x = source.get(c.name)
        if x is None:
            cols.append(f"null as {c.name}")
        elif c.dtype == STRING:
            cols.append(f"{x} as {c.name}")
        elif c.dtype == TIMESTAMP:
            cols.append(f"try_strptime({x}, '%Y-%m-%dT%H:%M:%S.%gZ')::timestamptz as {c.name}")
        elif c.dtype == BOOLEAN:
            low = f"lower(trim({x}))"
            cols.append(
                f"case when {low} in {words[True]} then true "
                f"when {low} in {words[False]} then false end as {c.name}"
            )
        else:
            cols.append(f"try_cast(trim({x}) as {cast[c.dtype]}) as {c.name}")
    names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header.names)))
    go = f"coalesce(upper(trim({source['sub_client_type']})) = 'MOBILE_NETWORK', false)"
    return (
        f"select *, cast(start_time as date) as call_date from (select {', '.join(cols)}, "
        f"{go} as is_webex_go from read_csv({lit(str(path))}, header = true, "
        f"columns = {{{names}}}, nullstr = ['', 'NA', 'na'], quote = '\"', escape = '\"', "
        "delim = ',', strict_mode = true))"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--legs", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the three runs (medians)")
    args = ap.parse_args()
    from cdr_pipeline.samples import write_call_export

    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / f"dch_{args.legs}.csv"  # the file benchmarks/ingest.py makes
    if not src.exists():
        write_call_export(src, legs=args.legs, seed=11, start=date(2026, 9, 1), days=30)
    one, days = args.out / "native_one.parquet", args.out / "native_days"
    shutil.rmtree(days, ignore_errors=True)
    select = typed_select(src)
    runs = {
        "bare copy": [sys.executable, "-c", BASELINE, str(src), str(args.out / "bare.parquet")],
        "typed, one file": [
            sys.executable,
            "-c",
            TYPED,
            f"COPY ({select}) TO '{one}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)",
        ],
        "typed, a file per day": [
            sys.executable,
            "-c",
            TYPED,
            f"COPY ({select}) TO '{days}' (FORMAT parquet, PARTITION_BY (call_date), "
            "COMPRESSION zstd, COMPRESSION_LEVEL 1)",
        ],
    }
    timings: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    for _ in range(args.repeat):  # rounds, so that a drift of the VM touches every run alike
        for name, cmd in runs.items():
            timings[name].append(measure(cmd))
            shutil.rmtree(days, ignore_errors=True)
    rows = []
    for name, runs_of in timings.items():
        seconds, rss, cpu = sorted(runs_of)[len(runs_of) // 2]
        rows.append(
            {"run": name, "s": round(seconds, 2), "cpu_s": round(cpu, 2), "rss_mib": round(rss)}
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    for path in (one, args.out / "bare.parquet"):
        path.unlink(missing_ok=True)
    shutil.rmtree(days, ignore_errors=True)
    bare = rows[0]["s"]
    print("| run | seconds | CPU s | peak RSS | ratio to the bare copy |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['s']} | {r['cpu_s']} | {r['rss_mib']} MiB | {r['s'] / bare:.2f} |"
        )


if __name__ == "__main__":
    main()
