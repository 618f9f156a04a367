"""Held rows as this release writes them: the merge reads a partition's rows through
`held_rows`, so a row an older release stored otherwise is compared, replaced and rewritten
as a new one would be.

Device events: up to 79e8fd5 an `org_uuid` or `user_uuid` was stored as delivered, and an
event without an id was keyed by a hash of that org (`derive.devices.synthetic_event_id`).
Upper case (a PowerShell [guid], a spreadsheet's UPPER) gave such events another key than
the same events get now, hashed from the lower-case org: a later export of them was loaded
beside them, every event twice (two PROVISIONED, two codes issued). Read with their UUIDs in
lower case and their synthetic id hashed from those, the held events are the events a reload
delivers, which replace them (the later load wins). So with the API's org id (base64 of
`ciscospark://us/ORGANIZATION/<uuid>`), stored as given up to 8e2720b: read decoded to the
org's UUID, as `derive.devices` now stores it, and re-keyed from that.
"""

from __future__ import annotations

from cdr_pipeline.ingest.derive.devices import ORG_URI, UUID_RE
from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.schema.devices import DEVICE_EVENTS
from cdr_pipeline.text import lit

UUID = UUID_RE.pattern
"""A UUID in any case, as a regular expression for SQL."""

EVENT_TIME = "strftime(timezone('UTC', event_time), '%Y-%m-%dT%H:%M:%S.%gZ')"
"""The event time as the synthetic id's basis writes it (`text.ISO_MS_STRFTIME`)."""


def _lower_uuid(column: str) -> str:
    return (
        f"CASE WHEN regexp_full_match({column}, {lit(UUID)}) THEN lower({column}) ELSE {column} END"
    )


def _org_uuid(column: str) -> str:
    """The org UUID as this release stores it: a UUID in lower case, an API org id decoded
    (padding optional, standard or URL-safe alphabet), any other value as it is."""
    text = f"translate({column}, '-_', '+/')"
    padded = f"{text} || repeat('=', (4 - length({text}) % 4) % 4)"
    decoded = f"try(decode(from_base64({padded})))"
    uuid = f"nullif(regexp_extract(trim({decoded}), {lit('^' + ORG_URI.pattern + '$')}, 1), '')"
    return (
        f"CASE WHEN regexp_full_match({column}, {lit(UUID)}) THEN lower({column}) "
        f"ELSE coalesce(lower({uuid}), {column}) END"
    )


def _synthetic_id(org: str) -> str:
    """`synthetic_event_id` in SQL: "evt-" and 32 hex digits of the SHA-256 of the basis."""
    basis = " || '|' || ".join(
        f"coalesce({part}, '')" for part in (org, "device_id", "event_type", EVENT_TIME)
    )
    return f"'evt-' || left(sha256({basis}), 32)"


def held_rows(schema: TableSchema, read: str) -> str:
    """The relation of held rows `read` (SQL), as this release would have stored them."""
    if schema.name != DEVICE_EVENTS.name:
        return read
    org = _org_uuid("org_uuid")
    rekeyed = (
        f"CASE WHEN org_uuid <> {org} AND event_id = {_synthetic_id('org_uuid')} "
        f"THEN {_synthetic_id(org)} ELSE event_id END"
    )
    return (
        f"(SELECT * REPLACE ({rekeyed} AS event_id, {org} AS org_uuid, "
        f"{_lower_uuid('user_uuid')} AS user_uuid) FROM {read})"
    )
