"""Which stored columns hold personal data, and of what kind.

One list serves the analyst tier (`warehouse/analyst.py`), retention of personal fields and
erasure (`cdr_pipeline/privacy/`). A column's *kind* decides how it is pseudonymised: values
of one kind share one keyed pseudonym space, so a number that is `user_number` in a call leg
and `phone_number` in a device snapshot gets the same pseudonym and the views' joins keep
working on pseudonyms exactly as on raw values.

- `number`: phone numbers, extensions, dialed digits (shown masked in the analyst tier);
- `name`: display names (a caller ID name is a display name);
- `email`: e-mail addresses (a device event's actor is an administrator's address);
- `id`: user identifiers (Webex user UUIDs and person ids);
- `mac`: device MAC addresses;
- `drop`: never shown to analysts and emptied by retention: public IP addresses, the
  free-text `extra` JSON of unknown source columns, authorisation codes.
"""

from __future__ import annotations

NUMBER = "number"
NAME = "name"
EMAIL = "email"
ID = "id"
MAC = "mac"
DROP = "drop"

PSEUDONYM_KINDS = (NUMBER, NAME, EMAIL, ID, MAC)
"""Kinds replaced by a keyed pseudonym (every kind but `drop`)."""

PERSONAL_COLUMNS: dict[str, dict[str, str]] = {
    "call_legs": {
        "calling_number": NUMBER,
        "called_number": NUMBER,
        "user_number": NUMBER,
        "site_main_number": NUMBER,
        "dialed_digits": NUMBER,
        "caller_id_number": NUMBER,
        "external_caller_id_number": NUMBER,
        "redirecting_number": NUMBER,
        "elin": NUMBER,
        "user_name": NAME,
        "calling_line_id": NAME,
        "called_line_id": NAME,
        "user_uuid": ID,
        "device_owner_uuid": ID,
        "redirecting_party_uuid": ID,
        "original_called_party_uuid": ID,
        "device_mac": MAC,
        "public_calling_ip": DROP,
        "public_called_ip": DROP,
        "authorization_code": DROP,
        "extra": DROP,
    },
    "device_snapshots": {
        "user_uuid": ID,
        "person_id": ID,
        "user_email": EMAIL,
        "phone_number": NUMBER,
        "extension": NUMBER,
        "extra": DROP,
    },
    "device_events": {
        "user_uuid": ID,
        "actor": EMAIL,
        "phone_number": NUMBER,
        "extra": DROP,
    },
    "entitlements": {"extra": DROP},
    "org_directory": {"extra": DROP},
}
"""Table -> personal column -> kind. A table or column not listed holds no personal data."""

RETENTION_KEEPS: dict[str, frozenset[str]] = {
    "call_legs": frozenset({"user_uuid", "user_number"}),
}
"""Personal columns retention leaves raw: they link a call leg to the device (and so the
licence) it used, by user UUID and else by number, and the finance figures count those
links. Erasure (`cdr forget`) replaces them too, consistently in every table."""

ANALYST_NOTE_COLUMNS = frozenset({"message", "unknown_columns"})
"""Free text the pipeline writes (the ledger's `message` of `ingest_files` and
`ingest_runs`), which may quote the input: a file without its header line fails naming its
first record, numbers and a name; and the ledger's `unknown_columns`, the rest of that
record when `--kind` read it as the header (one of its values, the user type `User`, is a
column's name). The analyst tier shows a fixed note instead (of a list, in place of each
item: notebook 04 counts a file's unknown columns, but names none)."""

NUMBER_COLUMN_SUFFIXES = ("_number", "_digits")
"""Output columns of the views whose name ends so hold numbers (`originating_number`)."""


def personal_columns(table: str) -> dict[str, str]:
    """The personal columns of `table` and their kinds ({} for a table without any)."""
    return dict(PERSONAL_COLUMNS.get(table, {}))


def pseudonymised_columns(table: str) -> dict[str, str]:
    """The personal columns of `table` that a pseudonym replaces (not the dropped ones)."""
    return {c: k for c, k in PERSONAL_COLUMNS.get(table, {}).items() if k != DROP}


def dropped_columns(table: str) -> list[str]:
    return [c for c, k in PERSONAL_COLUMNS.get(table, {}).items() if k == DROP]


def analyst_hidden_columns() -> frozenset[str]:
    """Every column name the analyst tier never shows, whatever the view: the dropped
    fields and device MACs (a MAC names one person's phone and serves no analysis)."""
    return frozenset(
        c for cols in PERSONAL_COLUMNS.values() for c, k in cols.items() if k in (DROP, MAC)
    )


def is_number_column(name: str) -> bool:
    """An output column holding a (pseudonymised) number: shown masked to analysts."""
    numbers = {c for cols in PERSONAL_COLUMNS.values() for c, k in cols.items() if k == NUMBER}
    return name in numbers or name.endswith(NUMBER_COLUMN_SUFFIXES)
