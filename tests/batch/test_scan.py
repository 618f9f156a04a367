"""The nightly inbox scan hashes only files that may be re-deliveries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import cdr_pipeline.batch as batch
from cdr_pipeline.config import Settings
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.lock import writer_lock
from tests.ingest.helpers import fixture, load, run_unprivileged, table, unreadable_copy


def test_scan_hashes_only_files_with_a_loaded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = tmp_path / "wh"
    loaded = fixture("bom_crlf.csv")
    assert load(wh, loaded).files[0].status == "loaded"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(loaded, inbox / "again_renamed.csv")
    shutil.copyfile(fixture("overlap_a.csv"), inbox / "new.csv")
    assert (inbox / "new.csv").stat().st_size != loaded.stat().st_size

    hashed: list[str] = []
    real = batch.Fingerprint.of

    def spy(path: Path) -> batch.Fingerprint:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(batch.Fingerprint, "of", spy)
    files = {f.path.name: f for f in batch.scan_inbox(Settings(warehouse=wh), inbox)}
    assert hashed == ["again_renamed.csv"]
    assert files["again_renamed.csv"].status == "loaded before"
    assert files["again_renamed.csv"].fingerprint is not None
    assert (files["new.csv"].status, files["new.csv"].fingerprint) == ("new", None)
    assert files["new.csv"].size_bytes == (inbox / "new.csv").stat().st_size


def test_an_unreadable_file_of_a_loaded_size_fails_alone_in_the_nightly(tmp_path: Path) -> None:
    """The scan hashes a file whose size some loaded file has (a re-delivery?): one it may
    not read stopped the whole nightly as a bug (exit 1, nothing loaded). It is new to the
    scan, and the ingest fails it alone (exit 3, naming it); the file beside it loads."""
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    loaded = fixture("bom_crlf.csv")
    # loaded before (in this process, without the views' build: the night's ingest is checked)
    assert load(wh, loaded).exit_code == 0
    locked = unreadable_copy(loaded, inbox / "resent.csv")
    shutil.copyfile(fixture("overlap_b.csv"), inbox / "new.csv")
    run = run_unprivileged("--warehouse", str(wh), "nightly", "--inbox", str(inbox))
    assert run.returncode == 3, run.stderr
    assert f"{locked}: cannot read file: Permission denied" in run.stderr
    assert "the next night loads it" in run.stderr
    assert table(wh).height == 7  # new.csv loaded: one record of it is new


def test_an_inbox_or_archive_this_user_may_not_list_is_not_a_usage_error(tmp_path: Path) -> None:
    """`--inbox` / `--archive` (the unit's and the cron line's way) naming a folder the
    service user may not read was click's usage error, exit 2 ("a wrong flag in the unit"),
    before the run started; the run reports them itself (an inbox like that fails alone with
    exit 3 naming it and the chmod to try, as with `CDR_INBOX`). Another night holding the
    lock stops the run right after its checks, which keeps this test quick."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    archive.mkdir()
    inbox.chmod(0)
    archive.chmod(0o300)  # a drop box: files can be moved in, not listed
    wh = tmp_path / "wh"
    args = ("--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--archive", str(archive))
    with writer_lock(Layout(wh), "cdr nightly", name="nightly.lock"):
        run = run_unprivileged(*args)
    inbox.chmod(0o700)
    assert "Invalid value" not in run.stderr
    assert run.returncode == 5, run.stderr


def test_a_dry_run_says_a_folder_it_may_not_list_would_fail(tmp_path: Path) -> None:
    """The plan of an inbox the service user may not list read exit 0 and "ingest 1 new
    file" (the folder itself), where the run fails it with exit 3."""
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "sub").chmod(0)
    try:
        run = run_unprivileged(
            "--warehouse", str(tmp_path / "wh"), "nightly", "--dry-run", "--inbox", str(inbox)
        )
    finally:
        (inbox / "sub").chmod(0o700)
    assert run.returncode == 3, (run.stdout, run.stderr)
    assert "ingest 0 new file(s) of 0" in run.stdout
    assert f"cannot list {inbox / 'sub'}" in run.stdout
