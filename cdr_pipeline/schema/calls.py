"""Canonical call-leg schema: one row per CDR (call leg record) of the Detailed Call History.

Columns, types and header spellings follow docs/webex-dch.md (#canonical-columns, #header-spellings,
#enumerations). Required columns (row quarantined when missing or unparseable): `start_time` (it
decides the partition), `direction` (every leg record has one) and `correlation_id` (the call
grouping key).
`report_id` is the dedup key; when a source lacks it a stable hash of
(correlation_id, local_call_id, direction, start_time) stands in (docs/webex-dch.md#dedup-key).
"""

from __future__ import annotations

from cdr_pipeline.schema.base import (
    BOOLEAN,
    DATE,
    DOUBLE,
    SMALLINT,
    Column,
    TableSchema,
    lineage_columns,
)
from cdr_pipeline.schema.base import integer_column as _i
from cdr_pipeline.schema.base import string_column as _s
from cdr_pipeline.schema.base import timestamp_column as _t

DIRECTIONS = ("ORIGINATING", "TERMINATING")
CALL_TYPES = (
    "SIP_MEETING",
    "SIP_INTERNATIONAL",
    "SIP_SHORTCODE",
    "SIP_INBOUND",
    "UNKNOWN",
    "SIP_EMERGENCY",
    "SIP_PREMIUM",
    "SIP_ENTERPRISE",
    "SIP_TOLLFREE",
    "SIP_NATIONAL",
    "SIP_MOBILE",
    "SIP_URI",
    "SIP_OPERATOR",
    "SIP_CLICKTOCALL",
)
CLIENT_TYPES = (
    "SIP",
    "WXC_CLIENT",
    "WXC_THIRD_PARTY",
    "TEAMS_WXC_CLIENT",
    "WXC_DEVICE",
    "WXC_SIP_GW",
)
USER_TYPES = (
    "AutomatedAttendantVideo",
    "Anchor",
    "BroadworksAnywhere",
    "VoiceMailRetrieval",
    "LocalGateway",
    "HuntGroup",
    "GroupPaging",
    "User",
    "VoiceMailGroup",
    "CallCenterStandard",
    "CallCenterPremium",
    "VoiceXML",
    "RoutePoint",
    "Place",
    "VirtualLine",
    "VirtuaLline",
)
CALL_OUTCOMES = ("Success", "Failure", "Refusal")
RELEASING_PARTIES = ("Local", "Remote", "Unknown")
ANSWER_INDICATORS = ("Yes", "No", "Yes-PostRedirection")
SITE_OFFSET_RANGE = (-720, 840)
"""The offsets from UTC, in minutes, a `Site timezone` can hold: the world's zones run from
-12:00 to +14:00."""

WEBEX_GO_SUB_CLIENT_TYPE = "MOBILE_NETWORK"
SUB_CLIENT_TYPES = (WEBEX_GO_SUB_CLIENT_TYPE, "Mobile_Network")
"""The documented spellings (API docs; the Manage Webex Go Device article): any other value
leaves its leg untagged, so `cdr validate` warns about it."""


CALL_COLUMNS: tuple[Column, ...] = (
    _s("report_id", "Report ID", nullable=False, doc="Unique per record; the dedup key"),
    _t("report_time", "Report time", doc="When the record was written; latest version wins"),
    _t("start_time", "Start time", nullable=False, required=True, doc="UTC start of the leg"),
    _t("answer_time", "Answer time", doc="UTC; NULL when unanswered"),
    _t("release_time", "Release time", doc="UTC; also accepted as 'YYYY-MM-DD HH:MM:SS.mmm'"),
    _t("call_transfer_time", "Call transfer Time", "Call transfer time"),
    # every figure `exact`: in scientific notation (1.2E+02) a spreadsheet saved the export
    _i("duration_seconds", "Duration", clock=True, exact=True, doc="Seconds; never negative"),
    _i(
        "ring_duration_seconds",
        "Ring duration",
        clock=True,
        exact=True,
        doc="Seconds; never negative",
    ),
    _i(
        "hold_duration_seconds",
        "Hold Duration",
        clock=True,
        exact=True,
        doc="Seconds, rounded down; never negative",
    ),
    Column("answered", BOOLEAN, ("Answered",), doc="true/false in any case"),
    _s("answer_indicator", "Answer indicator", values=ANSWER_INDICATORS),
    _s("answered_elsewhere", "Answered Elsewhere"),
    _s("direction", "Direction", nullable=False, required=True, values=DIRECTIONS, closed=True),
    _s("call_type", "Call type", values=CALL_TYPES),
    _s("client_type", "Client type", values=CLIENT_TYPES),
    _s(
        "sub_client_type",
        "Sub client type",
        values=SUB_CLIENT_TYPES,
        case_blind=True,  # is_webex_go compares it in any case
        noted="a leg is Webex Go (is_webex_go) only with MOBILE_NETWORK, in any case: these "
        "legs are in no Webex Go view; check the export's source (cdr validate warns of them "
        "too)",
        doc="Raw value; MOBILE_NETWORK marks Webex Go",
    ),
    Column(
        "is_webex_go",
        BOOLEAN,
        nullable=False,
        derived=True,
        doc="upper(trim(sub_client_type)) = 'MOBILE_NETWORK'",
    ),
    _s("client_version", "Client version"),
    _s("os_type", "OS type"),
    _s("model", "Model"),
    _s("device_mac", "Device MAC", "Device Mac", doc="Upper-case, ':' and '-' removed"),
    _s("device_owner_uuid", "Device owner UUID"),
    _s("user_name", "User", doc="Display name"),
    _s("user_type", "User type", values=USER_TYPES),
    _s("user_uuid", "User UUID"),
    _s("user_number", "User number"),
    _s("org_uuid", "Org UUID"),
    _s("location_name", "Location"),
    _s("site_uuid", "Site UUID"),
    _s("site_main_number", "Site main number"),
    Column(
        "site_timezone_offset_minutes",
        SMALLINT,
        ("Site timezone",),
        exact=True,
        doc="Minutes from UTC of the site, e.g. -300",
    ),
    _s("department_id", "Department ID"),
    _s("calling_number", "Calling number"),
    _s("called_number", "Called number"),
    _s("calling_line_id", "Calling line ID"),
    _s("called_line_id", "Called line ID"),
    _s("dialed_digits", "Dialed digits"),
    _s("caller_id_number", "Caller ID number"),
    _s("external_caller_id_number", "External caller ID number"),
    _s("redirecting_number", "Redirecting number"),
    _s(
        "correlation_id",
        "Correlation ID",
        nullable=False,
        required=True,
        doc="Groups all legs of one call session",
    ),
    _s("call_id", "Call ID"),
    _s("local_call_id", "Local call ID"),
    _s("remote_call_id", "Remote call ID"),
    _s("network_call_id", "Network call ID"),
    _s("related_call_id", "Related call ID"),
    _s("transfer_related_call_id", "Transfer related call ID"),
    _s("interaction_id", "Interaction ID"),
    _s("local_session_id", "Local SessionID"),
    _s("remote_session_id", "Remote SessionID"),
    _s("final_local_session_id", "Final local SessionID"),
    _s("final_remote_session_id", "Final remote SessionID"),
    _s("call_outcome", "Call outcome", values=CALL_OUTCOMES),
    _s("call_outcome_reason", "Call outcome reason"),
    _s("releasing_party", "Releasing party", values=RELEASING_PARTIES),
    _s("original_reason", "Original reason"),
    _s("redirect_reason", "Redirect reason"),
    _s("related_reason", "Related reason"),
    _s("redirecting_party_uuid", "Redirecting party UUID"),
    _s("original_called_party_uuid", "Original Called Party UUID"),
    _s("inbound_trunk", "Inbound trunk"),
    _s("outbound_trunk", "Outbound trunk"),
    _s("route_group", "Route group"),
    _i("route_list_calls_overage", "Route list calls overage", exact=True),
    _s("international_country", "International country", "Country"),
    _s("authorization_code", "Authorization code"),
    _s("pstn_vendor_name", "PSTN Vendor Name"),
    _s("pstn_legal_entity", "PSTN Legal Entity"),
    _s("pstn_vendor_org_id", "PSTN Vendor Org ID"),
    _s("pstn_provider_id", "PSTN Provider ID"),
    _s("public_calling_ip", "Public Calling IP Address"),
    _s("public_called_ip", "Public Called IP Address"),
    _s("recording_platform", "Call Recording Platform Name"),
    _s("recording_result", "Call Recording Result"),
    _s("recording_trigger", "Call Recording Trigger"),
    _s("recall_type", "Recall Type"),
    _s("auto_attendant_key_pressed", "Auto Attendant Key Pressed"),
    _s("queue_type", "Queue Type"),
    Column(
        "caller_reputation_score",
        DOUBLE,
        ("Caller Reputation Score",),
        exact=True,
        doc="0.0-5.0",
    ),
    _s("caller_reputation_result", "Caller Reputation Service Result"),
    _s("caller_reputation_reason", "Caller Reputation Score Reason"),
    # wxc_sdk's model field name splits WxCC (docs/webex-dch.md#header-spellings)
    _s("wxcc_consult_merge_status", "WxCC consult merge status", "wx_cc_consult_merge_status"),
    _s("elin", "ELIN"),
    _s("emergency_number_source", "Emergency number source"),
    _s("transfer_type", "Transfer type"),
    _s("transfer_type_context", "Transfer type context"),
    Column(
        "call_date",
        DATE,
        nullable=False,
        derived=True,
        doc="UTC date of start_time; the Hive partition",
    ),
)

PER_ROW = (
    "report_id",
    "call_id",
    "local_call_id",
    "remote_call_id",
    "network_call_id",
    "transfer_related_call_id",
    "local_session_id",
    "remote_session_id",
    "final_local_session_id",
    "final_remote_session_id",
    "correlation_id",
    "interaction_id",
)
"""The call and session ids, nearly all distinct (`TableSchema.per_row`)."""

CALL_LEGS = TableSchema(
    name="call_legs",
    kind="calls",
    columns=CALL_COLUMNS,
    key=("report_id",),
    version_by=("report_time",),
    partition_by="call_date",
    partition_from=("start_time", "%Y-%m-%d"),
    key_spans_partitions=True,  # one Report ID across all days
    seconds_written=True,
    cluster_by="is_webex_go",  # the Webex Go views skip the other legs' row groups
    per_row=PER_ROW,
    # the columns that key, link, join or classify a leg (the views' joins and rules read
    # them); the other ids, numbers and reasons only show, and trimming all 45 candidates
    # cost about 1.5 CPU-seconds per 1M legs (strip_chars, 33 ms a column), a third of that
    trimmed=(
        "report_id",
        "correlation_id",
        "local_call_id",
        "remote_call_id",
        "network_call_id",
        "transfer_related_call_id",
        "related_call_id",
        "user_uuid",
        "org_uuid",
        "department_id",
        "device_mac",
        "calling_number",
        "called_number",
        "user_number",
        "direction",
        "call_type",
        "sub_client_type",
        "answered_elsewhere",
        "user_type",
    ),
    phone_text=(
        "calling_number",
        "called_number",
        "user_number",
        "site_main_number",
        "dialed_digits",
        "caller_id_number",
        "external_caller_id_number",
        "redirecting_number",
        "elin",
    ),
    signature=(
        "report_id",
        "correlation_id",
        "start_time",
        "direction",
        "local_call_id",
        "call_type",
        "client_type",
        "duration_seconds",
        "calling_number",
    ),
    min_signature=3,
    lineage=lineage_columns(extra=True),
)
