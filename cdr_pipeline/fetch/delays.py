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
