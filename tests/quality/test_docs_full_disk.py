"""A disk that fills while the vendored assets are copied into the Data Docs names the
site's file and the warehouse's disk. `shutil.copyfile` names both files of a failed copy,
the source first: the night's error said "no space left writing <the installed package>/
quality/assets/..." with the hint to free the disk holding the package, not the
warehouse's."""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest

from cdr_pipeline.errors import environment_error
from cdr_pipeline.quality.offline import assets_dir, make_offline


def test_a_full_disk_while_copying_the_assets_names_the_site(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    docs = warehouse / "quality" / "data_docs"
    docs.mkdir(parents=True)
    # a file size limit fails the copy of the largest asset as a full disk would (EFBIG
    # instead of ENOSPC, the same two file names); the process may not block on SIGXFSZ
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, limits[1]))
    try:
        with pytest.raises(OSError) as raised:
            make_offline(docs)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    error = environment_error(raised.value, warehouse)
    assert error is not None
    assert error.exit_code == 6
    assert str(docs) in str(error)
    assert str(assets_dir()) not in str(error)
