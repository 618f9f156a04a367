"""A file still being written while it is read (an upload landing in the nightly's inbox)
is not published: what was read is not the file, its last line may be cut, and the digest
the ledger would record is not the content's. The file fails alone, stays in the inbox, and
the next run loads it whole."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ProgressEvent, ingest_paths
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import table


def _halves(tmp_path: Path) -> tuple[bytes, bytes, int]:
    """An export of 600 legs cut in two at a line break (mid-way), and its record count."""
    full = tmp_path / "full.csv"
    write_call_export(full, legs=600, seed=8, start=date(2026, 10, 5), days=2)
    data = full.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    return data[:cut], data[cut:], len(data.splitlines()) - 1


class Writer:
    """Appends the rest of the file when the reader reports its first chunk of it: the
    upload goes on while the file is read."""

    def __init__(self, path: Path, rest: bytes) -> None:
        self.path, self.rest = path, rest

    def __call__(self, event: ProgressEvent) -> None:
        if self.rest and event.source.startswith(str(self.path)) and event.rows_read:
            with self.path.open("ab") as fh:
                fh.write(self.rest)
            self.rest = b""


def test_a_file_that_grows_while_it_is_read_is_not_published(tmp_path: Path) -> None:
    head, rest, records = _halves(tmp_path)
    upload = tmp_path / "upload.csv"
    upload.write_bytes(head)
    settings = Settings(warehouse=tmp_path / "wh", chunk_rows=50)  # type: ignore[call-arg]
    result = ingest_paths(settings, [upload], progress=Writer(upload, rest))
    (only,) = result.files
    assert only.status == "failed" and result.exit_code == 3
    assert "the file changed while it was read (still being written or copied?)" in only.message
    assert table(settings.warehouse).is_empty()
    # complete now: the same command loads all of it (the failed read is not "loaded")
    again = ingest_paths(settings, [upload])
    assert [f.status for f in again.files] == ["loaded"]
    assert again.files[0].rows_loaded == records == table(settings.warehouse).height
    assert not (settings.warehouse / "rejects").exists()  # no cut last line quarantined


def test_the_nightly_leaves_an_arriving_file_in_the_inbox_and_loads_it_next_time(
    tmp_path: Path,
) -> None:
    head, rest, records = _halves(tmp_path)
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    upload = inbox / "arriving.csv"
    upload.write_bytes(head)
    settings = Settings(warehouse=tmp_path / "wh", chunk_rows=50)  # type: ignore[call-arg]
    first = run_nightly(
        settings, inbox, archive=archive, run_date=date(2026, 10, 8), progress=Writer(upload, rest)
    )
    assert first.exit_code == 3
    assert upload.is_file() and not (archive / "arriving.csv").exists()
    second = run_nightly(settings, inbox, archive=archive, run_date=date(2026, 10, 8))
    assert second.exit_code == 0
    assert (archive / "arriving.csv").is_file() and not upload.exists()
    assert table(settings.warehouse).height == records
    statuses = Ledger(Layout(settings.warehouse)).files()["status"].to_list()
    assert statuses == ["failed", "loaded"]


def test_a_file_replaced_while_it_is_read_is_not_published(tmp_path: Path) -> None:
    """Another file renamed over the path mid-read, of the same size and with the same
    modification time (`cp -p` then `mv`): only which file it is tells them apart."""
    head, rest, records = _halves(tmp_path)
    path = tmp_path / "export.csv"
    path.write_bytes(head + rest)
    stamp = path.stat()

    def replace(event: ProgressEvent) -> None:
        if event.rows_read and path.stat().st_ino == stamp.st_ino:
            twin = tmp_path / "twin.csv"
            twin.write_bytes(head + rest)
            os.utime(twin, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
            os.replace(twin, path)

    settings = Settings(warehouse=tmp_path / "wh", chunk_rows=50)  # type: ignore[call-arg]
    (only,) = ingest_paths(settings, [path], progress=replace).files
    assert only.status == "failed" and "changed while it was read" in only.message
    assert table(settings.warehouse).is_empty()
    assert ingest_paths(settings, [path]).files[0].rows_loaded == records


def test_an_upload_read_to_its_end_mid_record_is_named_as_arriving_not_cut(
    tmp_path: Path,
) -> None:
    """An upload whose reader reached the end of what was written so far, inside a record,
    failed as "the file ends inside a record ... cut short", hint "download or copy it
    again; ... delete that last line": at 3 a.m. an operator would edit a file that was
    still arriving. Its stamp moved while it was read: it is said to be arriving, with the
    hint to let the next run load it."""
    head, rest, _ = _halves(tmp_path)
    upload = tmp_path / "upload.csv"
    upload.write_bytes(head + rest[: len(rest) // 2])  # the writer is mid-record
    assert not upload.read_bytes().endswith(b"\n")
    moved = os.stat(upload).st_mtime_ns + 5_000_000_000

    def writing(event: ProgressEvent) -> None:  # the writer goes on while it is read
        if event.rows_read:
            os.utime(upload, ns=(moved, moved))

    settings = Settings(warehouse=tmp_path / "wh", chunk_rows=50)  # type: ignore[call-arg]
    (only,) = ingest_paths(settings, [upload], progress=writing).files
    assert only.status == "failed"
    assert "the file changed while it was read (still being written or copied?)" in only.message
    assert "delete that last line" not in only.message
    assert table(settings.warehouse).is_empty()


def test_a_file_appended_to_without_end_is_read_only_to_its_size(tmp_path: Path) -> None:
    """The reader followed a growing file to its end: one appended to as fast as it was
    read (a log, `yes >> inbox/x.csv`) was never done (3 GB in 170 s and 1 GB of memory
    before it failed). It is read to the size it had when opened, then fails as changed."""
    head, rest, _ = _halves(tmp_path)
    upload = tmp_path / "endless.csv"
    upload.write_bytes(head)
    first = len(head.splitlines()) - 1
    read = appended = 0

    def endless(event: ProgressEvent) -> None:  # more arrives each time a chunk is read
        nonlocal read, appended
        read = max(read, event.rows_read)
        if event.rows_read and appended < 200:  # (bounded: the old reader would not stop)
            with upload.open("ab") as fh:
                fh.write(rest)
            appended += 1

    settings = Settings(warehouse=tmp_path / "wh", chunk_rows=50)  # type: ignore[call-arg]
    (only,) = ingest_paths(settings, [upload], progress=endless).files
    assert only.status == "failed" and "changed while it was read" in only.message
    assert read == first, (read, first)  # none of what came after it was opened
    assert table(settings.warehouse).is_empty()
    assert ingest_paths(settings, [upload]).files[0].status == "loaded"  # complete now
