"""Content digests: a file whose content was loaded before (under any name, in this run or an
earlier one) is skipped; another file of the same size is not; the ledger keeps the SHA-256."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import fixture, load, settings, table

SRC = fixture("bom_crlf.csv")
ROWS = 6


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def _ledger(wh: Path) -> pl.DataFrame:
    return Ledger(settings(wh).layout).files()


def test_same_content_under_two_names_in_one_call_is_loaded_once(wh: Path, tmp_path: Path) -> None:
    a = _copy(SRC, tmp_path / "in" / "a.csv")
    b = _copy(SRC, tmp_path / "in" / "b_renamed.csv")
    result = load(wh, a, b)
    fa, fb = result.files
    assert (fa.path, fa.status, fa.rows_loaded) == (str(a), "loaded", ROWS)
    assert (fb.path, fb.status, fb.rows_read, fb.rows_loaded) == (str(b), "skipped", 0, 0)
    assert result.exit_code == 0
    t = table(wh, lineage=True)
    assert t.height == ROWS
    assert t["report_id"].is_unique().all()
    assert set(t["source_file"]) == {str(a)}
    files = _ledger(wh)
    assert files.filter(pl.col("status") == "loaded")["path"].to_list() == [str(a)]


def test_a_renamed_copy_in_a_later_run_is_skipped(wh: Path, tmp_path: Path) -> None:
    first = load(wh, SRC)
    assert first.files[0].status == "loaded"
    before = table(wh, lineage=True)
    copy = _copy(SRC, tmp_path / "elsewhere" / "renamed_export.csv")
    again = load(wh, copy)
    (f,) = again.files
    assert f.status == "skipped"
    assert f.rows_loaded == 0
    assert table(wh, lineage=True).equals(before)


def test_a_different_file_of_the_same_size_is_loaded(wh: Path, tmp_path: Path) -> None:
    text = SRC.read_bytes()
    old = b"Z,30,+15550100000,"  # the first leg's duration: 30 s -> 39 s, same length
    assert text.count(old) == 1
    changed = tmp_path / "changed.csv"
    changed.write_bytes(text.replace(old, b"Z,39,+15550100000,"))
    assert changed.stat().st_size == SRC.stat().st_size
    assert changed.read_bytes() != text

    assert load(wh, SRC).files[0].status == "loaded"
    (f,) = load(wh, changed).files
    assert f.status == "loaded"
    assert f.rows_read == ROWS
    assert f.rows_loaded + f.rows_duplicate == ROWS
    # same report time, later load: the new version of the leg is the one kept
    t = table(wh)
    assert t.height == ROWS
    leg = t.filter(pl.col("report_id") == "a1b2c3d4-0000-4000-8000-000000000000")
    assert leg["duration_seconds"].to_list() == [39]
    # both in the ledger, same size, different digests
    files = _ledger(wh).filter(pl.col("status") == "loaded")
    assert files["size_bytes"].to_list() == [len(text), len(text)]
    assert files["content_sha256"].to_list() == [
        hashlib.sha256(text).hexdigest(),
        hashlib.sha256(changed.read_bytes()).hexdigest(),
    ]


def test_the_ledger_records_each_loaded_files_sha256(wh: Path, tmp_path: Path) -> None:
    other = fixture("overlap_a.csv")
    result = load(wh, SRC, other)
    assert [f.status for f in result.files] == ["loaded", "loaded"]
    files = _ledger(wh)
    for path in (SRC, other):
        data = path.read_bytes()
        row = files.filter(pl.col("path") == str(path))
        assert row.height == 1
        assert row["content_sha256"].item() == hashlib.sha256(data).hexdigest()
        assert row["size_bytes"].item() == len(data)
        assert row["status"].item() == "loaded"


def test_a_zip_with_a_failed_member_is_tried_again_next_run(wh: Path, tmp_path: Path) -> None:
    import zipfile

    bundle = tmp_path / "export"  # a ZIP without extension, as Control Hub sends them
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(SRC, "good.csv")
        zf.write(fixture("not_dch.csv"), "bad.csv")
    first = load(wh, bundle)
    assert sorted(f.status for f in first.files) == ["failed", "loaded"]
    assert first.exit_code == 3
    again = load(wh, bundle)
    # not "already loaded": the failed member is read again (and fails again), the good one
    # is re-read and counted as duplicates, nothing is doubled
    assert sorted(f.status for f in again.files) == ["failed", "loaded"]
    good = next(f for f in again.files if f.status == "loaded")
    assert (good.rows_loaded, good.rows_duplicate) == (0, ROWS)
    assert table(wh).height == ROWS


def test_the_digest_is_right_however_the_file_was_read(wh: Path) -> None:
    """Fed by the reader (plain CSV read to the end), hashed on a thread (gzip, ZIP), or
    read to its end before the file failed (a file that is not an export)."""
    names = ["null_markers.csv", "gzipped.csv.gz", "zip_without_extension", "not_dch.csv"]
    names += ["api_page.json", "api_lines.jsonl"]
    load(wh, *(fixture(n) for n in names))
    files = _ledger(wh)
    for name in names:
        row = files.filter(pl.col("path") == str(fixture(name)))
        assert row.height >= 1, name
        want = hashlib.sha256(fixture(name).read_bytes()).hexdigest()
        assert set(row["content_sha256"]) == {want}, name


def test_a_plain_file_of_a_new_size_is_read_once(wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cdr_pipeline.ingest.digest as digest

    def no_second_read(path: Path) -> str:
        raise AssertionError(f"{path} hashed by a second read")

    monkeypatch.setattr(digest, "file_sha256", no_second_read)
    (f,) = load(wh, SRC).files
    assert f.status == "loaded"
    row = _ledger(wh).filter(pl.col("path") == str(SRC))
    assert row["content_sha256"].item() == hashlib.sha256(SRC.read_bytes()).hexdigest()


def test_a_file_that_fails_is_not_read_again_to_hash_it(wh: Path, tmp_path: Path) -> None:
    """Sparse files of 2 GiB that fail at once (a header of zeros; a gzip file of zeros after
    its header) record no digest: hashing them whole took seconds a gigabyte, minutes for a
    sparse file of 100 GB. A file that loads, after them, still records its digest."""
    gig = 2 << 30
    zeros = tmp_path / "zeros.csv"
    zeros.touch()
    os.truncate(zeros, gig)
    packed = tmp_path / "zeros.csv.gz"
    packed.write_bytes(gzip.compress(b"no export\n")[:10])  # a gzip header, then zeros
    os.truncate(packed, gig)
    result = load(wh, zeros, packed, SRC)
    assert [f.status for f in result.files] == ["failed", "failed", "loaded"]
    files = _ledger(wh)
    digests = dict(zip(files["path"], files["content_sha256"], strict=True))
    assert digests[str(zeros)] is None
    assert digests[str(packed)] is None
    assert digests[str(SRC)] == hashlib.sha256(SRC.read_bytes()).hexdigest()
