"""The rules of the quality suites that a column definition cannot express: cross-column
orders, documented ranges, values that should be present, enums closed whatever the schema
says, Webex Go legs of a user without a device, and ids the org directory does not list.
`suites.py` turns them into expectation specs; a rule naming a table or column that is not
registered is skipped."""

from __future__ import annotations

from dataclasses import dataclass

from cdr_pipeline.ingest.derive.devices import ENTITLEMENT_BOUND, UNITS_BOUND
from cdr_pipeline.schema.calls import SITE_OFFSET_RANGE, WEBEX_GO_SUB_CLIENT_TYPE

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class PairRule:
    """`column_a >= column_b` on rows where both are present."""

    table: str
    column_a: str
    column_b: str
    severity: str = ERROR


@dataclass(frozen=True)
class MinRule:
    table: str
    column: str
    min_value: float
    strict: bool = False
    severity: str = ERROR


@dataclass(frozen=True)
class MaxRule:
    """`column < max_value` (`<=` unless strict) where present: a bound the views rely on."""

    table: str
    column: str
    max_value: float
    strict: bool = True
    severity: str = ERROR


@dataclass(frozen=True)
class PatternRule:
    """`column` matches `regex` (whole value) where present: a documented code format."""

    table: str
    column: str
    regex: str
    severity: str = ERROR


@dataclass(frozen=True)
class PresentRule:
    """A nullable column that should still be present: a NULL is flagged, not an error."""

    table: str
    column: str
    severity: str = WARNING


@dataclass(frozen=True)
class RangeRule:
    """`min_value <= column <= max_value` where present: a documented range."""

    table: str
    column: str
    min_value: float
    max_value: float
    severity: str = WARNING


@dataclass(frozen=True)
class ClosedEnumRule:
    """Force error severity on a column's documented values even if the schema marks the enum
    open (a canonicalised status has no room for new values)."""

    table: str
    column: str


@dataclass(frozen=True)
class KnownDeviceRule:
    """A flagged row (Webex Go leg) whose user has no device in any of `device_tables`."""

    table: str
    user_column: str
    flag_column: str
    device_tables: tuple[str, ...]
    device_user_column: str
    severity: str = WARNING


@dataclass(frozen=True)
class DirectoryRule:
    """A value of `column` that the org directory does not list as an entry of `entry_type`
    (docs/inputs-directory.md): the reports then show the bare id. Checked only when a
    directory is loaded."""

    table: str
    column: str
    entry_type: str
    severity: str = WARNING

    @property
    def flag(self) -> str:
        """Derived batch column: the value when the directory lacks it, else NULL."""
        return f"{self.column}_not_in_directory"


@dataclass(frozen=True)
class TagRule:
    """`flag_column` is true exactly when `source_column`, trimmed, reads `value` in any case
    (false when it is absent), as ingest derives it: the views select by the flag, so a row
    another writer tagged otherwise is left out of (or counted in) every figure of the tag."""

    table: str
    flag_column: str
    source_column: str
    value: str
    severity: str = ERROR

    @property
    def mismatch(self) -> str:
        """Derived batch column: `flag / source` where they disagree, else NULL."""
        return f"{self.flag_column}_mismatch"


DIRECTORY_TABLE = "org_directory"

Rule = (
    PairRule
    | MinRule
    | MaxRule
    | PatternRule
    | RangeRule
    | PresentRule
    | ClosedEnumRule
    | KnownDeviceRule
    | DirectoryRule
    | TagRule
)

RULES: tuple[Rule, ...] = (
    PairRule("call_legs", "answer_time", "start_time"),
    PairRule("call_legs", "release_time", "answer_time"),
    # an unanswered leg has no answer time: without this its release before its start passed
    PairRule("call_legs", "release_time", "start_time"),
    # Cisco documents the score as 0.0-5.0 (docs/webex-dch.md#value-formats): a value
    # outside is another scale or a broken source, worth a look but no reason to stop
    RangeRule("call_legs", "caller_reputation_score", 0.0, 5.0),
    # every record carries a Duration; one without keeps NULL (never 0) and is flagged, as the
    # reference asks: the leg then counts in no duration figure
    PresentRule("call_legs", "duration_seconds"),
    # a leg longer than a day is a stuck call or a broken value (4e9 s read as 126 years),
    # which would swamp every talk-time figure: worth a look, not a reason to stop
    RangeRule("call_legs", "duration_seconds", 0, 86_400),
    RangeRule("call_legs", "site_timezone_offset_minutes", *SITE_OFFSET_RANGE),
    # units 0 is a withdrawal (the key loaded again takes back a row loaded in error); a
    # negative count is no purchase (ingest quarantines it since; this finds older rows), a
    # negative price (a credit typed as a line) no price
    MinRule("entitlements", "units", 0),
    MinRule("entitlements", "unit_price", 0),
    # what ingest quarantines (`bad_integer`, `bad_number`): a count or price past these made
    # every reconciliation, finance summary and pack exit 1 while the row was in force (costs
    # are decimals of 12 digits), so a row loaded before, or by another writer, is an error
    MaxRule("entitlements", "units", UNITS_BOUND),
    MaxRule("entitlements", "unit_price", ENTITLEMENT_BOUND),
    # an ISO 4217 code, as ingest requires (`bad_currency`): a `$` beside `USD` made the
    # month `mixed_currency`, its costs gone from every reconciliation and finance total
    PatternRule("entitlements", "currency", "^[A-Z]{3}$"),
    # a range ending before it starts is never in force: its units would vanish without a word
    PairRule("entitlements", "valid_to", "valid_from"),
    # a code expiring before it is issued: EXPIRED in fct_activation_codes before it began
    PairRule("device_events", "code_expires_at", "event_time"),
    ClosedEnumRule("device_snapshots", "status"),
    # nothing is observed after it was loaded: a mistyped year (2062) would move the device
    # data horizon decades ahead (every licence month, month end), a leg's its partition
    PairRule("device_events", "ingested_at", "event_time"),
    PairRule("device_snapshots", "ingested_at", "snapshot_time"),
    PairRule("call_legs", "ingested_at", "start_time"),
    # the Webex Go tag is Sub client type MOBILE_NETWORK in any case: another writer's leg
    # tagged otherwise was missing from (or added to) every Webex Go figure, and passed
    TagRule("call_legs", "is_webex_go", "sub_client_type", WEBEX_GO_SUB_CLIENT_TYPE),
    KnownDeviceRule(
        "call_legs",
        user_column="user_uuid",
        flag_column="is_webex_go",
        device_tables=("device_snapshots", "device_events"),
        device_user_column="user_uuid",
    ),
    DirectoryRule("call_legs", "department_id", "department"),
    DirectoryRule("call_legs", "location_name", "location"),
    DirectoryRule("device_snapshots", "department_id", "department"),
    DirectoryRule("device_snapshots", "location_name", "location"),
)
