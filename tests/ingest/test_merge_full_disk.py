"""A disk that fills up during an ingest's partition merges is a full disk (exit 6, "no space
left", free space), not damage: the merge's failure made it check the files it read, and a
staged partition already installed into the table as it was (renamed, no longer at its
staged path) read as "data file ... cannot be read as Parquet (No such file or
directory)", whose hint said to restore the warehouse from a backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from cdr_pipeline.errors import EXIT_ENVIRONMENT, known_error
from cdr_pipeline.ingest import ingest_paths, merge
from tests.ingest.helpers import settings


def test_a_disk_full_during_the_merges_is_named_as_such(
    tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed: list[Path] = []
    real_install, real_copy = merge.install_file, merge.copy_query

    def install(staged: Path, target: Path) -> None:
        real_install(staged, target)
        installed.append(staged)

    def copy(*args: Any, **kwargs: Any) -> int:
        if not installed:  # the disk fills once a staged partition was installed as it was
            return real_copy(*args, **kwargs)
        raise duckdb.IOException(
            'IO Error: Could not write file "x.parquet.tmp-rows": No space left on device'
        )

    monkeypatch.setattr(merge, "install_file", install)
    monkeypatch.setattr(merge, "copy_query", copy)
    wh = tmp_path / "wh"
    calls = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    overlapping = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"  # 09-30 is rewritten
    with pytest.raises(Exception) as failed:
        ingest_paths(settings(wh), [calls, overlapping])
    assert installed and not installed[0].exists()  # the case: a staged file moved in
    error = known_error(failed.value, wh)
    assert error is not None and error.exit_code == EXIT_ENVIRONMENT
    assert error.message.startswith("no space left writing"), error.message
    assert "free space on the disk holding" in (error.hint or "")
