"""Each ZIP member's `seconds` (the ingest table's `secs`, `cdr runs --files`' `took`, the
ledger's `seconds`) is its own time. Every member said the time since the archive was opened:
the 200th one-row member of an archive showed 80 s, and the members' seconds added up to
many times what the run took."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

from tests.ingest.helpers import load
from tests.ingest.hostile_corpus import csv_bytes, line, rows

MEMBERS = 12


def test_each_zip_member_counts_its_own_seconds(tmp_path: Path) -> None:
    path = tmp_path / "members.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i, row in enumerate(rows(MEMBERS, 91)):
            zf.writestr(f"m{i:02d}.csv", csv_bytes([line(row)]))
    began = time.monotonic()
    result = load(tmp_path / "wh", path)
    took = time.monotonic() - began
    assert [f.status for f in result.files] == ["loaded"] * MEMBERS
    # the members are read one after another: their times add up to at most the run's
    # (counted from the archive's start they added up to about MEMBERS / 2 times it)
    assert sum(f.seconds for f in result.files) <= took
