"""Environment failures: a full disk or a read-only warehouse ends with exit 6, a message
naming the path and what to free, and committed data exactly as it was; `--debug` adds a
traceback without changing the exit code.

As root the tests mount a real small tmpfs (and remount it read-only); without root they fall
back to what an unprivileged user can do: RLIMIT_FSIZE for a full disk (EFBIG, the write
fails like ENOSPC would) and a warehouse without write permission (EACCES)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.samples import write_call_export
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import ROOT, cdr_in_process, fixture, table

ROOT_USER = os.geteuid() == 0


def cdr(*args: str, preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CDR_CONFIG", "CDR_WAREHOUSE")}
    return subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        preexec_fn=preexec,
    )


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of `size` at `path` when this process may mount one; yields whether it did."""
    path.mkdir(parents=True)
    mounted = (
        ROOT_USER
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=True)


def committed(wh: Path) -> dict[str, str]:
    """Digest of every committed file (tables and rejects)."""
    return {
        str(p.relative_to(wh)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("tables", "rejects")
        for p in sorted((wh / sub).rglob("*"))
        if p.is_file()
    }


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system of `disk` until `leave` bytes are free."""
    filler = disk / "filler"
    # unbuffered: a write that fails half-way leaves nothing for close() to flush (a
    # buffered file would raise ENOSPC again when it closes)
    with open(filler, "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    os.truncate(filler, max(0, filler.stat().st_size - max(0, leave - free)))
    return filler


def _fsize_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))


@pytest.fixture
def big_export(tmp_path: Path) -> Path:
    src = tmp_path / "big.csv"
    write_call_export(src, legs=20_000, seed=5, start=date(2026, 9, 1), days=3)
    return src


def test_full_disk_exits_6_and_keeps_committed_data(tmp_path: Path, big_export: Path) -> None:
    with small_disk(tmp_path / "disk", "16m") as mounted:
        wh = tmp_path / "disk" / "wh"
        first = cdr("--warehouse", str(wh), "ingest", str(fixture("bom_crlf.csv")))
        assert first.returncode == 0, first.stderr
        before, rows_before = committed(wh), table(wh, lineage=True)
        filler = fill(tmp_path / "disk", 96 * 1024) if mounted else None
        preexec = None if mounted else _fsize_limit
        for debug in (["--debug"], []):
            run = cdr(*debug, "--warehouse", str(wh), "ingest", str(big_export), preexec=preexec)
            assert run.returncode == 6, run.stderr
            if mounted:
                assert "no space left writing" in run.stderr
                assert "hint: free space on the disk holding" in run.stderr
            else:
                assert "the file size limit stops writing" in run.stderr
            assert str(wh) in run.stderr
            assert ("Traceback" in run.stderr) == bool(debug)
            assert committed(wh) == before
            assert table(wh, lineage=True).equals(rows_before)
        # the ledger still reads, and once there is room the same command just works
        assert Ledger(Layout(wh)).runs().height >= 2
        if filler is not None:
            filler.unlink()
        again = cdr("--warehouse", str(wh), "ingest", str(big_export))
        assert again.returncode == 0, again.stderr
        assert table(wh).height == 6 + 20_000


def test_a_night_on_a_full_disk_says_which_stages_failed(tmp_path: Path) -> None:
    """A full disk while Great Expectations writes Data Docs ended the night outside its
    stages: no stage table (the summary log got nothing), an error naming only the
    warehouse, and GX's traceback on stderr once per page it could not write."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with small_disk(tmp_path / "disk", "16m") as mounted:
        wh = tmp_path / "disk" / "wh"
        first = cdr("--warehouse", str(wh), "ingest", str(fixture("bom_crlf.csv")))
        assert first.returncode == 0, first.stderr  # loaded, not yet validated
        if mounted:
            fill(tmp_path / "disk", 96 * 1024)
        preexec = None if mounted else _fsize_limit
        night = cdr("--warehouse", str(wh), "nightly", "--inbox", str(inbox), preexec=preexec)
        assert night.returncode == 6, night.stderr
        stages = {line.split()[0]: line.split()[1] for line in night.stdout.splitlines()[2:-1]}
        assert stages["validate"] == "6", night.stdout
        assert "vacuum" in stages  # the night went on to its later stages
        assert str(wh / "quality") in night.stdout
        assert "Traceback" not in night.stderr
        assert "data docs rendering" not in night.stderr
        runs = cdr("--warehouse", str(wh), "runs")
        assert runs.returncode == 0, runs.stderr
        assert "validate: failed:" in runs.stdout


def test_read_only_warehouse_exits_6(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "16m") as mounted:
        wh = tmp_path / "disk" / "wh"
        assert cdr("--warehouse", str(wh), "ingest", str(fixture("bom_crlf.csv"))).returncode == 0
        before = committed(wh)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "disk")], check=True)
            words = "the file system is read-only"
        else:  # an unprivileged user cannot remount; a warehouse without write access
            for p in [wh, *wh.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
            words = "permission denied writing"
        try:
            for debug in (["--debug"], []):
                run = cdr(*debug, "--warehouse", str(wh), "ingest", str(fixture("gzipped.csv.gz")))
                assert run.returncode == 6, run.stderr
                assert words in run.stderr and str(wh) in run.stderr
                assert ("Traceback" in run.stderr) == bool(debug)
            assert committed(wh) == before
        finally:
            if mounted:
                subprocess.run(["mount", "-o", "remount,rw", str(tmp_path / "disk")], check=True)
            else:
                for p in [wh, *wh.rglob("*")]:
                    p.chmod(p.stat().st_mode | 0o200)


def test_dry_runs_need_no_write_access(tmp_path: Path) -> None:
    """`nightly --dry-run` and `vacuum --dry-run` on a read-only warehouse exited 6: they
    created their lock file. A plan writes nothing, so it works where the files only read."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "new.csv").write_bytes(fixture("gzipped.csv.gz").read_bytes())
    with small_disk(tmp_path / "disk", "16m") as mounted:
        wh = tmp_path / "disk" / "wh"
        assert cdr("--warehouse", str(wh), "ingest", str(fixture("bom_crlf.csv"))).returncode == 0
        (wh / "state" / "nightly.lock").unlink(missing_ok=True)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "disk")], check=True)
        else:
            for p in [wh, *wh.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
        try:
            plan = cdr("--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--dry-run")
            assert plan.returncode == 0, plan.stderr
            assert "new.csv" in plan.stdout and "ingest 1 new file(s) of 1" in plan.stdout
            vacuum = cdr("--warehouse", str(wh), "vacuum", "--dry-run")
            assert vacuum.returncode == 0, vacuum.stderr
            assert "would delete 0 file(s)" in vacuum.stderr
        finally:
            if mounted:
                subprocess.run(["mount", "-o", "remount,rw", str(tmp_path / "disk")], check=True)
            else:
                for p in [wh, *wh.rglob("*")]:
                    p.chmod(p.stat().st_mode | 0o200)


def test_debug_never_changes_the_exit_code_of_bad_input(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    for debug in (["--debug"], []):
        run = cdr(*debug, "--warehouse", str(wh), "ingest", str(tmp_path / "missing.csv"))
        assert run.returncode == 3, run.stderr
        assert "no such file or folder" in run.stderr
        assert ("Traceback" in run.stderr) == bool(debug)


def _small_files() -> None:
    """Files of at most 1 MiB: a small CSV's Parquet and the ledger fit, a copy of
    cdr.duckdb (4 MB with its views and tables) does not."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def _view_rows(wh: Path) -> int:
    import duckdb

    with duckdb.connect(str(wh / "cdr.duckdb"), read_only=True) as con:
        row = con.execute("select count(*) from fct_call_legs").fetchone()
    assert row is not None
    return int(row[0])


def test_views_a_failed_refresh_left_behind_are_caught_up_by_the_next_ingest(
    tmp_path: Path,
) -> None:
    """The load commits, then the refresh of the views at the end of `cdr ingest` cannot
    write (here: a file size limit; a full disk fails the same way): exit 6, the ledger row
    says so, and running the same command again (its file is now skipped, nothing new
    commits) brings the views to the committed version instead of leaving them behind."""
    wh = tmp_path / "wh"
    assert cdr("--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv"))).returncode == 0
    assert (wh / "cdr.duckdb").stat().st_size > 1 << 20  # else the limit would not bite
    before = _view_rows(wh)
    args = ("--warehouse", str(wh), "ingest", str(fixture("overlap_b.csv")))
    run = cdr(*args, preexec=_small_files)
    assert run.returncode == 6, run.stderr
    assert "error: the views were not rebuilt: the file size limit stops writing" in run.stderr
    assert "cdr build (or the next ingest) brings the views up to date" in run.stderr
    last = Ledger(Layout(wh)).runs().row(-1, named=True)
    assert last["exit_code"] == 6 and last["files_loaded"] == 1
    assert "the views were not rebuilt" in last["message"]
    assert _view_rows(wh) == before < table(wh).height  # the data is committed, the views lag
    # a reader is told its answers leave the committed load out, and what to run
    report = cdr("--warehouse", str(wh), "report", "hourly-volume", "--format", "csv")
    assert report.returncode == 0, report.stderr
    assert "the views read call_legs=0, the tables hold call_legs=1" in report.stderr
    assert "did not finish; run cdr build" in report.stderr
    again = cdr(*args)
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stderr
    assert _view_rows(wh) == table(wh).height
    report = cdr("--warehouse", str(wh), "report", "hourly-volume", "--format", "csv")
    assert report.returncode == 0 and "the views read" not in report.stderr, report.stderr
    # and an ingest that changes nothing while the views are current does not rebuild them
    mtime = (wh / "cdr.duckdb").stat().st_mtime_ns
    assert cdr(*args).returncode == 0
    assert (wh / "cdr.duckdb").stat().st_mtime_ns == mtime


def test_a_damaged_table_log_exits_6_naming_it_and_restoring_it_recovers(tmp_path: Path) -> None:
    """A Delta log entry that no longer parses (a disk fault, an edit by hand) is the
    warehouse's problem, not a bug: exit 6 naming the log and what to restore, no table
    changed, reports still answer from cdr.duckdb, and a restored log just works. No
    limit of the environment is involved: `cdr` runs in this process (click's runner)."""
    wh = tmp_path / "wh"
    first = cdr_in_process("--warehouse", str(wh), "ingest", str(fixture("overlap_a.csv")))
    assert first.exit_code == 0, first.output
    entry = wh / "tables" / "call_legs" / "_delta_log" / f"{0:020d}.json"
    good = entry.read_bytes()
    entry.write_bytes(b"garbage{" + good[:100])
    run = cdr_in_process("--warehouse", str(wh), "ingest", str(fixture("overlap_b.csv")))
    assert run.exit_code == 6, run.output
    assert f"the Delta log of {wh / 'tables' / 'call_legs'} cannot be read" in run.stderr
    assert "restore" in run.stderr and "error: unexpected" not in run.stderr
    assert sorted(p.name for p in entry.parent.glob("*.json")) == [entry.name]  # no commit
    report = cdr_in_process("--warehouse", str(wh), "report", "hourly-volume", "--format", "csv")
    assert report.exit_code == 0, report.output
    entry.write_bytes(good)
    again = cdr_in_process("--warehouse", str(wh), "ingest", str(fixture("overlap_b.csv")))
    assert again.exit_code == 0, again.output
    assert table(wh).height == 7


def _no_file_growth() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_vacuum_frees_space_on_a_disk_with_none_left(tmp_path: Path) -> None:
    """The lock wrote who holds it before anything else, so on a disk with no byte left
    `cdr vacuum` (and the nightly's vacuum stage) exited 6 without deleting the replaced
    files that would have freed the space."""
    exports = [tmp_path / f"day_{seed}.csv" for seed in (1, 2)]
    for seed, path in enumerate(exports, 1):
        write_call_export(path, legs=300, seed=seed, start=date(2026, 9, 1), days=1)
    with small_disk(tmp_path / "disk", "16m") as mounted:
        wh = tmp_path / "disk" / "wh"
        for path in exports:  # the second merges into the first's partition: replaced
            load = cdr("--warehouse", str(wh), "ingest", str(path))
            assert load.returncode == 0, load.stderr
        data_files = lambda: sorted((wh / "tables" / "call_legs").rglob("*.parquet"))  # noqa: E731
        before = data_files()
        if mounted:
            fill(tmp_path / "disk", 0)
        preexec = None if mounted else _no_file_growth
        run = cdr("--warehouse", str(wh), "vacuum", "--grace-hours", "0", preexec=preexec)
        assert run.returncode == 0, run.stderr
        assert "call_legs: deleted" in run.stdout
        assert len(data_files()) < len(before)


def test_too_few_open_files_for_a_file_of_many_days_exits_6_naming_the_limit(
    tmp_path: Path,
) -> None:
    """Each day of a file is staged with a file of its own held open: 150 days under a
    limit of 100 open files ended as 'cannot read file' (the input blamed, exit 3) or, in
    the merge, as 'unexpected IOException' (exit 1). It is the job's limit, as a full disk
    is the machine's: exit 6, saying which limit, and nothing is committed."""
    src, wh = tmp_path / "months.csv", tmp_path / "wh"
    write_call_export(src, legs=600, seed=7, start=date(2026, 1, 1), days=150)

    def few_files() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard))

    run = cdr("--warehouse", str(wh), "ingest", str(src), preexec=few_files)
    assert run.returncode == 6, run.stderr
    assert "too many open files" in run.stderr and "ulimit -n" in run.stderr, run.stderr
    assert "report it" not in run.stderr and "cannot read file" not in run.stderr
    assert committed(wh) == {}
    again = cdr("--warehouse", str(wh), "ingest", str(src))
    assert again.returncode == 0, again.stderr
    legs = table(wh)
    assert legs.height == 600 and legs["call_date"].n_unique() > 100  # more than the limit
