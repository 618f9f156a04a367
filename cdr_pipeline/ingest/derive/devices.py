"""Ingest derivations of the three device kinds: canonical vocabularies, person-id decoding,
synthetic event ids, the partition month, and the row checks that quarantine values we cannot
interpret.

Policy (documented in docs/inputs-devices.md): a row is rejected only when a required value is
missing or a value cannot be interpreted (an unknown status, event type, deployment or licence
type; an undecodable person id; a STATUS_CHANGED event without its new status; entitlement
prices past what the costs can hold; a count of licences negative or of ten million or more).
Values that parse but are implausible (a negative price, a code issued while Online, events
out of order) load and are flagged later by the quality suite or the `int_device_violations`
view.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import polars as pl

from cdr_pipeline.ingest.derive.base import Check, conflicting_lines, id_numbers
from cdr_pipeline.ingest.derive.phones import phone_number_checks, phone_numbers
from cdr_pipeline.schema.devices import (
    DEPLOYMENTS,
    ENTITLEMENTS,
    EVENT_TYPES,
    LICENCE_BYOD,
    LICENCE_MOBILE,
    STATUSES,
)
from cdr_pipeline.text import ISO_MS_STRFTIME, UUID_RE

_PEOPLE_URI = re.compile(r"ciscospark://[a-z0-9-]+/PEOPLE/(" + UUID_RE.pattern + r")")
ORG_URI = re.compile(r"ciscospark://[a-z0-9-]+/ORGANIZATION/(" + UUID_RE.pattern + r")")
"""What an API org id decodes to (`held.py` decodes held org ids with it too)."""

EVENT_ALIASES = {
    "ACTIVATION_CODE_REISSUED": "ACTIVATION_CODE_ISSUED",
    # Control Hub's Actions menu (docs/webex-dch.md#lost-or-stolen, #delete): `Lost/Stolen` is
    # its event once squeezed; these two name the action, not the event
    "GENERATE_NEW_ACTIVATION_CODE": "ACTIVATION_CODE_ISSUED",
    "DELETE": "DELETED",
    # the action that creates the device (Users > user > Devices > Add Webex Go Device;
    # docs/webex-dch.md#activation-codes): quarantined, its device held no licence until
    # the first snapshot listed it
    "ADD_WEBEX_GO_DEVICE": "PROVISIONED",
    "LICENCE_ASSIGNED": "LICENSE_ASSIGNED",
    "LICENCE_RELEASED": "LICENSE_RELEASED",
}
STATUS_ALIASES = {
    # a Mobile Operator number's state on its way to activation ("Number activation
    # pending", which Control Hub shows for about 2 hours), written as a status: what the
    # NUMBER_ACTIVATION_PENDING event means (docs/inputs-devices.md)
    "NUMBER_ACTIVATION_PENDING": "PENDING_ACTIVATION",
}
DEPLOYMENT_ALIASES = {
    "BRING_YOUR_OWN_DEVICE": "BYOD",
    "MOBILE": "MOBILE_OPERATOR",
}
# Licence names, squeezed to lower-case letters and digits -> the Control Hub name.
LICENCE_ALIASES = {
    "webexgobringyourowndevice": LICENCE_BYOD,
    "webexgobyod": LICENCE_BYOD,
    "byod": LICENCE_BYOD,
    "webexgomobilemobileoperator": LICENCE_MOBILE,
    "webexgomobile": LICENCE_MOBILE,
    "mobileoperator": LICENCE_MOBILE,
}
LICENCE_DEPLOYMENTS = {LICENCE_BYOD: "BYOD", LICENCE_MOBILE: "MOBILE_OPERATOR"}
"""The deployment a licence name means: a device list may name the licence each device holds
(`Webex Go (Bring Your Own Device)`, as Control Hub lists it) in its deployment column."""
REASON_BAD_ENUM = "bad_enum"
REASON_BAD_PERSON_ID = "bad_person_id"
REASON_MISSING = "missing_required"


def decode_person_id(value: str, uri: re.Pattern[str] = _PEOPLE_URI) -> str | None:
    """Raw user UUID of an API person id (base64 of `ciscospark://us/PEOPLE/<uuid>`, padding
    optional, standard or URL-safe alphabet); a raw UUID is returned as it is. None when the
    value is neither (docs/webex-dch.md#value-formats). `uri`: another kind of API id
    (`ORG_URI`: an org id, `ciscospark://us/ORGANIZATION/<uuid>`)."""
    text = value.strip()
    if UUID_RE.fullmatch(text):
        return text
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(padded.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            continue
        match = uri.fullmatch(raw.strip())
        if match:
            return match.group(1)
    return None


def _decoded(series: pl.Series, uri: re.Pattern[str] = _PEOPLE_URI) -> pl.Series:
    """Decode each distinct value once (chunks repeat the same people many times)."""
    mapping = {v: decode_person_id(v, uri) for v in series.drop_nulls().unique().to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def _squeeze_upper(expr: pl.Expr) -> pl.Expr:
    """'Pending activation' / 'pending-activation' / 'Lost/Stolen' -> 'PENDING_ACTIVATION' ..."""
    return expr.str.strip_chars().str.to_uppercase().str.replace_all(r"[\s/\-]+", "_")


def _canonical(expr: pl.Expr, allowed: tuple[str, ...], aliases: dict[str, str]) -> pl.Expr:
    up = _squeeze_upper(expr)
    mapped = up.replace(aliases) if aliases else up
    return pl.when(mapped.is_in(list(allowed))).then(mapped).otherwise(None)


def _enum_check(column: str, raw: str, allowed: tuple[str, ...]) -> Check:
    return Check(
        REASON_BAD_ENUM,
        pl.col(raw).is_not_null() & pl.col(column).is_null(),
        pl.format(
            f"{column}: unknown value '{{}}' (expected one of {', '.join(allowed)})",
            pl.col(raw).str.slice(0, 80),
        ),
    )


def _user_uuid(df: pl.DataFrame, person_col: str | None) -> tuple[pl.DataFrame, list[Check]]:
    """user_uuid: a raw UUID stays; a person id (in user_uuid or person_id) is decoded."""
    checks: list[Check] = []
    user = df["user_uuid"]
    from_user = _decoded(user)
    # a user_uuid that is no person id is kept as given (some sources use other stable ids)
    user_out = pl.Series("user_uuid", from_user).fill_null(user)
    if person_col is not None:
        person = df[person_col]
        from_person = _decoded(person)
        df = df.with_columns(from_person.alias("__person_uuid"))
        user_out = user_out.fill_null(from_person)
        checks.append(
            Check(
                REASON_BAD_PERSON_ID,
                pl.col(person_col).is_not_null() & pl.col("__person_uuid").is_null(),
                pl.format(
                    f"{person_col}: cannot decode '{{}}' as a Webex person id "
                    "(expected base64 of ciscospark://us/PEOPLE/<uuid>)",
                    pl.col(person_col).str.slice(0, 80),
                ),
            )
        )
    # the API's orgId (base64 of ciscospark://us/ORGANIZATION/<uuid>, as a device list read
    # from the API carries it) is the org's UUID: kept as given it was another org, whose
    # listings named none of the devices a CSV of the same org listed
    org = pl.Series("org_uuid", _decoded(df["org_uuid"], ORG_URI)).fill_null(df["org_uuid"])
    df = df.with_columns(user_out.alias("user_uuid"), org)
    return df.with_columns(_uuid_lower("user_uuid"), _uuid_lower("org_uuid")), checks


def _uuid_lower(name: str, col: pl.Expr | None = None) -> pl.Expr:
    """A UUID in lower case, as Cisco writes it and the CDRs carry it: one in upper case (a
    PowerShell [guid], a spreadsheet's UPPER) was another org, whose snapshots listed none of
    the org's devices, another user, or another department (the org directory's name and
    cost centre of it never found). Other ids keep their case. `col` is the value (default:
    the column `name`)."""
    col = pl.col(name) if col is None else col
    uuid = col.str.contains(f"^{UUID_RE.pattern}$")
    return pl.when(uuid).then(col.str.to_lowercase()).otherwise(col).alias(name)


def _status_and_deployment(df: pl.DataFrame, status_col: str) -> tuple[pl.DataFrame, list[Check]]:
    df = df.with_columns(
        pl.col(status_col).alias(f"__raw_{status_col}"),
        pl.col("deployment").alias("__raw_deployment"),
    ).with_columns(
        _canonical(pl.col(status_col), STATUSES, STATUS_ALIASES).alias(status_col),
        pl.coalesce(
            _canonical(pl.col("deployment"), DEPLOYMENTS, DEPLOYMENT_ALIASES),
            _licence_name(pl.col("deployment")).replace_strict(
                LICENCE_DEPLOYMENTS, default=None, return_dtype=pl.String
            ),
        ).alias("deployment"),
    )
    checks = [
        _enum_check(status_col, f"__raw_{status_col}", STATUSES),
        _enum_check("deployment", "__raw_deployment", DEPLOYMENTS),
    ]
    return df, checks


def derive_snapshots(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Check]]:
    """Canonical status and deployment, compact phone number, decoded user_uuid, UUIDs in
    lower case, partition month."""
    df, checks = _status_and_deployment(df, "status")
    df, more = _user_uuid(df, "person_id")
    df = phone_numbers(df).with_columns(
        _uuid_lower("department_id"),
        _squeeze_upper(pl.col("activation_state")).alias("activation_state"),
        _squeeze_upper(pl.col("model_type")).alias("model_type"),
        pl.col("snapshot_time").dt.strftime("%Y-%m").alias("snapshot_month"),
    )
    ids = id_numbers("device_id", "subscription_id", "department_id")
    return df, [*checks, *more, *phone_number_checks(), *ids, _CONFLICTING_SNAPSHOTS]


SNAPSHOT_TERMS = (
    "org_uuid", "user_uuid", "user_email", "deployment", "phone_number", "extension",
    "location_name", "department_id", "subscription_id", "status", "activation_state",
    "model_type",
)  # fmt: skip
"""What a snapshot line says of its device (all but the key; `person_id` is read into
`user_uuid`, unknown columns are no terms)."""

_CONFLICTING_SNAPSHOTS = conflicting_lines(
    ("device_id", "snapshot_time"),
    SNAPSHOT_TERMS,
    "one read of the device list says one thing of a device: keep the line that is right "
    "and delete the other (a later file of the same snapshot time replaces the row)",
)
"""One device twice in one snapshot with another status or owner (two reads of the list
joined under one time, a line edited by hand): the key keeps one, the later line, which
was counted as a duplicate while its status went into the history by a guess."""


def synthetic_event_id(org_uuid: str, device_id: str, event_type: str, event_time: str) -> str:
    """Stable id of an event that came without one: the same event always hashes the same."""
    basis = "|".join((org_uuid, device_id, event_type, event_time))
    return "evt-" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def derive_events(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Check]]:
    """Canonical event type, status and deployment; compact phone number; decoded user_uuid;
    synthetic event_id."""
    df = df.with_columns(
        pl.col("event_type").alias("__raw_event_type"),
        pl.col("event_id").alias("__given_event_id"),
    ).with_columns(_canonical(pl.col("event_type"), EVENT_TYPES, EVENT_ALIASES).alias("event_type"))
    # the reference's status vocabulary has DELETED: a STATUS_CHANGED to it is the deletion,
    # and on any event it says no more than the event does (DELETED is no status of a device
    # still listed; the lifecycle views read deletions from DELETED events)
    deleted = _squeeze_upper(pl.col("status_after")) == "DELETED"
    df = df.with_columns(
        pl.when(deleted & (pl.col("event_type") == "STATUS_CHANGED"))
        .then(pl.lit("DELETED"))
        .otherwise(pl.col("event_type"))
        .alias("event_type"),
        pl.when(deleted).then(None).otherwise(pl.col("status_after")).alias("status_after"),
    )
    df, checks = _status_and_deployment(df, "status_after")
    df = phone_numbers(df)
    checks.insert(0, _enum_check("event_type", "__raw_event_type", EVENT_TYPES))
    checks.append(
        Check(
            REASON_MISSING,
            (pl.col("event_type") == "STATUS_CHANGED") & pl.col("status_after").is_null(),
            pl.lit("status_after: required for a STATUS_CHANGED event"),
        )
    )
    df, more = _user_uuid(df, None)
    missing = df["event_id"].is_null()
    if missing.any():
        basis = df.select(
            pl.col("org_uuid").fill_null(""),
            pl.col("device_id").fill_null(""),
            pl.col("event_type").fill_null(pl.col("__raw_event_type")).fill_null(""),
            pl.col("event_time").dt.strftime(ISO_MS_STRFTIME).fill_null(""),
        )
        ids = [
            synthetic_event_id(*row) if m else None
            for row, m in zip(basis.iter_rows(), missing.to_list(), strict=True)
        ]
        df = df.with_columns(pl.coalesce(pl.col("event_id"), pl.Series(ids, dtype=pl.String)))
    rounded = id_numbers("device_id", "subscription_id")
    return df, [*checks, *more, *phone_number_checks(), *rounded, _CONFLICTING_EVENTS]


EVENT_TERMS = (
    "event_time", "org_uuid", "device_id", "event_type", "user_uuid", "status_after", "actor",
    "code_expires_at", "deployment", "subscription_id", "phone_number",
)  # fmt: skip
"""What an event line says (all but its id; unknown columns are no terms)."""

_CONFLICTING_EVENTS = conflicting_lines(
    ("__given_event_id",),
    EVENT_TERMS,
    "an event id names one event: keep the line that is right and delete the other (a "
    "later file re-sending the id replaces the row)",
    named="event_id",
)
"""Two lines of one source-given `event_id` saying other things (another time, type or
status): the key keeps the later, counted as a duplicate. Events without an id are keyed
by their device, type and time, and two of them that differ in the rest are two events of
one instant, of which the later line wins (docs/inputs-devices.md#lifecycle-views)."""


def _licence_name(expr: pl.Expr) -> pl.Expr:
    """The Control Hub name of the licence `expr` names in any spelling (`LICENCE_ALIASES`),
    else NULL."""
    squeezed = expr.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")
    return squeezed.replace_strict(LICENCE_ALIASES, default=None, return_dtype=pl.String)


def derive_entitlements(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Check]]:
    """Licence type as the Control Hub name (either spelling of licence/license accepted)."""
    df = df.with_columns(
        pl.col("licence_type").alias("__raw_licence_type"),
        _licence_name(pl.col("licence_type")).alias("licence_type"),
        pl.col("currency").str.to_uppercase(),
    )
    return df, [
        _enum_check("licence_type", "__raw_licence_type", (LICENCE_BYOD, LICENCE_MOBILE)),
        _NEGATIVE_UNITS,
        _UNITS_OUT_OF_RANGE,
        _out_of_range("unit_price", "bad_number", "a price of one licence a month"),
        _BAD_CURRENCY,
        *id_numbers("subscription_id"),
        _CONFLICTING_ENTITLEMENTS,
    ]


_BAD_CURRENCY = Check(
    "bad_currency",
    pl.col("currency").is_not_null() & ~pl.col("currency").str.contains(r"^[A-Z]{3}$"),
    pl.format(
        "currency: '{}' is no ISO 4217 code (three letters, such as USD or EUR; a symbol "
        "such as $ names several currencies)",
        pl.col("currency").str.slice(0, 40),
    ),
)
"""A currency is an ISO 4217 code. `$`, `US$` or `Dollar` loaded as currencies of their
own: the costs were shown in them (`$ 12.50`: US, Canadian or Australian dollars?), and a
top-up line written `$` beside a purchase written `USD` made the month `mixed_currency`,
with no cost at all. Any three letters pass, so a code withdrawn since (`HRK`) still
prices the months it was paid in."""


ENTITLEMENT_BOUND = 10**12
"""What `unit_price` stays under (either sign): the costs are computed as
decimals of 12 digits before the point (sql/_macros.sql `cents`), and a price of 1e12 (a
purchase-order number typed into the price column, `1e308`) made every reconciliation, finance
summary and pack exit 1 while the row was in force."""


def _out_of_range(column: str, reason: str, what: str) -> Check:
    return Check(
        reason,
        pl.col(column).abs() >= ENTITLEMENT_BOUND,
        pl.format(
            f"{column}: {{}} is out of range for {what} (less than "
            f"{ENTITLEMENT_BOUND:,} either way)",
            pl.col(column),
        ),
    )


UNITS_BOUND = 10**7
"""What `units` stays under: ten million licences is more than any one subscription holds,
and a purchase-order or phone number typed into the column (4500012345) is more. Loaded,
such a count showed billions of licences unassigned, and their cost, in every reconciliation
of the subscription. Far under `ENTITLEMENT_BOUND`, so the costs can always be computed."""

_UNITS_OUT_OF_RANGE = Check(
    "bad_integer",
    pl.col("units") >= UNITS_BOUND,
    pl.format(
        f"units: {{}} is out of range for a count of licences (less than {UNITS_BOUND:,}: "
        "more than any subscription holds; a purchase-order or phone number typed there?)",
        pl.col("units"),
    ),
)

_NEGATIVE_UNITS = Check(
    "negative_units",
    pl.col("units") < 0,
    pl.format(
        "units: {} is negative: a count of licences bought is 0 or more (0 takes a row back; "
        "to buy fewer, load the row's key again with the smaller count)",
        pl.col("units"),
    ),
)
"""A count of licences is never negative: loaded, `-3` (a credit typed as a purchase line)
took 3 from what the reconciliation counted as bought, and under a key already held it
replaced the units bought."""


ENTITLEMENT_TERMS = ("units", "valid_to", "unit_price", "currency")  # a purchase line's terms

_CONFLICTING_ENTITLEMENTS = conflicting_lines(
    ENTITLEMENTS.key,
    ENTITLEMENT_TERMS,
    "two purchases (write them as one line, units added) or a correction (delete the line it "
    "replaces)",
    folded=ENTITLEMENTS.any_case,  # `SUB-1` is `Sub-1`, as the reconciliation matches them
)
"""Two purchases starting the same day, or a correction typed under the original: the key
keeps one row, so either reading would lose units silently."""
