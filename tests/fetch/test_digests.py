"""Saved pages are hashed once: every `cdr fetch` looks for saved pages the ledger has not
loaded, and hashed every page ever saved to do it, so a half-hourly job's start grew with all
it had fetched (fetch probe). The digests are kept beside the pages while each file is
unchanged; an edited page (an erasure rewrites pages in place) is hashed again."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cdr_pipeline.fetch import digests
from cdr_pipeline.fetch.store import pending_pages, save_page
from cdr_pipeline.state.ledger import Ledger
from tests.fetch.conftest import settings_for


def test_a_saved_page_is_hashed_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    window = settings.layout.fetched / "feed" / "org" / "20261001T000000Z"
    pages = [save_page(window, n, b'{"items": [{"n": %d}]}' % n) for n in range(1, 6)]
    hashed: list[Path] = []
    real = digests.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(digests, "file_sha256", counting)
    ledger = Ledger(settings.layout)

    def pending() -> list[Path]:
        return [p.path for p in pending_pages(settings, ledger)]

    assert pending() == pages and sorted(hashed) == pages  # none loaded: all pending
    hashed.clear()
    assert pending() == pages and hashed == []  # unchanged: read from the kept list
    pages[2].write_bytes(gzip.compress(b'{"items": [{"n": "edited"}]}', mtime=0))
    assert pending() == pages and hashed == [pages[2]]
    hashed.clear()
    (settings.layout.fetched / digests.NAME).write_text("{not json")  # damaged: hash again
    assert pending() == pages and sorted(hashed) == pages
    hashed.clear()
    pages[0].unlink()  # a page pruned by hand leaves the list
    assert pending() == pages[1:] and hashed == []
    assert pages[0].name not in (settings.layout.fetched / digests.NAME).read_text()
