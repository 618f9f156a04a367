"""Answers of the Webex APIs saved as a file that hold no records of an input kind: the
feed's answer for a window without records (a page of none), another error answer, and the
devices API's answer as a whole (each fails the file, saying what it is)."""

from __future__ import annotations

from typing import Any

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.render import shorten_middle

ERROR_KEYS = frozenset({"message", "errors", "trackingId"})


def no_cdrs_answer(record: Any) -> bool:
    """The feed's answer for a window without records (HTTP 404, docs/webex-dch.md#http-status-
    codes): `{"message": "No CDRs for requested time range and filters", "errors": [...],
    "trackingId": ...}` and nothing else. Saved as it came, it is a page of no records, as
    `cdr fetch` takes it; any other error answer is no export and still fails the file."""
    if not isinstance(record, dict) or not record.keys() <= ERROR_KEYS:
        return False
    message = record.get("message")
    return isinstance(message, str) and message.strip().lower().startswith("no cdrs")


def _error_message(record: Any) -> str | None:
    """The message of another error answer of the APIs (`{"message": ..., "errors": [...],
    "trackingId": ...}`: a 451 naming the region's host, a 401 or 403 a missing scope), or
    None for anything else."""
    if not isinstance(record, dict) or not record.keys() <= ERROR_KEYS:
        return None
    message = record.get("message")
    return message if isinstance(message, str) else None


def refuse_answer(n: int, record: Any) -> None:
    """Fail the file on record `n` when it is an answer of the Webex APIs that holds no
    records of an input kind: an error answer, or the devices API's answer as a whole."""
    message = _error_message(record)
    if message is not None:
        raise BadInput(
            f"an error answer of the Webex API, not records: '{shorten_middle(message, 200)}'",
            line=n,
            hint="the request failed when this was saved: run it again (a 451 names "
            "the region's host, a 401 or 403 a missing scope or admin role), or let "
            "cdr fetch pull the window (docs/fetch.md)",
        )
    if n == 1 and isinstance(record, dict) and isinstance(record.get("devices"), list):
        raise BadInput(
            'a Webex devices API answer ({"devices": [...]}): its devices are no '
            "device snapshot records (their fields and nested owner are the API's)",
            line=n,
            hint="write each device as a device snapshot record (snapshot_time, "
            "org_uuid, device_id, person_id from owner.id...: docs/inputs-devices.md) "
            'in a JSON array, {"items": [...]} or JSON lines, or as a CSV',
        )
