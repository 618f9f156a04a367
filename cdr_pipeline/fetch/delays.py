"""How long an answer asks the client to wait (`Retry-After`, RFC 9110 10.2.3)."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

_SECONDS = re.compile(r"\d{1,9}(\.\d*)?")


def retry_after(
    value: str | None, default: float, now: datetime | None = None, sent: str | None = None
) -> float:
    """Seconds a 429's `Retry-After` asks to wait: a number of seconds or an HTTP date
    (RFC 9110), `default` when absent or unreadable. Only plain digits count as seconds:
    float() also reads `inf`, `nan` and `1e12`, which made the run sleep for ever or crash.
    A header sent more than once arrives joined by commas: the longest of its delays. A date
    counts from the answer's own `Date` (`sent`) if readable, as both come from the server's
    clock: from this machine's, a server 20 min ahead asking for a minute was taken as 21
    (past the longest wait: the run ended), one 10 min behind as 1 s, 11 times throttled."""
    if value is None:
        return default
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    # the header sent twice (a proxy adding its own) comes joined: `120, 120`
    seconds = [part.strip() for part in text.split(",")]
    if all(_SECONDS.fullmatch(part) for part in seconds):
        return max(float(part) for part in seconds)
    when = _http_date(text)
    if when is None:
        return default
    return max((when - (_http_date(sent or "") or now or datetime.now(UTC))).total_seconds(), 0.0)


def _http_date(text: str) -> datetime | None:
    """An HTTP date (RFC 9110, 5.6.7) as an aware datetime, None when it is no date."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


CLOCK_SKEW_SECONDS = 60.0
"""How far this machine's clock may be off the server's before an error's hint says so."""


def clock_skew(sent: str | None, now: datetime | None = None) -> str:
    """A note for an error's hint when this machine's clock is off the server's (the answer's
    `Date`) by a minute or more, else "". The windows are planned from this clock: one ahead
    asks for an endTime the API has not reached (refused as a bad request, run after run),
    and the error said to check --base-url and the request parameters, not the clock."""
    server = _http_date(sent or "")
    if server is None:
        return ""
    off = ((now or datetime.now(UTC)) - server).total_seconds()
    if abs(off) < CLOCK_SKEW_SECONDS:
        return ""
    side = "ahead of" if off > 0 else "behind"
    return (
        f"; this machine's clock is {abs(off) / 60:.0f} min {side} the API's (its Date), and "
        "the windows are planned from it: set it right (NTP)"
    )
