"""The mark that `cdr.duckdb` must next be written into a new file, not a copy of the old.

A commit that takes data away for good (retention's drop, an erasure, personal fields
turned into pseudonyms) is followed by a build into a new file: a refresh edits a copy of
the old file, whose freed pages keep what the commit took away. That build is a whole one,
or a refresh whose copy's live rows are then copied into a new file (`COPY FROM DATABASE`,
`warehouse/database.py`): seconds where a whole build of a large warehouse takes a minute.
The mark is written before such a commit and removed by the build that read the tables
after it, so a run killed (or out of disk) between the two leaves it, and the next build,
whoever runs it, writes a new file.
"""

from __future__ import annotations

import uuid

from cdr_pipeline.state.files import atomic_write_bytes
from cdr_pipeline.state.layout import Layout


def mark_whole_build(layout: Layout) -> None:
    """Before a commit that takes data away: the next build of `cdr.duckdb` is whole. Each
    mark is new, so a build that read the tables before it cannot remove it."""
    atomic_write_bytes(uuid.uuid4().hex.encode(), layout.whole_build_mark)


def whole_build_due(layout: Layout) -> str | None:
    """The mark, read before a build takes its table snapshots; None when there is none."""
    try:
        return layout.whole_build_mark.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def whole_build_done(layout: Layout, mark: str | None) -> None:
    """After a build into a new file whose snapshots were taken after reading `mark`: remove it,
    unless a later commit marked again."""
    if mark is not None and whole_build_due(layout) == mark:
        layout.whole_build_mark.unlink(missing_ok=True)
