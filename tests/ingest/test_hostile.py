"""Acceptance: every hostile input of the corpus, loaded as `cdr ingest BAD... GOOD` in a
fresh process (one per group of cases) under an address-space limit and a timeout, ends with
exit 0 or 3; each stream of each case is either accounted for record by record or failed as
a whole (none of its rows published); GOOD loads fully; nothing outside the warehouse is
written; no raw ESC/BEL byte reaches the terminal; and peak memory stays within the ingest
ceiling (1 GiB)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import fixture, table
from tests.ingest.hostile_corpus import Accepted, Case, Failed, cases

ADDRESS_SPACE = 4 * 1024**3
"""RLIMIT_AS of the ingest process. polars, Arrow and DuckDB reserve (not use) about 2.5 GiB
of address space for their thread pools and arenas at start; 4 GiB still stops any input
that tries to build what the nesting bomb did (22 GB) long before the machine suffers."""
RSS_CEILING_KIB = 1024 * 1024
TIMEOUT_S = 120
GOOD_ROWS = 6


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_limited(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes, int]:
    """Run `cdr ARGS`; returns exit code, stdout+stderr, and the peak RSS (KiB) of the process
    alone (wait4's rusage, not the test's other children)."""
    with open(cwd / ".out", "wb+") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cdr_pipeline", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_limits,
        )
        timer = threading.Timer(TIMEOUT_S, proc.send_signal, [signal.SIGKILL])
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    (cwd / ".out").unlink()
    return proc.returncode, text, usage.ru_maxrss


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and skip not in p.parents
    }


def _group(case: Case) -> str:
    """The corpus runs in three processes, by the reader a case attacks: one process per
    case spent most of its time starting Python and building the views (about 3 s a case).
    In one run the cases are also files that must fail alone beside each other."""
    if case.name.startswith("json"):
        return "json"
    if case.name.startswith(("gzip", "zip", "xz", "packed")) or "tar" in case.name:
        return "archives"
    return "csv"


GROUPS = sorted({_group(c) for c in cases()})


@pytest.mark.parametrize("group", GROUPS)
def test_hostile_input_is_contained(group: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    chosen = [c for c in cases() if _group(c) == group]
    bad: dict[str, Path] = {}
    for case in chosen:
        folder = work / case.name  # each case in a folder of its own: names may repeat
        folder.mkdir()
        bad[case.name] = case.build(folder)
    good = work / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    wh = work / "warehouse"
    before = _snapshot(work, wh)
    env = {**os.environ, "HOME": str(work / "home"), "TMPDIR": str(work / "home")}
    env.pop("CDR_CONFIG", None)
    env.pop("CDR_WAREHOUSE", None)
    args = ["--warehouse", str(wh), "ingest", "--max-reject-rate", "1"]
    t0 = time.monotonic()
    code, output, rss_kib = run_limited([*args, *map(str, bad.values()), str(good)], work, env)
    seconds = time.monotonic() - t0
    shown = output.decode(errors="replace")[-3000:]
    assert code in (0, 3), shown
    assert seconds < TIMEOUT_S
    assert rss_kib <= RSS_CEILING_KIB, f"peak RSS {rss_kib // 1024} MiB"
    assert b"Traceback" not in output
    # nothing written outside the warehouse (inputs untouched, no stray temp files)
    assert _snapshot(work, wh) == before
    assert not any((work / "home").iterdir())

    by_source = {r["source"]: r for r in Ledger(Layout(wh)).files().to_dicts()}
    loaded = table(wh, lineage=True)
    per_source = dict(loaded.group_by("source_file").len().rows()) if loaded.height else {}
    for case in chosen:
        path = str(bad[case.name])
        got = {
            s.partition("!")[2]: r
            for s, r in by_source.items()
            if s == path or s.startswith(path + "!")
        }
        assert set(got) == set(case.expect), (case.name, got.keys())
        for key, expect in case.expect.items():
            r = got[key]
            where = (case.name, key, r["message"])
            if isinstance(expect, Accepted):
                assert r["status"] == "loaded", where
                assert r["rows_read"] == expect.records, where
                assert r["rows_read"] == r["rows_loaded"] + r["rows_duplicate"] + r["rows_rejected"]
                assert per_source.get(r["source"], 0) == r["rows_loaded"], where
            else:
                assert isinstance(expect, Failed)
                assert r["status"] == "failed", where
                assert expect.words in r["message"], where
                assert "None" not in r["message"], where
                assert per_source.get(r["source"], 0) == 0, where  # none of its rows published
    failed = any(isinstance(e, Failed) for c in chosen for e in c.expect.values())
    assert code == (3 if failed else 0), shown
    # GOOD loads fully whatever came before it
    g = by_source[str(good)]
    assert (g["status"], g["rows_loaded"]) == ("loaded", GOOD_ROWS)
    assert per_source[str(good)] == GOOD_ROWS
    # no raw terminal control bytes in anything shown
    assert b"\x1b" not in output and b"\x07" not in output


def test_hostile_files_in_the_nightly_inbox_fail_alone(tmp_path: Path) -> None:
    from datetime import date

    from cdr_pipeline.batch import run_nightly
    from cdr_pipeline.config import Settings

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    chosen = {"gzip_truncated", "json_nesting_100k", "zip_members", "stray_quote"}
    for case in cases():
        if case.name in chosen:
            case.build(inbox)
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    settings = Settings(warehouse=tmp_path / "wh", max_reject_rate=1.0)
    summary = run_nightly(settings, inbox, run_date=date(2026, 11, 2))
    assert summary.ingest is not None
    by_source = {Path(f.source).name: f for f in summary.ingest.files}
    assert summary.stage("ingest").exit_code == 3  # type: ignore[union-attr]
    assert by_source["good.csv"].rows_loaded == GOOD_ROWS
    assert by_source["stray.csv"].status == "loaded"
    assert by_source["members.zip!good.csv"].rows_loaded == 20
    assert {by_source[n].status for n in ("cut.csv.gz", "deep.json")} == {"failed"}
    names = [s.name for s in summary.stages]
    assert names.index("ingest") < names.index("reports")  # later stages still ran


def test_a_pipe_or_a_device_given_by_name_fails_alone_at_once(tmp_path: Path) -> None:
    """A named pipe nobody writes to blocks an open for ever, and `/dev/zero` never ends: each
    is refused as no file (exit 3, saying what it is), and the good file beside it loads."""
    pipe = tmp_path / "export.csv"
    os.mkfifo(pipe)
    good = tmp_path / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    env = {k: v for k, v in os.environ.items() if k not in ("CDR_CONFIG", "CDR_WAREHOUSE")}
    args = ["--warehouse", str(tmp_path / "wh"), "ingest", str(pipe), "/dev/zero", str(good)]
    t0 = time.monotonic()
    code, text, _ = run_limited(args, tmp_path, env)
    out = text.decode()
    assert code == 3, out
    assert time.monotonic() - t0 < TIMEOUT_S / 2  # not ended by the timer's kill
    assert "a named pipe, not a file" in out and "a character device, not a file" in out
    assert Ledger(Layout(tmp_path / "wh")).files()["rows_loaded"].sum() == GOOD_ROWS


def test_a_link_that_leads_nowhere_is_named_as_such(tmp_path: Path) -> None:
    """Named on the command line, a link to nothing fails alone, as a file without read
    permission does (it stopped the run, and the nightly, which names each file of its
    inbox, loaded nothing for it); a path that names nothing still stops the run."""
    from cdr_pipeline.errors import InputError
    from cdr_pipeline.ingest.run import expand_paths
    from tests.ingest.helpers import load

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "gone").symlink_to(tmp_path / "missing.csv")
    good = tmp_path / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    links = [tmp_path / "a", tmp_path / "gone"]
    result = load(tmp_path / "wh", links[0], good, links[1])
    assert result.exit_code == 3
    assert [f.status for f in result.files] == ["failed", "loaded", "failed"]
    for f in (result.files[0], result.files[2]):
        assert "a symbolic link that leads nowhere" in f.message
    with pytest.raises(InputError, match="no such file or folder"):
        expand_paths([tmp_path / "missing.csv"])


def test_a_link_that_leads_nowhere_in_a_folder_fails_alone(tmp_path: Path) -> None:
    """A folder's walk passed over a link to a moved export (or links that loop): the run
    loaded the rest and exited 0, the export the link stood for never loaded and nothing
    said so. Each such link now fails alone, named as what it is; the good file loads, and
    a link to a folder (here, one that loops back to the inbox) is still not walked."""
    from tests.ingest.helpers import load

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    (inbox / "moved.csv").symlink_to(tmp_path / "exports" / "dch.csv")
    (inbox / "a.csv").symlink_to(inbox / "b.csv")
    (inbox / "b.csv").symlink_to(inbox / "a.csv")
    (inbox / "up").symlink_to(inbox, target_is_directory=True)
    result = load(tmp_path / "wh", inbox)
    by_name = {Path(f.source).name: f for f in result.files}
    assert sorted(by_name) == ["a.csv", "b.csv", "good.csv", "moved.csv"]
    assert result.exit_code == 3 and by_name["good.csv"].rows_loaded == GOOD_ROWS
    for name in ("a.csv", "b.csv", "moved.csv"):
        assert by_name[name].status == "failed"
        assert "a symbolic link that leads nowhere" in by_name[name].message
    assert table(tmp_path / "wh").height == GOOD_ROWS
