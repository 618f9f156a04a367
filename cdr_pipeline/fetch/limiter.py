"""Client-side rate limits of the Detailed Call History APIs (docs/webex-dch.md#rate-limits): 1
initial request per minute per token plus at most 10 pagination requests per minute."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

INITIAL = "initial"
PAGE = "page"
OTHER = "other"


class RateLimiter:
    """Sliding-window limits per request kind: `initial` (first request of a window) and `page`
    (pagination). Real defaults are Cisco's; tests pass a fake clock and sleep."""

    def __init__(
        self,
        *,
        initial_per_period: int = 1,
        pages_per_period: int = 10,
        period_seconds: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.limits = {INITIAL: initial_per_period, PAGE: pages_per_period}
        self.period = period_seconds
        self.clock, self.sleep = clock, sleep
        self.sent: dict[str, collections.deque[float]] = {
            k: collections.deque() for k in self.limits
        }

    def acquire(self, kind: str) -> float:
        """Block until one more request of `kind` is allowed; return the seconds waited."""
        if kind not in self.limits:
            return 0.0
        sent, limit = self.sent[kind], self.limits[kind]
        waited = 0.0
        while True:
            now = self.clock()
            while sent and sent[0] <= now - self.period:
                sent.popleft()
            if len(sent) < limit:
                sent.append(now)
                return waited
            pause = sent[0] + self.period - now
            log.info("rate limit: waiting %.1fs before the next %s request", pause, kind)
            self.sleep(pause)
            waited += pause
