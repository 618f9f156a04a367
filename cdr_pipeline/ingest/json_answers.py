"""Answers of the Webex APIs saved as a file that hold no records of an input kind: the
feed's answer for a window without records (a page of none), another error answer, the
devices API's answer as a whole, and a page whose records are under another key than the
APIs' `items` (each fails the file, saying what it is)."""

from __future__ import annotations

import io
import json
from typing import Any

import ijson

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_guard import JsonGuard
from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.render import shorten_middle
from cdr_pipeline.schema import detect_kind

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


def _a_kind(keys: list[str]) -> bool:
    """Whether records with `keys` are of an input kind."""
    try:
        detect_kind(keys, "", keys=True)
    except InputError:
        return False
    return True


def _records_key(head: bytes, limits: Limits) -> str | None:
    """The key of the first top-level object in `head` whose value is an array of records
    of an input kind (its items' keys tell), unless that object's own keys are a record's;
    None when there is none, or the head does not tell."""
    outer: list[str] = []
    under: dict[str, set[str]] = {}  # a key -> the keys of the objects in its array
    guarded = JsonGuard(io.BytesIO(head), limits, 2)  # the parser never sees past a limit
    try:
        for prefix, event, value in ijson.parse(guarded, multiple_values=True):
            if prefix == "" and event != "map_key":
                if event != "start_map":  # the first value ended, or is no object
                    break
            elif event == "map_key" and prefix == "":
                outer.append(value)
            elif event == "map_key" and outer and prefix == f"{outer[-1]}.item":
                under.setdefault(outer[-1], set()).add(value)
    except (ijson.JSONError, BadInput):  # the head ends mid-value, or a limit: as far as read
        pass
    found = [k for k in outer if k in under and _a_kind(sorted(under[k]))]
    return found[0] if found and not _a_kind(outer) else None


def refuse_other_key(head: bytes, limits: Limits) -> None:
    """Fail a file whose first value is a page with its records under another key than the
    APIs' `items` (`{"data": [...]}`: a script's own wrapper), saying where they are. Read
    as a record, it failed with its keys, `(data)`, matching no input kind."""
    key = _records_key(head, limits)
    if key is None:
        return
    shown, path = shorten_middle(key, 60), json.dumps(key)
    raise BadInput(
        f'records found under key "{shown}"; the Webex API puts them under "items" '
        '({"items": [...]})',
        line=1,
        # the new file's name is never FILE's: `> FILE` empties it before jq reads it
        hint=f"try: jq '{{items: .[{path}]}}' FILE > FILE.items.json, or save the records as "
        f"a JSON array (jq '.[{path}]' FILE > FILE.records.json), and load that",
    )
