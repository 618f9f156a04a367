"""The tables are Delta Lake tables: one commit per table per run, readers of any engine see
the same version, replaced files stay for the grace period, and any version can be read
back (`--as-of`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.reports import run_report
from cdr_pipeline.resources import samples_dir as bundled_samples
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.warehouse import build_warehouse
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.ingest.helpers import (
    LINEAGE,
    cdr_in_process,
    fixture,
    load,
    partition_files,
    run_cdr,
    table,
    unlisted_files,
)

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated exports over 2026-09-01 .. 2026-09-06, written once per module (each
    generation costs about a second whatever its size) and only read: "a" and "b" (1,500
    legs of two seeds, so b brings new rows to every day a loaded) and "big" (3,000 legs)."""
    folder = tmp_path_factory.mktemp("exports")
    made = {}
    for name, legs, seed in (("a", 1500, 1), ("b", 1500, 2), ("big", 3000, 9)):
        made[name] = folder / f"{name}.csv"
        write_call_export(made[name], legs=legs, seed=seed, start=date(2026, 9, 1), days=6)
    return made


def test_each_run_is_one_commit_per_table_and_the_ledger_names_it(wh: Path) -> None:
    load(wh, fixture("overlap_a.csv"))
    load(wh, fixture("overlap_b.csv"))
    history = DeltaTable(str(wh / "tables" / "call_legs")).history()
    assert [h["version"] for h in history] == [1, 0]  # two runs, two commits
    runs = Ledger(Layout(wh)).runs()
    assert runs["table_versions"].to_list() == ["call_legs=0", "call_legs=1"]
    assert {h["cdr.run_id"] for h in history} == set(runs["run_id"].to_list())


def test_polars_deltalake_and_duckdb_read_the_same_version(
    wh: Path, exports: dict[str, Path]
) -> None:
    load(wh, exports["a"])
    load(wh, exports["b"])
    root = str(wh / "tables" / "call_legs")
    ours = table(wh, lineage=True)
    by_polars = pl.scan_delta(root).collect().sort("report_id").select(ours.columns)
    assert by_polars.equals(ours)
    by_deltalake = pl.DataFrame(DeltaTable(root).to_pyarrow_table()).sort("report_id")
    assert by_deltalake.select(ours.columns).equals(ours)
    files = DeltaTable(root).file_uris()
    con = duckdb.connect()
    n = con.execute("select count(*) from read_parquet(?)", [files]).fetchone()
    assert n == (ours.height,)
    # a plain-Parquet reader of the folder sees the replaced files as well (why the README
    # says to read the folder as Delta, not as Parquet)
    everything = pl.read_parquet(sorted(Path(root).rglob("*.parquet")))
    assert everything.height > ours.height


def test_every_written_file_has_one_arrow_type_per_column(
    wh: Path, exports: dict[str, Path]
) -> None:
    """Staged files renamed into place and DuckDB-merged files alike: plain `string`, never
    `string_view` or `large_string`, and the table's column types exactly (DuckDB marks some
    columns required; nullability is not a type)."""
    load(wh, exports["a"], chunk_rows=200)  # interleaved cuts
    load(wh, exports["b"])  # merges
    load(wh, ROOT / "data" / "samples")
    checked = 0
    for name, schema in schemas_by_table().items():
        want = schema.stored_arrow_schema()
        for path in sorted((wh / "tables" / name).rglob("*.parquet")):
            got = pq.read_schema(path)
            types = [(f.name, f.type) for f in got]
            assert types == [(f.name, f.type) for f in want], (path, got)
            checked += 1
    assert checked >= 6


def test_replaced_files_stay_until_vacuum_after_the_grace_period(
    wh: Path, exports: dict[str, Path]
) -> None:
    """The vacuum killed (-9) runs as a process; the vacuum that finishes its work and the
    report after it run in this process."""
    settings = Settings(warehouse=wh)
    load(wh, exports["a"])
    build_warehouse(settings)
    held = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    before = held.execute("select count(*), max(report_id) from stg_call_legs").fetchone()
    first = {v: list(f) for v, f in partition_files(wh).items()}
    load(wh, exports["b"])  # every day gets new rows
    build_warehouse(settings)
    replaced = unlisted_files(wh)
    assert sorted(replaced) == sorted(f for fs in first.values() for f in fs)
    assert vacuum_tables(settings).files == 0  # within the default 24 h: kept
    assert held.execute("select count(*), max(report_id) from stg_call_legs").fetchone() == before
    # a kill -9 in the middle of a vacuum: the next vacuum finishes the work
    killed = run_cdr(
        "--warehouse", str(wh), "vacuum", "--grace-hours", "0", env={"CDR_FAULT_KILL_AT": "vacuum"}
    )
    assert killed.returncode == -9, killed.stderr
    log = sorted((wh / "tables" / "call_legs" / "_delta_log").glob("*.json"))
    done = cdr_in_process("--warehouse", str(wh), "vacuum", "--grace-hours", "0", "--json")
    assert done.exit_code == 0, done.output
    assert unlisted_files(wh) == []
    assert not any(p.exists() for p in replaced)
    assert json.loads(done.stdout)["grace_hours"] == 0
    # deleting files is no new version: none that no run made, none that the views lag
    assert sorted((wh / "tables" / "call_legs" / "_delta_log").glob("*.json")) == log
    # the current version is whole (the held connection is closed first: in one process
    # DuckDB hands a new connection to an open file the same database instance; so is the
    # report's, run in this process)
    held.close()
    report = cdr_in_process("--warehouse", str(wh), "report", "hourly-volume", "--format", "csv")
    assert report.exit_code == 0 and "the views read" not in report.stderr, report.output
    fresh = duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)
    assert fresh.execute("select count(*) from stg_call_legs").fetchone() == (table(wh).height,)


def test_report_as_of_a_version_answers_from_the_tables_as_they_were(
    wh: Path, tmp_path: Path, exports: dict[str, Path]
) -> None:
    """`cdr` runs in this process (click's runner): its exit codes and stderr are what is
    checked, not a process's."""
    settings = Settings(warehouse=wh)
    a, b = exports["a"], exports["b"]
    assert cdr_in_process("--warehouse", str(wh), "-q", "ingest", str(a)).exit_code == 0
    then = run_report(settings, "hourly-volume")  # ingest rebuilt the views
    assert cdr_in_process("--warehouse", str(wh), "-q", "ingest", str(b)).exit_code == 0
    now = run_report(settings, "hourly-volume")
    assert now.table != then.table
    assert run_report(settings, "hourly-volume", as_of=0).table == then.table
    assert run_report(settings, "hourly-volume", as_of="1").table == now.table
    # the CLI: by version, and by a time after the first commit and before the second
    first_commit = DeltaTable(str(wh / "tables" / "call_legs")).history()[-1]["timestamp"]
    moment = datetime.fromtimestamp((first_commit + 1) / 1000, UTC).isoformat()
    out = tmp_path / "then.csv"
    proc = cdr_in_process(
        "--warehouse", str(wh), "report", "hourly-volume", "--as-of", moment,
        "--format", "csv", "--out", str(out),
    )  # fmt: skip
    assert proc.exit_code == 0, proc.output
    assert pl.read_csv(out).height == then.row_count
    bad = cdr_in_process("--warehouse", str(wh), "report", "hourly-volume", "--as-of", "99")
    assert bad.exit_code == 3 and "no version 99" in bad.stderr
    assert set(LINEAGE) <= set(table(wh, lineage=True).columns)


def test_as_of_a_version_includes_every_table_the_same_run_committed(wh: Path) -> None:
    """A run commits its tables one after the other (milliseconds apart): `--as-of 0` is
    the state that run left, its device data and entitlements included, not call_legs
    alone (the demo's licence report as of version 0 came out empty)."""
    samples = bundled_samples()
    devices, bought = samples / "device_snapshots.csv", samples / "entitlements.csv"
    load(wh, fixture("overlap_a.csv"), devices, bought)
    load(wh, fixture("overlap_b.csv"), samples / "entitlements_amendment.csv")
    first, second = (
        {name: snap.version for name, snap in table_snapshots(Settings(warehouse=wh), v).items()}
        for v in (0, 1)
    )
    assert first["call_legs"] == 0 and first["device_snapshots"] == 0
    assert first["entitlements"] == 0  # committed after call_legs by the same run
    assert second == {**first, "call_legs": 1, "entitlements": 1}
    runs = Ledger(Layout(wh)).runs()["table_versions"].to_list()
    assert runs == [
        "call_legs=0,device_snapshots=0,entitlements=0",
        "call_legs=1,entitlements=1",
    ]


def test_ctrl_c_is_recorded_interrupted_and_nothing_uncommitted_counts(
    wh: Path, exports: dict[str, Path]
) -> None:
    src = exports["big"]

    def interrupt(event: object) -> None:
        raise KeyboardInterrupt

    settings = Settings(warehouse=wh, chunk_rows=500)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(settings, [src], progress=interrupt)
    runs = Ledger(Layout(wh)).runs()
    assert runs.select("status", "exit_code").rows() == [("interrupted", 130)]
    assert table(wh).height == 0 and unlisted_files(wh) == []
    again = load(wh, src)
    assert again.files[0].rows_loaded == 3000


def test_validation_results_name_the_versions_they_checked(
    wh: Path, exports: dict[str, Path]
) -> None:
    from cdr_pipeline.quality import validate_warehouse

    load(wh, exports["a"])
    load(wh, ROOT / "data" / "samples" / "entitlements.csv")
    report = validate_warehouse(Settings(warehouse=wh), "all")
    assert report.table_versions == {"call_legs": 0, "entitlements": 0}
    recorded = Ledger(Layout(wh)).read("validations")["table_versions"].unique().to_list()
    assert recorded == ["call_legs=0,entitlements=0"]


def test_vacuum_keeps_an_old_file_replaced_recently_and_drops_old_orphans(
    wh: Path, exports: dict[str, Path]
) -> None:
    """The grace period runs from the replacement, not from the file's age: a day's file
    written days ago and replaced a minute ago stays; a file no commit lists and older than
    the grace period goes."""
    import os
    import time as clock

    load(wh, exports["a"])
    days_ago = clock.time() - 3 * 86400
    first = [f for fs in partition_files(wh).values() for f in fs]
    for f in first:
        os.utime(f, (days_ago, days_ago))
    load(wh, exports["b"])  # replaces every day's file
    orphan = first[0].with_name("part-dead-run-0-000000000000.parquet")
    orphan.write_bytes(first[0].read_bytes())
    os.utime(orphan, (days_ago, days_ago))
    result = vacuum_tables(Settings(warehouse=wh))
    assert result.deleted["call_legs"] == [str(orphan.relative_to(wh / "tables" / "call_legs"))]
    assert all(f.exists() for f in first)


def test_an_index_write_killed_midway_leaves_no_temp_file_for_good(wh: Path) -> None:
    """A run killed while writing the key index of its version left `.v<N>-….parquet.tmp`
    in state/index/; the next version's index had another name, and nothing deleted it."""
    load(wh, fixture("overlap_a.csv"))
    load(wh, fixture("overlap_b.csv"))
    folder = Layout(wh).index_folder("call_legs")
    stale = folder / ".v0-duckdb0.0.0.parquet.tmp"
    stale.write_bytes(b"half an index")
    assert load(wh, fixture("quoted_fields.csv")).table_versions == {"call_legs": 2}
    assert not stale.exists()
    assert [p.name.split("-")[0] for p in folder.iterdir()] == ["v2"]


def test_commits_never_delete_the_log_entries_of_older_versions(tmp_path: Path) -> None:
    """delta-rs's post-commit hook deleted the log entries older than the table's log
    retention (30 days by default) whenever it wrote a checkpoint (every 100 commits):
    after months of nightly loads `--as-of` a version or moment of those entries read
    call_legs as not existing yet, and reports answered with no calls and exit 0. The
    table here checkpoints every 2 commits and keeps its log for no time at all."""
    import pyarrow as pa
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import create_table_with_add_actions

    from cdr_pipeline.state import tables

    root = tmp_path / "t"
    schema = pa.schema([("x", pa.int64())])
    fast = {"delta.checkpointInterval": "2", "delta.logRetentionDuration": "interval 0 seconds"}
    create_table_with_add_actions(str(root), DeltaSchema.from_arrow(schema), [], configuration=fast)
    for i in range(4):
        path = root / f"part-{i}.parquet"
        pq.write_table(pa.table({"x": [i]}, schema=schema), path)
        tables.commit(root, schema, None, {tables.UNPARTITIONED: [path]}, [], f"run-{i}")
    assert any(p.name.endswith(".checkpoint.parquet") for p in (root / "_delta_log").iterdir())
    assert tables.log_versions(root) == [0, 1, 2, 3, 4]
    first = tables.commit_time(root, 1)
    assert first is not None and tables.version_at(root, first) == 1
    assert DeltaTable(str(root), version=1).to_pyarrow_table()["x"].to_pylist() == [0]


def test_the_readme_readers_run_as_written_on_a_demo_warehouse(
    sample_wh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Storage: Delta Lake tables": its polars / deltalake / DuckDB block, copied as
    written beside the warehouse `cdr demo` makes (one load: call_legs version 0 only),
    stopped at `version=3` with delta-rs's "LogSegment end version 0 not the same as the
    specified end version 3". Every reader in it now runs, and they agree."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Storage: Delta Lake tables", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert DeltaTable(str(sample_wh.layout.tables / "call_legs")).version() == 0
    monkeypatch.chdir(sample_wh.warehouse.parent)  # the block names `warehouse/...`
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)  # the README's own code, as written
    legs = scope["legs"]
    assert isinstance(legs, pl.LazyFrame)
    table = scope["table"]
    assert isinstance(table, pa.Table)
    assert legs.select(pl.len()).collect().item() == table.num_rows > 0


def test_vacuum_removes_the_day_folders_retention_emptied(wh: Path, tmp_path: Path) -> None:
    """Retention drops one day of call legs a night and vacuum deleted its files, but left
    its `call_date=` folder: a warehouse of years held a folder for every day it ever
    dropped, and `ls tables/call_legs` looked as if retention had never run."""
    from cdr_pipeline.ingest.retention import apply_retention

    settings = Settings(warehouse=wh)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for seed, path in ((3, a), (4, b)):  # call dates 2026-09-01 .. 2026-09-06 alone
        write_call_export(path, legs=600, seed=seed, start=date(2026, 9, 1), days=6)
    load(wh, a)
    days = {p.name for p in (wh / "tables" / "call_legs").glob("call_date=*")}
    assert len(days) == 6
    dropped = apply_retention(settings, 32, "retention-run", today=date(2026, 10, 6))
    assert dropped.dropped
    assert vacuum_tables(settings, grace_hours=1).files == 0  # replaced just now: kept
    assert {p.name for p in (wh / "tables" / "call_legs").glob("call_date=*")} == days
    assert vacuum_tables(settings, grace_hours=0, dry_run=True).files
    assert {p.name for p in (wh / "tables" / "call_legs").glob("call_date=*")} == days
    assert vacuum_tables(settings, grace_hours=0).files
    left = {p.name for p in (wh / "tables" / "call_legs").glob("call_date=*")}
    assert left == {f"call_date={d}" for d in ("2026-09-04", "2026-09-05", "2026-09-06")}
    assert all(any(p.iterdir()) for p in (wh / "tables" / "call_legs").glob("call_date=*"))
    assert table(wh)["call_date"].n_unique() == 3
    load(wh, b)  # a day's folder is made again when needed
    assert table(wh)["call_date"].n_unique() == 6
