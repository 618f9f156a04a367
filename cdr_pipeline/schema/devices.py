"""Webex Go device schemas: status snapshots, activation events and licence entitlements.

No Cisco API gives device history (docs/webex-dch.md#device-data-sources), so the pipeline builds it
from our own periodic snapshots plus lifecycle events. These three formats are ours;
`docs/inputs-devices.md` documents them with examples. Derivations (status canonicalisation,
person-id decoding, synthetic event ids, licence-type names) live in
`cdr_pipeline/ingest/derive/devices.py`.
"""

from __future__ import annotations

from cdr_pipeline.schema.base import (
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    Column,
    TableSchema,
    lineage_columns,
)
from cdr_pipeline.schema.base import string_column as _s
from cdr_pipeline.schema.base import timestamp_column as _t

# Canonical vocabularies (docs/webex-dch.md#device-statuses). Source spellings map onto these in
# `cdr_pipeline.devices.derive`.
STATUSES = ("PENDING_ACTIVATION", "ONLINE", "OFFLINE", "STATUS_UNAVAILABLE")
DEPLOYMENTS = ("BYOD", "MOBILE_OPERATOR")
ACTIVATION_STATES = ("ACTIVATING", "ACTIVATED", "DEACTIVATED")
LIFECYCLE_EVENT_TYPES = (
    "PROVISIONED",
    "ACTIVATION_CODE_ISSUED",
    "ACTIVATED",
    "STATUS_CHANGED",
    "LOST_STOLEN",
    "DELETED",
)
"""The lifecycle steps the views are built on (and the samples hold)."""
EVENT_TYPES = (
    *LIFECYCLE_EVENT_TYPES,
    # the rest of the reference's event vocabulary (docs/webex-dch.md#device-history): kept,
    # and read by the lifecycle views as docs/inputs-devices.md says
    "NUMBER_ACTIVATION_PENDING",
    "NUMBER_ACTIVATION_ERROR",
    "LICENSE_ASSIGNED",
    "LICENSE_RELEASED",
)
LICENCE_BYOD = "Webex Go (Bring Your Own Device)"
LICENCE_MOBILE = "Webex Go Mobile (Mobile Operator)"
LICENCE_TYPES = (LICENCE_BYOD, LICENCE_MOBILE)
LICENCE_BY_DEPLOYMENT = {"BYOD": LICENCE_BYOD, "MOBILE_OPERATOR": LICENCE_MOBILE}


_USER_UUID = _s(
    "user_uuid",
    "User UUID",
    "userId",
    doc="Raw user UUID, as CDRs carry it; a base64 API person id here is decoded",
)
_EVENT_USER_UUID = _s(
    "user_uuid",
    "User UUID",
    "userId",
    # an event has no person_id column: the person id a snapshot carries beside the user
    # UUID is the event's user, decoded (kept in `extra`, it escaped the analyst tier's
    # pseudonyms and `cdr forget --user`, and the event lost its user)
    "person_id",
    "personId",
    doc="Raw user UUID, as CDRs carry it; a base64 API person id here (or under "
    "person_id / personId) is decoded",
)
_PERSON_ID = _s(
    "person_id",
    "personId",
    "Person ID",
    doc="API person id (base64 of ciscospark://us/PEOPLE/<uuid>); decoded into user_uuid",
)

_ACTIVATION_CODE = _s(
    "activation_code",
    "Activation code",
    "activationCode",
    "code",
    # the same secret as Control Hub gives it to Android users, and inside the QR code
    # it gives Apple users (LPA:1$<SM-DP+ address>$<activation code>)
    "Network provider code",
    "networkProviderCode",
    "QR code",
    "qrCode",
    sensitive=True,
    doc="Never stored: dropped on read, redacted from quarantined raw text; also the "
    "network provider code and the QR code, which hold the same secret",
)
"""The code itself, in an activation log or a device list of pending devices: never stored."""

SNAPSHOT_COLUMNS: tuple[Column, ...] = (
    _t(
        "snapshot_time",
        "Snapshot time",
        "observed_at",
        nullable=False,
        required=True,
        doc="When the device list was read (UTC)",
    ),
    _s("org_uuid", "Org UUID", "orgId", nullable=False, required=True),
    _s(
        "device_id",
        "Device ID",
        "deviceId",
        nullable=False,
        required=True,
        doc="Telephony device id (base64 API id) or any stable id",
    ),
    _USER_UUID,
    _PERSON_ID,
    _s("user_email", "User email", "email", "emailAddress"),
    _s("deployment", "Deployment", values=DEPLOYMENTS, closed=True),
    _s("phone_number", "Phone number", "Number", "phoneNumber"),
    _s("extension", "Extension"),
    _s("location_name", "Location", "Location name"),
    _s("department_id", "Department ID"),
    _s("subscription_id", "Subscription ID", "subscriptionId"),
    _s(
        "status",
        "Status",
        "Device status",
        values=STATUSES,
        closed=True,
        doc="Control Hub words or canonical upper case; stored canonical",
    ),
    _s("activation_state", "Activation state", "activationState", values=ACTIVATION_STATES),
    _s("model_type", "Model type", "modelType"),
    _ACTIVATION_CODE,
    Column(
        "snapshot_month",
        STRING,
        nullable=False,
        derived=True,
        doc="YYYY-MM of snapshot_time (UTC); the Hive partition",
    ),
)

DEVICE_SNAPSHOTS = TableSchema(
    name="device_snapshots",
    kind="device_snapshots",
    trim_text=True,
    phone_text=("extension",),  # the phone number is read by `derive/phones.py`
    columns=SNAPSHOT_COLUMNS,
    key=("device_id", "snapshot_time"),
    version_by=(),
    partition_by="snapshot_month",
    partition_from=("snapshot_time", "%Y-%m"),
    signature=(
        "snapshot_time",
        "status",
        "activation_state",
        "model_type",
        "person_id",
        "user_email",
    ),
    min_signature=2,
    lineage=lineage_columns(extra=True),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    _s(
        "event_id",
        "Event ID",
        doc="Source id, or a stable hash of (org_uuid, device_id, event_type, event_time)",
    ),
    _t("event_time", "Event time", nullable=False, required=True),
    _s("org_uuid", "Org UUID", "orgId", nullable=False, required=True),
    _s("device_id", "Device ID", "deviceId", nullable=False, required=True),
    _s(
        "event_type",
        "Event type",
        nullable=False,
        required=True,
        values=EVENT_TYPES,
        closed=True,
    ),
    _EVENT_USER_UUID,
    _s(
        "status_after",
        "Status after",
        values=STATUSES,
        closed=True,
        doc="New status of a STATUS_CHANGED event (canonical)",
    ),
    _s("actor", "Actor"),
    _t(
        "code_expires_at",
        "Code expires at",
        "activation_code_expires_at",
        "expiresAt",
        # the Webex API's answer to a new activation code: {"code": ..., "expiryTime": ...}
        "expiryTime",
        end_of_day=True,
    ),
    _s("deployment", "Deployment", values=DEPLOYMENTS, closed=True),
    _s("subscription_id", "Subscription ID", "subscriptionId"),
    _s("phone_number", "Phone number", "phoneNumber"),
    _ACTIVATION_CODE,
)

DEVICE_EVENTS = TableSchema(
    name="device_events",
    kind="activation_events",
    trim_text=True,
    columns=EVENT_COLUMNS,
    key=("event_id",),
    version_by=(),
    # Unpartitioned: a few events per device, and a source-given event_id may be re-sent
    # with a corrected time, which a time partition would split into two records.
    partition_by=None,
    signature=("event_time", "event_type", "status_after", "code_expires_at", "actor"),
    min_signature=2,
    lineage=lineage_columns(extra=True),
)

ENTITLEMENT_COLUMNS: tuple[Column, ...] = (
    _s("subscription_id", "Subscription ID", "subscriptionId", nullable=False, required=True),
    _s(
        "licence_type",
        "License type",
        "Licence",
        "License",
        nullable=False,
        required=True,
        values=LICENCE_TYPES,
        closed=True,
        doc="Stored as the Control Hub licence name",
    ),
    Column(
        "units",
        INTEGER,
        ("Units", "totalUnits", "Quantity"),
        nullable=False,
        required=True,
        exact=True,
        doc="Licences bought; 0 takes a row back, a negative count is quarantined",
    ),
    Column(
        "valid_from",
        DATE,
        ("Valid from", "Start date"),
        nullable=False,
        required=True,
        doc="First day covered",
    ),
    Column(
        "valid_to",
        DATE,
        # a purchase sheet's words for its last day: read as another column, the end was
        # kept in `extra` and every row stayed in force for good, bought units never ending
        ("Valid to", "End date", "Valid until", "Valid through", "Expiry date", "Expiration date"),
        doc="Last day covered (inclusive); NULL = open",
    ),
    Column(
        "unit_price",
        DOUBLE,
        ("Unit price", "price"),
        priced_in="currency",
        exact=True,
        doc="Price per licence per month (a header naming its currency, `Unit price (USD)`, "
        "gives the currency of rows without one)",
    ),
    _s("currency", "Currency", "Currency code"),
)

ENTITLEMENTS = TableSchema(
    name="entitlements",
    kind="entitlements",
    trim_text=True,
    columns=ENTITLEMENT_COLUMNS,
    key=("subscription_id", "licence_type", "valid_from"),
    any_case=("subscription_id",),
    version_by=(),
    partition_by=None,
    signature=("licence_type", "units", "valid_from", "valid_to", "unit_price", "currency"),
    min_signature=2,
    lineage=lineage_columns(extra=True),
)
