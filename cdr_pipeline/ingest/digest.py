"""A file's content digest (SHA-256): the ledger's identity of an input file.

A re-delivered file (same content, any name) is skipped. The digest is computed only when
needed, and never costs a second read of a large file: known from the nightly scan, computed
up front when some loaded file has the same size (perhaps a re-delivery), or computed while
the file loads, fed the bytes the reader reads (a plain file) or on a thread (a ZIP or gzip,
whose reader sees other bytes). hashlib releases the GIL, so either costs the load next to
nothing.

A file that failed is never read again just to hash it: its ledger record has no digest
unless the reading had it already (read to its end, or hashed before). A hostile file is
refused in seconds, but a sparse file of 100 GB that failed at its header was then hashed
whole, four minutes. Only a ZIP of several members hashes on, since the rows of its members,
loaded or failed, share the digest that tells whether all of it loaded
(`Ledger.loaded_hashes`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdr_pipeline.state.files import file_sha256


@dataclass(frozen=True)
class Fingerprint:
    """A file's SHA-256 as computed at a given size and modification time."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, file_sha256(path))

    def matches(self, path: Path) -> bool:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns) == (self.size, self.mtime_ns)


class Digest:
    """A file's SHA-256: known, computed now, or computed while the file loads."""

    def __init__(self, path: Path, size: int, value: str | None = None) -> None:
        self.path, self.size, self._value = path, size, value
        self._future: Future[str | None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._fed: Any = None  # hashlib object fed by the reader
        self._fed_bytes = 0
        self._stop = threading.Event()  # set: the background hash gives up
        self.shared = False
        """Whether the file has several sources (a ZIP's members), whose records share it."""

    @classmethod
    def now(cls, path: Path, size: int) -> Digest:
        return cls(path, size, file_sha256(path))

    def feed(self) -> Callable[[memoryview], None]:
        """A sink for every byte of the file, in order, as the reader reads it."""
        self._fed = hashlib.sha256()

        def sink(data: memoryview) -> None:
            self._fed.update(data)
            self._fed_bytes += len(data)

        return sink

    def started(self) -> bool:
        return self._value is not None or self._future is not None or self._fed is not None

    def in_background(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        self._future = self._pool.submit(self._hash_file)

    def _hash_file(self) -> str | None:
        """The file's SHA-256, or None when told to stop (`if_read`) before its end."""
        h = hashlib.sha256()
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        with open(self.path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                if self._stop.is_set():
                    return None
                h.update(view[:n])
        return h.hexdigest()

    def value(self) -> str:
        """The digest, waiting for it if need be; raises OSError if the file can't be read.
        A file the reader did not read to the end (it failed) is hashed here."""
        if self._value is None:
            if self._future is not None and (done := self._future.result()) is not None:
                self._value = done
            elif self._fed is not None and self._fed_bytes == self.size:
                self._value = self._fed.hexdigest()
            else:
                self._value = file_sha256(self.path)
        return self._value

    def if_read(self) -> str | None:
        """The digest if it is known without reading the file again, else None (a
        background hash not finished stops)."""
        if self._value is not None:
            return self._value
        if self._future is not None:
            if not self._future.done():
                self._stop.set()
                return None
            return self.value()
        if self._fed is not None and self._fed_bytes == self.size:
            return self.value()
        return None

    def recorded(self, failed: bool) -> str | None:
        """The digest a ledger record of the file keeps: none for a file that failed,
        unless it is known already or the file's other sources need it (`shared`)."""
        return self.if_read() if failed and not self.shared else self.value()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
