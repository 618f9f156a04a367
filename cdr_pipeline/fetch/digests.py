"""The content digests of the saved pages, kept beside them so that a run does not read every
page ever saved to find the few the ledger has not loaded.

Every `cdr fetch` starts by looking for saved pages whose content the ingest ledger does not
list (a run that died between saving and loading them). Without this file it hashed every
page under `state/fetched/` at every start: a half-hourly stream job saves a new folder each
run, so the start of each run grew with everything it had ever fetched. A page's digest is
reused while its size, modification and change times and inode are those it was hashed
with; any edit (an erasure rewrites pages in place) changes the change time, and the page is
hashed again. A damaged or missing file only costs the hashing it saves.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from cdr_pipeline.state.files import atomic_write_bytes, file_sha256

log = logging.getLogger(__name__)

NAME = ".digests.json"
"""The file, in the folder of the saved pages (hidden: no ingest of that folder reads it)."""


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class PageDigests:
    """`of(path)`: the SHA-256 of a page under `root`, from the kept list when the file is
    unchanged since it was hashed; `save()` keeps the list of the pages seen this time."""

    def __init__(self, root: Path) -> None:
        self.root, self.path = root, root / NAME
        self._kept: dict[str, list[object]] = {}
        self._seen: dict[str, list[object]] = {}
        try:
            kept = json.loads(self.path.read_bytes()).get("pages", {})
            if isinstance(kept, dict):
                self._kept = kept
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:  # hashed again, then rewritten
            log.info("saved pages: their kept digests do not read (%s); hashing them", exc)

    def of(self, path: Path) -> str:
        key = path.relative_to(self.root).as_posix()
        stamp = _stamp(path.stat())
        entry = self._kept.get(key)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp:
            digest = str(entry[1])
        else:
            digest = file_sha256(path)
            if _stamp(path.stat()) != stamp:  # changed while hashed: not kept
                return digest
        self._seen[key] = [stamp, digest]
        return digest

    def save(self) -> None:
        """Keep the digests of the pages seen (pages gone since leave the list)."""
        if self._seen == self._kept:
            return
        data = json.dumps({"pages": self._seen}, separators=(",", ":")).encode()
        try:
            atomic_write_bytes(data, self.path)
        except OSError as exc:  # only a saving lost: the next run hashes again
            log.warning("saved pages: cannot keep their digests in %s (%s)", self.path, exc)
