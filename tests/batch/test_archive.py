"""`cdr nightly --archive`: a re-sent file (content loaded before) leaves the inbox like a
new one and is listed as skipped in the ledger; an archived file is never overwritten, and a
failure to write the archive is the stage's exit-6 error that names the archive, with the
file left in the inbox."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.batch.nightly import _archive, archive_loaded
from cdr_pipeline.cli.main import cli
from cdr_pipeline.errors import WarehouseUnwritable
from tests.ingest.helpers import fixture, run_unprivileged

ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def nightly(wh: Path, inbox: Path, archive: Path | None) -> Result:
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-03"]
    if archive is not None:
        args += ["--archive", str(archive)]
    return CliRunner().invoke(cli, args, env=ENV)


def test_resent_file_is_archived_or_kept_and_a_vanished_warehouse_is_refused(
    tmp_path: Path,
) -> None:
    """One warehouse, four nights (three load or skip, one is refused), checking:
    - a first night starts though the archive holds a hidden folder (an empty archive, as
      `install -d` leaves it) and moves the loaded file there, emptying the inbox;
    - without --archive a file the ledger knows (same name, size and time) is not
      ingested again: the night is a run of its own (`cdr nightly`, 1 file skipped, 0
      rows read) that says "nothing new in the inbox", adds no file record, and leaves
      the file in the inbox;
    - with --archive, the same content again under another name in a sub-folder is
      archived like a new file and listed as skipped (0 rows loaded) in the ledger;
    - the warehouse that vanished (its disk not mounted): a night on an empty folder beside
      an archive holding files is refused (exit 3), names the archived file, leaves
      tonight's file in the inbox and creates nothing.
    (These were three tests, each of which ran its own first night on the same file.)"""
    wh, inbox, archive = tmp_path / "wh", tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "first.csv")
    (archive / ".hidden").mkdir(parents=True)  # an empty archive, as `install -d` leaves it
    (archive / ".hidden" / "x.csv").write_text("not an archived file\n")
    run = nightly(wh, inbox, archive)
    assert run.exit_code == 0, run.output
    assert (archive / "first.csv").is_file() and not any(inbox.iterdir())

    # without --archive: the file again, as the night found it (name, size, time: the
    # ledger's fingerprint of it), is skipped and stays in the inbox
    shutil.copy2(archive / "first.csv", inbox / "first.csv")
    files = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--files", "--json"], env=ENV)
    before = len(json.loads(files.output))
    run = nightly(wh, inbox, None)
    assert run.exit_code == 0 and "nothing new in the inbox" in run.output
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"], env=ENV)
    last = json.loads(runs.output)[-1]
    assert (last["command"], last["files_skipped"], last["rows_read"]) == ("cdr nightly", 1, 0)
    files = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--files", "--json"], env=ENV)
    assert len(json.loads(files.output)) == before
    assert (inbox / "first.csv").is_file()

    # with --archive: the same content again, under another name and in a sub-folder
    (inbox / "resent").mkdir()
    (inbox / "first.csv").rename(inbox / "resent" / "again.csv")
    run = nightly(wh, inbox, archive)
    assert run.exit_code == 0, run.output
    assert (archive / "resent" / "again.csv").is_file()
    assert not (inbox / "resent" / "again.csv").exists()

    files = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--files", "--json"], env=ENV)
    rows = json.loads(files.output)
    again = [r for r in rows if r["source"].endswith("again.csv")]
    assert [r["status"] for r in again] == ["skipped"]
    assert again[0]["rows_loaded"] == 0

    # the warehouse vanished: a new one beside the archive is not started
    unmounted = tmp_path / "mnt"
    unmounted.mkdir()
    shutil.copyfile(fixture("gzipped.csv.gz"), inbox / "tonight.csv.gz")
    run = nightly(unmounted, inbox, archive)
    assert run.exit_code == 3, run.output
    assert "is the warehouse's disk mounted" in run.output
    assert str(archive / "first.csv") in run.output
    assert (inbox / "tonight.csv.gz").is_file()
    assert not any(unmounted.iterdir())


def _send(inbox: Path, name: str, text: str) -> Path:
    path = inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_resent_name_with_new_content_is_archived_beside_the_first(tmp_path: Path) -> None:
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    first = _send(inbox, "sub/entitlements.csv", "v1\n")
    assert archive_loaded(None, inbox, archive, [first]) == [archive / "sub/entitlements.csv"]
    second = _send(inbox, "sub/entitlements.csv", "v1\nv2\n")
    assert archive_loaded(None, inbox, archive, [second]) == [archive / "sub/entitlements.2.csv"]
    third = _send(inbox, "sub/entitlements.csv", "v3\n")
    assert archive_loaded(None, inbox, archive, [third]) == [archive / "sub/entitlements.3.csv"]
    texts = {p.name: p.read_text() for p in (archive / "sub").iterdir()}
    assert texts == {
        "entitlements.csv": "v1\n",
        "entitlements.2.csv": "v1\nv2\n",
        "entitlements.3.csv": "v3\n",
    }
    # the same bytes once more: already archived, nothing added, the inbox emptied
    again = _send(inbox, "sub/entitlements.csv", "v1\nv2\n")
    assert archive_loaded(None, inbox, archive, [again]) == []
    assert not again.exists() and len(list((archive / "sub").iterdir())) == 3


def test_a_resent_name_of_255_bytes_is_archived_beside_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inbox file may be named with all the 255 bytes a file system allows: its second
    archived copy, `NAME.2.csv`, and the hidden copy under way to an archive on another
    file system, `.NAME.part-...`, were longer, and every night's archive stage stopped
    with exit 6, 'File name too long', its hint saying to free space; the files stayed in
    the inbox for the next night to fail the same way. The names are cut to fit."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    name = "e" * 251 + ".csv"
    first = _send(inbox, name, "v1\n")
    assert archive_loaded(None, inbox, archive, [first]) == [archive / name]
    second = _send(inbox, name, "v2\n")
    assert archive_loaded(None, inbox, archive, [second]) == [archive / ("e" * 249 + ".2.csv")]
    monkeypatch.setattr(os, "rename", _cross_device)  # an archive on another file system
    third = _send(inbox, name, "v3\n")
    assert archive_loaded(None, inbox, archive, [third]) == [archive / ("e" * 249 + ".3.csv")]
    texts = sorted(p.read_text() for p in archive.iterdir())
    assert texts == ["v1\n", "v2\n", "v3\n"] and not any(inbox.iterdir())
    # a name whose part after its first dot fills it: the number precedes its last suffix
    odd = _send(inbox, "a." + "b" * 249 + ".csv", "v1\n")
    archive_loaded(None, inbox, archive, [odd])
    odd = _send(inbox, odd.name, "v2\n")
    assert archive_loaded(None, inbox, archive, [odd]) == [archive / f"a.{'b' * 247}.2.csv"]


def test_an_archive_that_cannot_be_written_fails_the_stage_and_keeps_the_file(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    path = _send(inbox, "export.csv", "rows\n")
    archive = tmp_path / "archive"
    archive.write_text("a file where the archive folder should be", encoding="utf-8")
    with pytest.raises(WarehouseUnwritable, match="archiving stopped") as caught:
        _archive(None, inbox, archive, [path])
    assert caught.value.exit_code == 6
    assert str(archive) in str(caught.value.hint)
    assert path.read_text() == "rows\n"


def test_archive_never_takes_the_bundled_samples(tmp_path: Path) -> None:
    """The committed cdr.toml sets `inbox = "data/samples"`, so `cdr nightly --archive DIR`
    run in a checkout moved the bundled samples (tracked files, and what `cdr demo` loads)
    out of it. Refused before anything runs; a dry run (which moves nothing) is refused too,
    so this test cannot move them whatever the code does."""
    from cdr_pipeline.resources import samples_dir

    bundled = samples_dir()
    before = sorted(p.name for p in bundled.iterdir())
    args = ["--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", str(bundled)]
    run = CliRunner().invoke(cli, [*args, "--archive", str(tmp_path / "a"), "--dry-run"], env=ENV)
    assert run.exit_code == 3, run.output
    assert "samples" in run.stderr and "--archive" in run.stderr
    assert sorted(p.name for p in bundled.iterdir()) == before


@pytest.mark.parametrize("inside", ["done", "", "sub/done"])
def test_an_archive_inside_the_inbox_is_refused_before_anything_runs(
    tmp_path: Path, inside: str
) -> None:
    """`--archive inbox/done`: each night walked the archive with the inbox, took the files
    it had archived for re-sent ones and moved them one folder deeper (done/done/...,
    re-reading every file ever archived, night after night). Refused, exit 3, before
    anything is written; the inbox's files stay where they are."""
    inbox = tmp_path / "inbox"
    path = _send(inbox, "export.csv", "rows\n")
    archive = inbox / inside if inside else inbox
    run = nightly(tmp_path / "wh", inbox, archive)
    assert run.exit_code == 3, run.output
    assert f"--archive {archive} is inside the inbox {inbox}" in run.stderr
    assert f"--archive {tmp_path.resolve() / 'archive'}" in run.stderr
    assert path.read_text() == "rows\n"
    assert not (tmp_path / "wh").exists()


def test_an_archive_under_a_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """`--archive archive.tar/2026` (a file where a folder of the path should be): the night
    ran all its stages, then its archive stage failed as a disk error, exit 6, 'Not a
    directory', with the hint to free space on the archive's disk. Refused, exit 3, before
    anything is written, naming the file in the way."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = Path(shutil.copy(fixture("bom_crlf.csv"), inbox))  # an export that loads
    (tmp_path / "archive.tar").write_text("not a folder", encoding="utf-8")
    run = nightly(tmp_path / "wh", inbox, tmp_path / "archive.tar" / "2026" / "12")
    assert run.exit_code == 3, run.output
    assert f"{tmp_path / 'archive.tar'} is a file, not a folder" in run.stderr
    assert "hint: pass --archive a folder" in run.stderr
    assert path.read_bytes() == fixture("bom_crlf.csv").read_bytes()
    assert not (tmp_path / "wh").exists()


def test_an_archive_under_a_hidden_name_in_the_inbox_is_not_walked_and_works(
    tmp_path: Path,
) -> None:
    """`--archive inbox/.done`: the walk skips hidden names, so nothing nests: allowed."""
    inbox = tmp_path / "inbox"
    _send(inbox, "export.csv", "rows\n")
    run = nightly(tmp_path / "wh", inbox, inbox / ".done")
    assert "is inside the inbox" not in run.stderr, run.output


def test_an_inbox_holding_the_warehouse_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """`--inbox /srv/cdr` with the warehouse in /srv/cdr/warehouse: the walk listed
    cdr.duckdb, the reports, rejects and Data Docs as the night's inputs, every night.
    Refused, exit 3, before anything is written (a dry run too)."""
    wh = tmp_path / "warehouse"
    _send(tmp_path, "export.csv", "rows\n")
    for extra in ([], ["--dry-run"]):
        run = CliRunner().invoke(
            cli, ["--warehouse", str(wh), "nightly", "--inbox", str(tmp_path), *extra], env=ENV
        )
        assert run.exit_code == 3, run.output
        assert f"the warehouse {wh} is inside the inbox {tmp_path}" in run.stderr
        assert not wh.exists()
    # under a hidden name, which the walk skips: allowed
    hidden = ["--warehouse", str(tmp_path / ".wh"), "nightly", "--inbox", str(tmp_path)]
    run = CliRunner().invoke(cli, [*hidden, "--dry-run"], env=ENV)
    assert run.exit_code == 0, run.output


def test_an_inbox_inside_the_warehouse_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """`--inbox /srv/cdr/warehouse/reports`: the walk took the warehouse's reports for
    inputs, and the archive stage moved a report of headers only (loaded as empty) out of
    the warehouse into the archive. Refused, exit 3, before anything is read or moved."""
    wh = tmp_path / "wh"
    inbox = wh / "reports" / "2026-11-05"
    _send(inbox, "anomalies_2026-11.csv", "anomaly_id,month\n")
    archive = tmp_path / "archive"
    for extra in ([], ["--dry-run"]):
        args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), *extra]
        run = CliRunner().invoke(cli, [*args, "--archive", str(archive)], env=ENV)
        assert run.exit_code == 3, run.output
        assert f"the inbox {inbox} is inside the warehouse {wh}" in run.stderr
        assert "hint: pass an inbox that holds only the exports, beside the warehouse" in (
            run.stderr
        )
    assert (inbox / "anomalies_2026-11.csv").is_file()
    assert not archive.exists()
    assert not (wh / "state").exists()


def test_a_partial_copy_left_by_a_killed_nightly_is_removed(tmp_path: Path) -> None:
    """An archive on another file system is written by a copy to a hidden name renamed into
    place: a nightly killed during the copy (kill -9, a power cut) left that partial copy of
    an export (call data) in the archive for good. The next move of that name removes it."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    path = _send(inbox, "sub/export.csv", "rows\n")
    left = archive / "sub" / ".export.csv.part-0badc0de"
    left.parent.mkdir(parents=True)
    left.write_text("ro", encoding="utf-8")  # what the kill left
    other = archive / "sub" / ".other.csv.part-0badc0de"  # another file's: not this move's
    other.write_text("x", encoding="utf-8")
    assert archive_loaded(None, inbox, archive, [path]) == [archive / "sub/export.csv"]
    assert sorted(p.name for p in (archive / "sub").iterdir()) == [
        ".other.csv.part-0badc0de",
        "export.csv",
    ]


def test_an_inbox_files_cannot_be_removed_from_is_named_not_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inbox on a read-only mount: the file was copied to the archive, then could not be
    removed from the inbox, and the hint said to free space on the archive, which was fine."""
    inbox = tmp_path / "inbox"
    path = _send(inbox, "export.csv", "rows\n")
    archive = tmp_path / "archive"
    real_unlink = Path.unlink

    def read_only(self: Path, missing_ok: bool = False) -> None:
        if self == path:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(os, "rename", _cross_device)  # another file system: copy, then remove
    with pytest.raises(WarehouseUnwritable, match=r"removing .* from the inbox") as caught:
        _archive(None, inbox, archive, [path])
    assert caught.value.exit_code == 6
    assert f"write access to the inbox {inbox}" in str(caught.value.hint)
    assert str(archive) not in str(caught.value.hint)
    assert path.read_text() == "rows\n"


def test_an_archive_on_another_file_system_holds_the_copy_durably_before_the_inbox_loses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inbox on another file system (a tmpfs, another disk): the archive stage copied the
    file, renamed the copy into place and removed the inbox's file with nothing flushed. A
    power cut then could leave the archive an empty file and the inbox none: the file lost.
    The copy and the archive folder's entry are on disk (fsync) before the removal."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    path = _send(inbox, "export.csv", "rows\n")
    events: list[tuple[str, str]] = []
    real_fsync, real_unlink = os.fsync, Path.unlink

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        events.append(("unlink", str(self)))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(os, "rename", _cross_device)
    assert archive_loaded(None, inbox, archive, [path]) == [archive / "export.csv"]
    assert (archive / "export.csv").read_text() == "rows\n" and not path.exists()
    removed = events.index(("unlink", str(path)))
    synced = {target for kind, target in events[:removed] if kind == "fsync"}
    copies = [t for t in synced if Path(t).name.startswith(".export.csv.part-")]
    assert [Path(t).parent for t in copies] == [archive], events  # before its rename
    assert str(archive) in synced  # the folder holding its new name


def _cross_device(src: object, dst: object) -> None:
    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.mark.parametrize(
    ("code", "todo"),
    [
        (errno.EROFS, "remount {archive} read-write"),
        (errno.ENOSPC, "free space on the disk holding {archive} (df -h {archive}; "),
        (errno.EDQUOT, "free space under {archive} or raise the disk quota of the user"),
        (errno.EACCES, "give the job write access to {archive} (ls -ld {archive})"),
    ],
)
def test_an_archive_that_refuses_a_write_says_what_to_do_for_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, todo: str
) -> None:
    """An archive on a read-only mount said 'free space on (or give access to) ARCHIVE',
    sending the operator to df for a disk with room: the hint now follows the error."""
    inbox = tmp_path / "inbox"
    path = _send(inbox, "export.csv", "rows\n")
    archive = tmp_path / "archive"

    def refused(src: object, dst: object) -> None:
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(os, "rename", refused)
    with pytest.raises(WarehouseUnwritable, match="archiving stopped") as caught:
        _archive(None, inbox, archive, [path])
    assert str(caught.value.hint).startswith(todo.format(archive=archive)), caught.value.hint
    assert path.read_text() == "rows\n"


@pytest.mark.parametrize("when", ["a copy a killed night left", "the copy of this night"])
def test_a_read_only_archive_names_the_users_file_not_the_hidden_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """An archive on another file system that turned read-only (a disk error remounts it
    `errors=remount-ro`): removing a partial copy failed, and the stage's error named that
    hidden copy (`archiving stopped: Read-only file system writing ARCHIVE/.export.csv.part-
    0badc0de`), a file the operator never made nor can find with ls, instead of the file
    being archived."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    path = _send(inbox, "export.csv", "rows\n")
    archive.mkdir()
    if when == "a copy a killed night left":
        (archive / ".export.csv.part-0badc0de").write_text("ro", encoding="utf-8")
    real_unlink, real_fsync = Path.unlink, os.fsync

    def read_only(self: Path, missing_ok: bool = False) -> None:
        if self.name.startswith(".export.csv.part-"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real_unlink(self, missing_ok=missing_ok)

    def fsync(fd: int) -> None:  # the copy's data hits the disk error
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(os, "rename", _cross_device)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WarehouseUnwritable, match="archiving stopped") as caught:
        _archive(None, inbox, archive, [path])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert caught.value.message == (
        f"archiving stopped: Read-only file system writing {archive / 'export.csv'}"
    )
    assert str(caught.value.hint).startswith(f"remount {archive} read-write")
    assert path.read_text() == "rows\n"


def test_a_file_taken_from_the_inbox_during_the_night_is_not_an_archive_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A loaded file that someone moved or deleted from the inbox before the archive stage
    (an operator tidying the inbox while the night ran): the stage stopped as a disk error,
    exit 6, 'No such file or directory writing ARCHIVE/a.csv', hinting to free space on the
    archive, and the files after it stayed in the inbox. There is nothing to move: a
    warning names it and the others are archived."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    gone = _send(inbox, "a.csv", "rows\n")
    kept = _send(inbox, "b.csv", "rows b\n")
    gone.unlink()  # after the ingest committed it
    with caplog.at_level("WARNING", logger="cdr_pipeline.batch.archive"):
        assert _archive(None, inbox, archive, [gone, kept]) == [archive / "b.csv"]
    assert f"{gone} left the inbox during the night: not archived" in caplog.text
    assert sorted(p.name for p in archive.iterdir()) == ["b.csv"] and not kept.exists()


def test_a_read_only_inbox_on_the_archives_file_system_is_named_not_the_archive(
    tmp_path: Path,
) -> None:
    """An inbox the job may not write (`chmod 555`, a read-only mount) on the archive's
    file system: the rename out of it was refused, and the stage said 'Permission denied
    writing ARCHIVE/NAME', hint 'give the job write access to ARCHIVE', a folder it could
    write. It names the inbox, as a copy to another file system already did. A real run
    that file permissions apply to."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    path = Path(shutil.copy(fixture("bom_crlf.csv"), inbox))
    archive.mkdir()
    inbox.chmod(0o555)
    try:
        run = run_unprivileged(
            *("--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", str(inbox)),
            *("--archive", str(archive), "--run-date", "2026-11-03"),
        )
    finally:
        inbox.chmod(0o755)
    assert run.returncode == 6, run.stderr
    assert f"Permission denied removing {path} from the inbox" in run.stderr
    assert f"hint: give the job write access to the inbox {inbox}" in run.stderr
    assert path.exists() and not any(archive.iterdir())
