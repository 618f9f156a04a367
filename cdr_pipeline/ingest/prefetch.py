"""Run an iterator on a background thread, one item ahead.

Reading and parsing a chunk (numpy and polars, which release the GIL) then overlaps
normalizing and staging the previous one. At most two items are alive: the one the consumer
holds and the one being produced (the producer starts the next only when the consumer asks
for its successor). `close()` stops the thread before the stream it reads is closed; an
exception raised by the iterator is raised again by `next()`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = "item", "end", "error"


class Prefetch(Generic[T]):
    def __init__(self, it: Iterator[T], name: str = "reader") -> None:
        self._it = it
        self._queue: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._slots = threading.Semaphore(2)  # the item held by the consumer + the next one
        self._held = False
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._take_slot():
                try:
                    item = next(self._it)
                except StopIteration:
                    self._queue.put((_END, None))
                    return
                self._queue.put((_ITEM, item))
                del item
        except BaseException as exc:  # raised again in the consumer by __next__
            self._queue.put((_ERROR, exc))

    def _take_slot(self) -> bool:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.1):
                return not self._stop.is_set()
        return False

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if self._held:  # the consumer is done with the previous item
            self._held = False
            self._slots.release()
        if self._finished:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == _ITEM:
            self._held = True
            return value  # type: ignore[return-value]
        self._finished = True
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop reading ahead and wait for the thread; safe to call more than once."""
        self._finished = True
        self._stop.set()
        self._thread.join()
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
