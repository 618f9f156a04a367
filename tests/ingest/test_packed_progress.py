"""Progress of a compressed export, as `cdr ingest` shows it: the percentage of the input's
bytes, counted in the packed bytes read, so that it ends when the file does."""

from __future__ import annotations

import gzip
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest

from cdr_pipeline.cli.render import Progress
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.results import ProgressEvent
from tests.ingest.helpers import settings

EXPORT = "dch_export_2026-09-30_2026-10-31.csv"


@pytest.fixture
def shown() -> Iterator[list[str]]:
    """The progress lines `Progress` logs (off a terminal, one a chunk here)."""
    lines: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler, logger = Grab(), logging.getLogger("cdr_pipeline")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def _percentages(wh: Path, path: Path, lines: list[str], chunk_rows: int) -> list[int]:
    """The percentages shown: one a chunk, and one as each stream is done."""
    progress = Progress(quiet=False, every=1, total_bytes=path.stat().st_size)
    progress.tty = False
    result = ingest_paths(settings(wh, chunk_rows=chunk_rows), [path], progress=progress)
    assert result.exit_code == 0, [f.message for f in result.files]
    return [int(m.group(1)) for line in lines if (m := re.search(r" (\d+)%$", line))]


def _rows(samples_dir: Path, first: int, last: int) -> bytes:
    lines = (samples_dir / EXPORT).read_bytes().splitlines(keepends=True)
    return b"".join([lines[0], *lines[first:last]])


def test_a_gzipped_export_reaches_100_percent_at_its_end(
    wh: Path, tmp_path: Path, samples_dir: Path, shown: list[str]
) -> None:
    """The unpacked bytes read were counted against the packed size: a gzipped export (a CSV
    packs 5 to 20 times) stood at 100 % from its first chunk on, most of it still to read."""
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(_rows(samples_dir, 1, 41), mtime=0))
    pct = _percentages(wh, path, shown, chunk_rows=20)
    assert len(pct) == 3 and 35 <= pct[0] <= 65 and 90 <= pct[1] <= pct[2] == 100, pct


def test_a_zip_of_two_exports_counts_each_as_its_share(
    wh: Path, tmp_path: Path, samples_dir: Path, shown: list[str]
) -> None:
    """A ZIP without extension, as Control Hub's download is saved: each member's unpacked
    bytes were counted against the whole archive, and each member done added the archive's
    whole size, so the bar stood at 100 % early in the first member and stayed there."""
    path = tmp_path / "calling_detailed_call_history"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("part1.csv", _rows(samples_dir, 1, 21))
        zf.writestr("part2.csv", _rows(samples_dir, 21, 41))
    pct = _percentages(wh, path, shown, chunk_rows=20)
    assert len(pct) == 4 and 35 <= pct[0] <= pct[1] <= 65 and 90 <= pct[2] <= pct[3] == 100, pct


def test_a_large_gzip_stream_maps_its_text_to_its_packed_bytes(tmp_path: Path) -> None:
    """Past its first marks (every 64 KiB of text), each offset of the text maps into the
    packed bytes in order, ending at the stream's end, not ahead by the 128 KiB the
    decompressor reads at a time."""
    from cdr_pipeline.ingest.encoding import file_offsets
    from cdr_pipeline.ingest.sources import sources_of

    rows = [f"2026-10-01T10:00:{i % 60:02d}Z,{i * 7919 % 100_003},x{i}\n" for i in range(20_000)]
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(("a,b,c\n" + "".join(rows)).encode(), mtime=0))
    (source,) = sources_of(path)
    with source.open() as stream:
        text = len(stream.read())
        where = file_offsets(stream)
        offsets = [where(n) for n in range(0, text + 1, text // 20)]
    size = path.stat().st_size
    assert offsets == sorted(offsets) and size - 64 <= where(text) <= size, (offsets, size)
    assert all(abs(o - i * size / 20) < size / 20 for i, o in enumerate(offsets)), offsets


def test_marks_are_added_in_place_and_cut_only_every_keep_marks() -> None:
    """A stream marks where it is every 64 KiB it reads: a copy of the whole list at each
    mark cost a copy of thousands of items per read on a large gzip export."""
    from cdr_pipeline.ingest.offsets import Marks

    marks = Marks(keep=4)
    first = marks._marks
    for i in range(1, 8):
        marks.add(i * 100, i * 10)
    assert marks._marks is first  # 8 marks, twice `keep`: appended in place
    marks.add(800, 80)
    assert marks._marks is not first and len(marks._marks) == 4  # cut to the last `keep`
    assert marks.last == (800, 80)
    assert marks.offset(650) == 65  # between (600, 60) and (700, 70), in proportion
    assert marks.offset(950, now=(1000, 100)) == 95
    assert marks.offset(10_000) == 80  # past the last mark: the last one's


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"foo,bar\n1,2\n", id="not-an-export"),  # refused while it is staged
        pytest.param(b"garbage", id="spoilt-rows"),  # refused at its reject rate
    ],
)
def test_a_zip_member_that_fails_sends_its_done_event_with_the_failure(
    wh: Path, tmp_path: Path, samples_dir: Path, shown: list[str], bad: bytes
) -> None:
    """Only a member that loaded sent a `done` event: one that failed (not an export, most
    of its rows rejected) never ended, so a progress line or a reader of the JSON lines
    never saw it end, and the members' bytes stopped short of the archive's. Every member
    now sends one, a failed one with its status and message; the line says `failed`."""
    if bad == b"garbage":  # the export's header, each record cut to its first 10 bytes
        header, *records = _rows(samples_dir, 1, 21).splitlines(keepends=True)
        bad = header + b"".join(r[:10] + b"\n" for r in records)
    path = tmp_path / "calling_detailed_call_history.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("part1.csv", _rows(samples_dir, 1, 21))
        zf.writestr("part2.csv", bad)
    events: list[ProgressEvent] = []
    progress = Progress(quiet=False, every=1, total_bytes=path.stat().st_size)
    progress.tty = False

    def both(event: ProgressEvent) -> None:
        events.append(event)
        progress(event)

    result = ingest_paths(settings(wh, chunk_rows=20), [path], progress=both)
    assert [f.status for f in result.files] == ["loaded", "failed"]
    done = [e for e in events if e.done]
    assert [(e.source.rpartition("!")[2], e.status) for e in done] == [
        ("part1.csv", "loaded"),
        ("part2.csv", "failed"),
    ]
    assert done[0].message is None
    assert done[1].message == result.files[1].message and done[1].message
    assert sum(e.total_bytes for e in done) == path.stat().st_size  # the members add up
    (line,) = [s for s in shown if s.endswith(" 100%, failed")]  # the line ends there
    assert line.startswith(f"{path}!part2.csv: ")


def test_a_file_loaded_before_ends_its_bytes_without_a_line(
    wh: Path, tmp_path: Path, samples_dir: Path, shown: list[str]
) -> None:
    """A file skipped as already loaded sent no `done` event: its bytes never counted, so a
    folder of old and new files ended short of 100 % (half-way here). It sends one now,
    `skipped`, which the progress counts without a line of its own (its log line says it)."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    old, new = folder / "a_old.csv", folder / "b_new.csv"
    old.write_bytes(_rows(samples_dir, 1, 21))
    new.write_bytes(_rows(samples_dir, 21, 41))
    assert ingest_paths(settings(wh), [old]).exit_code == 0
    shown.clear()
    events: list[ProgressEvent] = []
    total = old.stat().st_size + new.stat().st_size
    progress = Progress(quiet=False, every=1, total_bytes=total)
    progress.tty = False

    def both(event: ProgressEvent) -> None:
        events.append(event)
        progress(event)

    result = ingest_paths(settings(wh), [folder], progress=both)
    assert [f.status for f in result.files] == ["skipped", "loaded"]
    done = [(Path(e.source).name, e.status, e.total_bytes) for e in events if e.done]
    assert done == [("a_old.csv", "skipped", old.stat().st_size), ("b_new.csv", "loaded", ANY)]
    assert sum(e.total_bytes for e in events if e.done) == total
    lines = [s for s in shown if re.search(r" \d+%$", s)]  # the progress lines
    assert lines[-1].startswith(f"{new}: 20 rows") and lines[-1].endswith(" 100%")
    assert not [s for s in lines if s.startswith(str(old))]
