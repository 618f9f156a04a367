"""Values of failed expectations as `cdr validate`, its JSON and the ledger show them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def value_text(v: Any) -> str:
    """A value as a reader writes it: a pair of columns `2026-10-01 / 2026-09-01`, a date
    in ISO form (never `datetime.date(2026, 10, 1)`), a missing time `(null)` like any other
    missing value (pandas' `NaT` is a datetime that is not equal to itself), a value that is
    empty or has blanks around it between quotes (`values: "  "`, not `values:`), a
    compound key's values (GX's dict of them, `Timestamp(...)` reprs) as its keys read."""
    if v is None or (isinstance(v, (float, datetime)) and v != v):
        return "(null)"
    if isinstance(v, str) and (not v or v != v.strip()):
        return f'"{v}"'
    if isinstance(v, (tuple, list)):
        return " / ".join(value_text(x) for x in v)
    if isinstance(v, dict):
        return " | ".join(value_text(x) for x in v.values())
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)
