"""Readers never fail and never mix versions: reports and a held-open read-only connection
keep answering while ingests merge and commit, builds replace `cdr.duckdb` and a vacuum runs.
Every answer equals the answer of one committed version."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import run_report
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.warehouse import build_warehouse
from tests.ingest.helpers import load, run_cdr

QUERY = "select count(*), sum(hash(report_id || report_time::varchar)) from stg_call_legs"
HELD = r"""
import os, sys, time, duckdb
db, log, stop, query = sys.argv[1:5]
con = duckdb.connect(db, read_only=True)
with open(log, "w") as out:
    while not os.path.exists(stop):
        try:
            out.write(repr(con.execute(query).fetchone()) + "\n")
        except Exception as exc:
            out.write("FAILED " + str(exc).replace("\n", " ") + "\n")
        out.flush()
        time.sleep(0.01)
"""
REPORT = "hourly-volume"
MIN_QUERIES = 500


def _digest(settings: Settings, as_of: int | None = None) -> str:
    table = run_report(settings, REPORT, as_of=as_of).table
    return hashlib.sha256(repr(table.to_pylist()).encode()).hexdigest()


def test_reports_and_a_held_connection_through_ingests_builds_and_vacuum(
    tmp_path: Path,
) -> None:
    wh = tmp_path / "wh"
    settings = Settings(warehouse=wh)
    exports = []
    for seed in range(3):
        path = tmp_path / f"export{seed}.csv"
        # overlapping days: every ingest after the first merges into existing partitions
        write_call_export(path, legs=800, seed=40 + seed, start=date(2026, 9, 1), days=4)
        exports.append(path)
    load(wh, exports[0])
    build_warehouse(settings)
    con = duckdb.connect()
    log, stop = tmp_path / "held.log", tmp_path / "stop"
    held = subprocess.Popen(
        [sys.executable, "-c", HELD, str(wh / "cdr.duckdb"), str(log), str(stop), QUERY],
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[str] = []
    failures: list[str] = []
    writing = threading.Event()
    writing.set()

    def writer() -> None:
        try:
            for path in exports[1:]:
                proc = run_cdr("--warehouse", str(wh), "-q", "ingest", str(path))  # + build
                assert proc.returncode == 0, proc.stderr
            proc = run_cdr("--warehouse", str(wh), "vacuum")  # grace period: keeps old files
            assert proc.returncode == 0, proc.stderr
        except BaseException as exc:  # reported by the test thread
            failures.append(f"writer: {exc}")
        finally:
            writing.clear()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while writing.is_set() or len(answers) + _lines(log) < MIN_QUERIES:
            try:
                answers.append(_digest(settings))
            except Exception as exc:
                failures.append(f"report: {exc}")
    finally:
        thread.join()
        stop.touch()
        _, err = held.communicate(timeout=60)
    assert held.returncode == 0, err
    assert failures == []
    held_answers = log.read_text().splitlines()
    assert not [a for a in held_answers if a.startswith("FAILED")]
    assert len(answers) + len(held_answers) >= MIN_QUERIES
    # the held connection answered from the version it opened, throughout
    first = repr(con.execute(QUERY.replace("stg_call_legs", _files_of_version(wh, 0))).fetchone())
    assert set(held_answers) == {first}
    # every report answer is the answer of one committed version, and the reader saw the
    # versions change while it read
    versions = {_digest(settings, as_of=v) for v in range(len(exports))}
    assert len(versions) >= 2
    assert [a for a in answers if a not in versions] == [], "an answer matched no version"
    assert len(set(answers)) >= 2


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _files_of_version(wh: Path, version: int) -> str:
    from cdr_pipeline.state.tables import snapshot

    snap = snapshot(wh / "tables" / "call_legs", "call_legs", "call_date", version)
    listed = ", ".join(f"'{f}'" for f in snap.all_files())
    return f"read_parquet([{listed}])"
