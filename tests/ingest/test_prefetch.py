"""Prefetch: an iterator run on a background thread, one item ahead, closable mid-stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from cdr_pipeline.ingest.prefetch import Prefetch


class Counting:
    """An infinite (or `limit`-long) generator that records what it produced and whether it
    was closed."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.produced = 0
        self.closed = False

    def __call__(self) -> Iterator[int]:
        try:
            while self.limit is None or self.produced < self.limit:
                self.produced += 1
                yield self.produced
        finally:
            self.closed = True


def _wait_for(cond: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_yields_the_items_in_order_then_stops_for_good() -> None:
    items = [{"n": i} for i in range(25)]
    p = Prefetch(iter(items))
    try:
        got = [next(p) for _ in range(25)]
        assert got == items
        assert all(a is b for a, b in zip(got, items, strict=True))  # the objects themselves
        for _ in range(3):
            with pytest.raises(StopIteration):
                next(p)
    finally:
        p.close()


def test_an_empty_iterator_stops_at_once() -> None:
    p = Prefetch(iter(()))
    try:
        assert list(p) == []
        with pytest.raises(StopIteration):
            next(p)
    finally:
        p.close()


def test_an_exception_of_the_iterator_is_raised_in_the_consumer_after_the_items() -> None:
    def failing() -> Iterator[str]:
        yield "a"
        yield "b"
        raise ValueError("bad row 3")

    p = Prefetch(failing())
    try:
        assert next(p) == "a"
        assert next(p) == "b"
        with pytest.raises(ValueError, match="bad row 3"):
            next(p)
        with pytest.raises(StopIteration):  # the stream is over after the error
            next(p)
    finally:
        p.close()


def test_reads_one_item_ahead_and_no_further() -> None:
    gen = Counting()
    p = Prefetch(gen())
    try:
        assert next(p) == 1
        # the producer reads the next item while the consumer holds the first...
        assert _wait_for(lambda: gen.produced >= 2), gen.produced
        time.sleep(0.2)
        # ...but not a third: the held item plus one ahead
        assert gen.produced == 2
        assert next(p) == 2
        assert _wait_for(lambda: gen.produced >= 3), gen.produced
        time.sleep(0.2)
        assert gen.produced == 3
    finally:
        p.close()


def test_close_mid_stream_stops_the_thread_and_closes_the_generator() -> None:
    gen = Counting()
    p = Prefetch(gen())
    assert [next(p) for _ in range(3)] == [1, 2, 3]
    t0 = time.monotonic()
    p.close()
    assert time.monotonic() - t0 < 2.0
    assert not p._thread.is_alive()
    assert gen.closed  # the generator's finally: ran
    produced = gen.produced
    time.sleep(0.2)
    assert gen.produced == produced  # nothing more is read after close


def test_close_before_anything_is_consumed() -> None:
    gen = Counting()
    p = Prefetch(gen())
    t0 = time.monotonic()
    p.close()
    assert time.monotonic() - t0 < 2.0
    assert not p._thread.is_alive()
    assert gen.produced <= 2
    with pytest.raises(StopIteration):
        next(p)


def test_close_twice_is_safe() -> None:
    gen = Counting(limit=5)
    p = Prefetch(gen())
    assert next(p) == 1
    p.close()
    p.close()
    assert not p._thread.is_alive()
    assert gen.closed
    with pytest.raises(StopIteration):
        next(p)
