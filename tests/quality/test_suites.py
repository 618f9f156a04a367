"""Suite generation from the schema registry (no Great Expectations needed)."""

from __future__ import annotations

from cdr_pipeline.quality.suites import (
    ERROR,
    IN_SET,
    KNOWN_DEVICE,
    MIN_VALUE,
    NEW_COLUMNS,
    NOT_NULL,
    PAIR_GE,
    UNIQUE,
    WARNING,
    build_suites,
)
from cdr_pipeline.schema import SCHEMAS, TableSchema
from cdr_pipeline.schema.base import INTEGER, STRING, Column, lineage_columns


def _by_id(table: str) -> dict[str, object]:
    return {e.id: e for e in build_suites()[table].expectations}


def test_one_suite_per_registered_table() -> None:
    suites = build_suites()
    assert sorted(suites) == sorted(s.name for s in SCHEMAS.values())
    assert "call_legs" in suites


def test_every_registered_schema_drives_its_suite() -> None:
    """Keys/nullability/enums of whatever is registered (calls, devices, ...) all appear."""
    for schema in SCHEMAS.values():
        exps = {e.id: e for e in build_suites()[schema.name].expectations}
        for col in schema.columns:
            if col.name == schema.partition_by or col.sensitive:
                continue
            nn = exps.get(f"{schema.name}.{col.name}.{NOT_NULL}")
            if col.name in schema.key or not col.nullable:
                assert nn is not None and nn.severity == ERROR, col.name
            else:  # never an error; a rule may flag a column that should be there
                assert nn is None or nn.severity == WARNING, col.name
            enum = exps.get(f"{schema.name}.{col.name}.{IN_SET}")
            if col.values:
                assert enum is not None and enum.value_set == col.values
            else:
                assert enum is None
        unique = exps[f"{schema.name}.{'.'.join(schema.key)}.{UNIQUE}"]
        assert unique.severity == ERROR and unique.scope_wide
        assert exps[f"{schema.name}.new_column.{NEW_COLUMNS}"].severity == WARNING


def test_call_leg_severities() -> None:
    exps = _by_id("call_legs")
    assert exps["call_legs.direction.in_set"].severity == ERROR  # type: ignore[attr-defined]
    for open_enum in ("call_type", "client_type", "user_type", "sub_client_type"):
        assert exps[f"call_legs.{open_enum}.in_set"].severity == WARNING  # type: ignore[attr-defined]
    # a Sub client type that is not Webex Go's spelling leaves its leg untagged: it must show
    go = exps["call_legs.sub_client_type.in_set"]
    assert set(go.value_set) == {"MOBILE_NETWORK", "Mobile_Network"}  # type: ignore[attr-defined]
    for dur in ("duration_seconds", "ring_duration_seconds", "hold_duration_seconds"):
        e = exps[f"call_legs.{dur}.{MIN_VALUE}"]
        assert (e.severity, e.min_value) == (ERROR, 0)  # type: ignore[attr-defined]
    assert exps[f"call_legs.answer_time.start_time.{PAIR_GE}"].severity == ERROR  # type: ignore[attr-defined]
    assert exps[f"call_legs.release_time.answer_time.{PAIR_GE}"].severity == ERROR  # type: ignore[attr-defined]
    assert exps[f"call_legs.release_time.start_time.{PAIR_GE}"].severity == ERROR  # type: ignore[attr-defined]
    assert exps[f"call_legs.ingested_at.start_time.{PAIR_GE}"].severity == ERROR  # type: ignore[attr-defined]
    assert exps["call_legs.duration_seconds.not_null"].severity == WARNING  # type: ignore[attr-defined]
    score = exps["call_legs.caller_reputation_score.between"]
    assert (score.severity, score.min_value, score.max_value) == (WARNING, 0.0, 5.0)  # type: ignore[attr-defined]
    day = exps["call_legs.duration_seconds.between"]
    assert (day.severity, day.min_value, day.max_value) == (WARNING, 0, 86_400)  # type: ignore[attr-defined]
    # the timezone offset is in minutes and may be negative: no duration rule for it
    assert "call_legs.site_timezone_offset_minutes.min_value" not in exps
    # but it lies between UTC-12:00 and UTC+14:00: 5000 minutes shifted every local time of
    # the leg by three and a half days, and validation said all expectations were met
    zone = exps["call_legs.site_timezone_offset_minutes.between"]
    assert (zone.severity, zone.min_value, zone.max_value) == (WARNING, -720, 840)  # type: ignore[attr-defined]


def test_device_rules_follow_the_registry() -> None:
    suites = build_suites()
    has_devices = "device_snapshots" in suites or "device_events" in suites
    known = [e for e in suites["call_legs"].expectations if e.check == KNOWN_DEVICE]
    assert bool(known) == has_devices
    if known:
        assert known[0].severity == WARNING
    if "device_snapshots" in suites:
        status = {e.id: e for e in suites["device_snapshots"].expectations}.get(
            "device_snapshots.status.in_set"
        )
        assert status is not None and status.severity == ERROR
    if "entitlements" in suites:
        units = {e.id: e for e in suites["entitlements"].expectations}[
            "entitlements.units.min_value"
        ]
        # 0 takes a row back (docs/inputs-devices.md); below 0 is an error
        assert (units.severity, units.min_value, units.strict_min) == (ERROR, 0, False)
        # a negative price (a credit typed as a line) made idle and unassigned costs negative,
        # taking money off the finance totals without a word; 0 (a free trial) is a price
        price = {e.id: e for e in suites["entitlements"].expectations}.get(
            "entitlements.unit_price.min_value"
        )
        assert price is not None
        assert (price.severity, price.min_value, price.strict_min) == (ERROR, 0, False)


def test_a_new_schema_gets_a_suite_without_code_changes() -> None:
    schema = TableSchema(
        name="widgets",
        kind="widgets",
        columns=(
            Column("widget_id", STRING, nullable=False),
            Column("colour", STRING, values=("red", "blue")),
            Column("state", STRING, values=("ON", "OFF"), closed=True),
            Column("spin_seconds", INTEGER),
        ),
        key=("widget_id",),
        version_by=(),
        partition_by=None,
        signature=("widget_id",),
        min_signature=1,
        lineage=lineage_columns(),
    )
    suite = build_suites({"widgets": schema})["widgets"]
    got = {e.id: (e.check, e.severity) for e in suite.expectations}
    assert got == {
        "widgets.widget_id.not_null": (NOT_NULL, ERROR),
        "widgets.colour.in_set": (IN_SET, WARNING),
        "widgets.state.in_set": (IN_SET, ERROR),
        "widgets.spin_seconds.min_value": (MIN_VALUE, ERROR),
        "widgets.widget_id.unique": (UNIQUE, ERROR),
        "widgets.new_column.new_columns": (NEW_COLUMNS, WARNING),
    }
    assert suite.row_columns() == ["widget_id", "colour", "state", "spin_seconds"]


def test_an_activation_code_that_expires_before_it_is_issued_is_an_error() -> None:
    """A stated `code_expires_at` before the event (a slipped month, a local date read as
    another) made fct_activation_codes call the code EXPIRED, ended before it was issued:
    the pair is checked as an entitlement's valid_to / valid_from is."""
    suites = build_suites()
    if "device_events" not in suites:
        return
    pair = {e.id: e for e in suites["device_events"].expectations}.get(
        f"device_events.code_expires_at.event_time.{PAIR_GE}"
    )
    assert pair is not None and pair.severity == ERROR
