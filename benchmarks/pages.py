"""One run of many files against one file of the same records: the pages of a fetch.

`cdr fetch` saves each page of the API (`page_size`, 5,000 records by default) as a file and
ingests a window's pages in one run; a folder of small exports is ingested the same way. For
each order of the records (days interleaved through the export, and sorted by start time, as
the API's pages of a window come), this times, each in a fresh process into a warehouse in
use (`ingest.seed_warehouse`):
  (a) `cdr ingest FILE` of the whole export, and
  (b) `cdr ingest FOLDER` of the same records cut into pages of --page-rows records,
and prints b/a (wall and CPU) with the peak RSS of each. A file of new records only goes
beside its day's content and each such day is gathered into one file once, at the end of the
run (`merge.compact_appended`); before that, every page rewrote each day it touched.

    python benchmarks/pages.py                       # 300,000 legs over 10 days
    python benchmarks/pages.py --legs 100000 --days 4
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from ingest import SORT, measure, seed_warehouse

HERE = Path(__file__).parent


def cut_pages(src: Path, folder: Path, rows: int) -> int:
    """`src` as CSV pages of `rows` records each (header and BOM on every page), streamed:
    returns how many."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pages = 0

    def write(header: list[str], records: list[list[str]]) -> None:
        path = folder / f"page-{pages:05d}.csv"
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(records)

    with open(src, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        records: list[list[str]] = []
        for record in reader:
            records.append(record)
            if len(records) == rows:
                write(header, records)
                pages, records = pages + 1, []
        if records:
            write(header, records)
            pages += 1
    return pages


def timed_ingest(target: Path, work: Path) -> tuple[float, float, float]:
    """Seconds, peak RSS (MiB) and CPU seconds of `cdr ingest target` into a new warehouse
    in use."""
    wh = work / "wh"
    shutil.rmtree(wh, ignore_errors=True)
    seed_warehouse(wh)
    cdr = [sys.executable, "-m", "cdr_pipeline", "-q", "--warehouse", str(wh), "ingest"]
    return measure([*cdr, str(target)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--legs", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--page-rows", type=int, default=5_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "pages")
    args = ap.parse_args()
    from cdr_pipeline.samples import write_call_export

    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / f"dch_{args.legs}_{args.days}d.csv"
    if not src.exists():
        write_call_export(src, legs=args.legs, seed=11, start=date(2026, 9, 1), days=args.days)
    ordered = args.out / f"dch_{args.legs}_{args.days}d_ordered.csv"
    if not ordered.exists():
        subprocess.run([sys.executable, "-c", SORT, str(src), str(ordered)], check=True)
    print(
        f"{'order':>12} {'pages':>6} {'one file s':>10} {'pages s':>8} {'ratio':>6} "
        f"{'CPU ratio':>9} {'file RSS MiB':>12} {'pages RSS MiB':>13}"
    )
    for order, path in (("interleaved", src), ("ordered", ordered)):
        folder = args.out / f"pages_{order}"
        pages = cut_pages(path, folder, args.page_rows)
        one_s, one_rss, one_cpu = timed_ingest(path, args.out)
        many_s, many_rss, many_cpu = timed_ingest(folder, args.out)
        print(
            f"{order:>12} {pages:>6} {one_s:>10.2f} {many_s:>8.2f} {many_s / one_s:>6.2f} "
            f"{many_cpu / one_cpu:>9.2f} {one_rss:>12.0f} {many_rss:>13.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
