"""Files and folders this process may not read (a copy that kept another user's mode, an
upload still owned by the uploader): each fails on its own, named, with exit 3; the files
beside it load. The commands run without the override that lets root read anything, so the
tests mean the same as root and as any other user."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.results import ProgressEvent
from tests.ingest.helpers import (
    fixture,
    load,
    partition_files,
    run_unprivileged,
    settings,
    table,
    unreadable_copy,
)

GOOD_ROWS = 6


def test_a_file_without_read_permission_named_on_the_command_line_fails_alone(
    tmp_path: Path,
) -> None:
    wh = tmp_path / "wh"
    locked = unreadable_copy(fixture("overlap_a.csv"), tmp_path / "locked.csv")
    good = tmp_path / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    run = run_unprivileged("--warehouse", str(wh), "ingest", str(locked), str(good))
    assert run.returncode == 3, run.stderr
    assert f"{locked}: cannot read file: Permission denied" in run.stderr
    # what to try, as every other error of a file says: without it a nightly's log named
    # the file and nothing an operator could do about it
    assert f"check its owner and mode (ls -l {locked})" in run.stderr
    assert table(wh).height == GOOD_ROWS


def test_every_file_the_run_could_not_read_is_in_the_ledger(tmp_path: Path) -> None:
    """`cdr runs --files` is where a nightly's operator looks for what failed: a file without
    read permission, a named pipe and a device are listed there as failed, with the reason,
    as a file with a bad header is, not only counted in the run's row."""
    from cdr_pipeline.state.layout import Layout
    from cdr_pipeline.state.ledger import Ledger

    wh = tmp_path / "wh"
    locked = unreadable_copy(fixture("overlap_a.csv"), tmp_path / "locked.csv")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    good = tmp_path / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    args = ["--warehouse", str(wh), "ingest", str(locked), str(pipe), "/dev/zero", str(good)]
    run = run_unprivileged(*args)
    assert run.returncode == 3, run.stderr
    files = Ledger(Layout(wh)).files()
    failed = dict(files.filter(files["status"] == "failed").select("source", "message").rows())
    assert set(failed) == {str(locked), str(pipe), "/dev/zero"}
    assert "Permission denied" in failed[str(locked)]
    assert "a named pipe, not a file" in failed[str(pipe)]
    assert "a character device, not a file" in failed["/dev/zero"]
    listed = run_unprivileged("--warehouse", str(wh), "runs", "--files", "--json")
    assert listed.returncode == 0, listed.stderr
    assert str(locked) in listed.stdout and "/dev/zero" in listed.stdout
    assert files.filter(files["status"] == "loaded")["rows_loaded"].sum() == GOOD_ROWS


def test_a_folder_that_cannot_be_listed_fails_alone_not_silently(tmp_path: Path) -> None:
    """A subfolder of the inbox the user may not list was passed over without a word (exit 0),
    and its exports were never loaded. It fails on its own (exit 3, named, in the ledger);
    the files beside it load."""
    from cdr_pipeline.state.layout import Layout
    from cdr_pipeline.state.ledger import Ledger

    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    locked = inbox / "2026-10"
    locked.mkdir(parents=True)
    shutil.copyfile(fixture("overlap_b.csv"), locked / "export.csv")
    locked.chmod(0)
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    try:
        run = run_unprivileged("--warehouse", str(wh), "ingest", str(inbox))
    finally:
        locked.chmod(0o700)
    assert run.returncode == 3, run.stderr
    assert f"{locked}: cannot read file: a folder that cannot be listed" in run.stderr
    assert "Permission denied" in run.stderr
    assert table(wh).height == GOOD_ROWS
    files = Ledger(Layout(wh)).files()
    assert files.filter(files["status"] == "failed")["source"].to_list() == [str(locked)]


def test_a_warehouse_file_cdr_may_not_read_is_named_as_a_read(tmp_path: Path) -> None:
    """A table data file, a ledger record, a Delta log entry or a partition folder this
    user may not read (mode 000, another owner) stopped `cdr build` with exit 6 saying
    "permission denied writing" and a hint about write access, though it was a read: the
    operator fixed the wrong thing."""
    from cdr_pipeline.state.ledger_files import live_files

    wh = tmp_path / "wh"
    load(wh, fixture("bom_crlf.csv"))
    victim = next(iter(partition_files(wh).values()))[0]
    record = live_files(wh / "state" / "ledger" / "files")[0]
    entry = wh / "tables" / "call_legs" / "_delta_log" / f"{0:020d}.json"
    cases = [(victim, victim), (record, record), (entry, entry), (victim.parent, victim)]
    for path, named in cases:  # the partition's folder: the file it holds is named
        mode = path.stat().st_mode
        path.chmod(0)
        run = run_unprivileged("--warehouse", str(wh), "build")
        path.chmod(mode)
        assert run.returncode == 6, run.stderr
        assert f"permission denied reading {named}" in run.stderr, run.stderr
        assert f"ls -l {named}" in run.stderr and "read access" in run.stderr
        assert "writing" not in run.stderr and "write access" not in run.stderr


def test_a_folder_nested_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    """An inbox holding folders nested a thousand deep (a sync client's loop, or anyone who
    may write there) ended `cdr ingest` and the nightly as a bug (exit 1, RecursionError:
    the walk recursed once per level) and nothing loaded. The walk keeps its own stack: every
    file loads, the one at the bottom too."""
    import sys

    from cdr_pipeline.ingest import expand_paths

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    deepest = inbox
    for _ in range(sys.getrecursionlimit() + 50):  # os.mkdir: os.makedirs recurses too
        deepest = deepest / "d"
        os.mkdir(deepest)
    shutil.copyfile(fixture("overlap_b.csv"), deepest / "export.csv")
    try:
        assert expand_paths([inbox]) == [deepest / "export.csv", inbox / "good.csv"]
        result = load(tmp_path / "wh", inbox)
        assert [f.status for f in result.files] == ["loaded", "loaded"]
    finally:  # shutil.rmtree (pytest's clean-up) recurses once per level too
        (deepest / "export.csv").unlink()
        while deepest != inbox:
            deepest.rmdir()
            deepest = deepest.parent


def test_a_folder_that_may_be_read_but_not_searched_fails_its_files_alone(tmp_path: Path) -> None:
    """`chmod -R 644 inbox` (meant for the files) leaves a subfolder that lists its names but
    lets nothing in it be looked at. `cdr ingest` of the inbox, or of such a file by name,
    and the nightly's plan ended as a bug (exit 1, PermissionError) and loaded nothing. Each
    such file fails alone (exit 3, named, Permission denied); the files beside it load."""
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    sub = inbox / "2026-10"
    sub.mkdir(parents=True)
    export = sub / "export.csv"
    shutil.copyfile(fixture("overlap_b.csv"), export)
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    sub.chmod(0o644)
    try:
        walked = run_unprivileged("--warehouse", str(wh), "ingest", str(inbox))
        named = run_unprivileged("--warehouse", str(wh), "ingest", str(export))
        plan = run_unprivileged(
            "--warehouse", str(wh), "nightly", "--dry-run", "--no-fetch", "--inbox", str(inbox)
        )
    finally:
        sub.chmod(0o700)
    for run in (walked, named):
        assert run.returncode == 3, run.stderr
        assert f"{export}: cannot read file: Permission denied" in run.stderr
    assert table(wh).height == GOOD_ROWS
    assert plan.returncode == 3, plan.stderr
    assert f"cannot list {sub}: its files would not load" in plan.stdout


def test_system_files_a_windows_share_or_a_mac_adds_are_skipped_by_a_folder_walk(
    tmp_path: Path,
) -> None:
    """An inbox on a Windows share holds Explorer's `desktop.ini` and `Thumbs.db`, an open
    workbook's `~$` owner file, a drive's `$RECYCLE.BIN` (which may not be listed); an
    unpacked ZIP from a Mac holds `__MACOSX`. Each failed the run (exit 3) every night as
    "not a recognised export" or "a folder that cannot be listed". A folder walk skips them
    as it skips hidden names; the export beside them loads, exit 0."""
    from cdr_pipeline.ingest import expand_paths

    inbox = tmp_path / "inbox"
    (inbox / "$RECYCLE.BIN").mkdir(parents=True)
    (inbox / "$RECYCLE.BIN" / "S-1-5-21").write_text("[.ShellClassInfo]\n")
    (inbox / "__MACOSX").mkdir()
    (inbox / "__MACOSX" / "export.csv").write_bytes(b"\x00\x05\x16\x07resource fork")
    (inbox / "desktop.ini").write_text("[.ShellClassInfo]\nIconResource=x\n")
    (inbox / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    (inbox / "~$entitlements.xlsx").write_bytes(b"\x05owner")
    good = inbox / "good.csv"
    shutil.copyfile(fixture("bom_crlf.csv"), good)
    assert expand_paths([inbox]) == [good]
    wh = tmp_path / "wh"
    result = load(wh, inbox)
    assert result.exit_code == 0, [f.message for f in result.files]
    assert table(wh).height == GOOD_ROWS


def test_the_metadata_files_a_mac_zips_from_a_usb_drive_are_skipped_in_a_zip(
    tmp_path: Path,
) -> None:
    """Zipped on a Mac from an exFAT drive or a share, an export comes with macOS's
    AppleDouble `._name` file beside it: the member failed as hidden, exit 3 every run, the
    hint saying to rename it (renamed, it failed as no export). It is skipped as `__MACOSX`
    is; a hidden member of data still fails on its own."""
    import zipfile

    good = fixture("bom_crlf.csv").read_bytes()
    path = tmp_path / "Calling_Detailed_Call_History"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report/Calling_Detailed_Call_History.csv", good)
        zf.writestr(
            "report/._Calling_Detailed_Call_History.csv", b"\x00\x05\x16\x07" + b"\x00" * 78
        )
    wh = tmp_path / "wh"
    result = load(wh, path)
    assert result.exit_code == 0, [f.message for f in result.files]
    assert [f.status for f in result.files] == ["loaded"]
    assert table(wh).height == GOOD_ROWS
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("._more.csv", good)
    result = load(tmp_path / "wh2", path)
    assert result.exit_code == 3
    assert ["hidden member" in f.message for f in result.files] == [False, True]


def test_a_named_pipe_and_a_file_gone_mid_run_get_hints_that_fit(tmp_path: Path) -> None:
    """Both said to look for a disk error in the system log. A named pipe is no file to
    read: give the export itself. A file listed with its folder and deleted (or moved)
    before the run read it: rerun when it is in place. Each fails alone, exit 3."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "a.csv")
    shutil.copyfile(fixture("overlap_a.csv"), inbox / "b.csv")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)

    def tidy(_: ProgressEvent) -> None:  # the folder tidied once the run has begun
        (inbox / "b.csv").unlink(missing_ok=True)

    result = ingest_paths(settings(tmp_path / "wh"), [inbox, pipe], progress=tidy)
    by_name = {Path(f.path).name: f for f in result.files}
    assert by_name["a.csv"].status == "loaded"
    for name in ("b.csv", "pipe.csv"):
        assert (by_name[name].status, by_name[name].exit_code) == ("failed", 3)
        assert "disk error" not in (by_name[name].message or ""), by_name[name].message
    gone = by_name["b.csv"].message or ""
    assert "No such file" in gone and "moved or deleted while the run read it" in gone
    assert "rerun when it is in place" in gone
    piped = by_name["pipe.csv"].message or ""
    assert "a named pipe, not a file" in piped and "not a regular file: give" in piped
