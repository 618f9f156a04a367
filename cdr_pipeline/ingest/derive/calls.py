"""Call-leg derivations: Webex Go tag, partition date, MAC clean-up, synthetic report ids,
and the impossible-value checks of the call-leg kind."""

from __future__ import annotations

import hashlib

import polars as pl

from cdr_pipeline.ingest.derive.base import (
    Check,
    float_numbers,
    mark_floats,
    mark_misread,
    misread_text,
    spreadsheet_numbers,
)
from cdr_pipeline.schema.calls import CALL_LEGS, SITE_OFFSET_RANGE, WEBEX_GO_SUB_CLIENT_TYPE
from cdr_pipeline.text import ISO_MS_STRFTIME, UUID_RE

DURATIONS = ("duration_seconds", "ring_duration_seconds", "hold_duration_seconds")

DIGIT_TEXT = (
    "report_id",
    "correlation_id",  # a UUID from Control Hub, but numeric in other tools' records
    "interaction_id",
    "auto_attendant_key_pressed",
    *CALL_LEGS.phone_text,  # the phone numbers, ELIN included
    "local_call_id",
    "remote_call_id",
    "related_call_id",
    "transfer_related_call_id",
    "local_session_id",
    "remote_session_id",
    "final_local_session_id",
    "final_remote_session_id",
    "authorization_code",
    "pstn_vendor_org_id",
    "pstn_provider_id",
)
"""Text columns of numbers and ids a spreadsheet can read as a number and round
(`base.SCIENTIFIC`)."""

FLOAT_TEXT = ("calling_number", "called_number", "user_number", "dialed_digits")
"""Number columns that hold a value on most legs and are empty on some (a dataframe tool
reads such a column as floats): one value saved as a float condemns the export
(`base.FLOAT`). Four columns, not all of `DIGIT_TEXT`: a suffix test per column and
million rows costs 15 ms."""

NAME_TEXT = ("user_name", "calling_line_id", "called_line_id", "location_name")
"""Text columns of people's and places' names, where accented and CJK letters occur: one
value misread there condemns the export (`base.MISREAD`)."""

MAC_AS_NUMBER = r"^(\d{1,11}|[+-]?\d([.,]\d+)?[Ee][+-]\d+)$"
"""A MAC of digits only (`001122334455`, `123456789012`) a spreadsheet read as a number and
saved again: its leading zeros dropped (`1122334455`) or, past 11 digits, in scientific
notation (`1.23457E+11`, `1,23457E+11` where decimals follow a comma). A MAC is 12 hex
digits (docs/webex-dch.md#value-formats), so neither is one, and no separator makes one."""


def _mac_as_number(df: pl.DataFrame) -> pl.DataFrame:
    """`__mac_number`: the `Device MAC` as delivered where it is `MAC_AS_NUMBER`, else NULL.
    The pattern runs only on the values not 12 characters long (nearly every MAC is)."""
    mac = df["device_mac"]
    flag = pl.repeat(None, df.height, dtype=pl.String, eager=True).alias("__mac_number")
    held = (mac.str.len_bytes() != 12).fill_null(False)
    if held.any():
        idx = held.arg_true()
        found = mac.gather(idx)
        damaged = found.to_frame().select(
            pl.when(pl.col("device_mac").str.contains(MAC_AS_NUMBER)).then(pl.col("device_mac"))
        )
        flag = flag.scatter(idx, damaged.to_series())
    return df.with_columns(flag)


SPELLED_ENUMS = tuple(
    c.name for c in CALL_LEGS.input_columns if c.values and not c.closed and not c.case_blind
)
"""The open enumerations whose documented values are stored in their documented spelling
when delivered in another case (`Call type`, `User type`, `Client type`, `Answer indicator`,
`Call outcome`, `Releasing party`). `Direction` (closed) is upper-cased; `Sub client type`
stays raw (its tag compares in any case)."""


def _documented_spelling(df: pl.DataFrame) -> pl.DataFrame:
    """A documented enum value in another case (`sip_inbound`, `user`: a database or BI
    tool's export, which lower-cases `Direction` too) is stored as documented
    (`SIP_INBOUND`, `User`): the views compare the documented spelling (`fct_calls` tells an
    inbound call by `SIP_INBOUND` and a reached person by `User`), and such an export read
    every call unanswered, with no talk time and its inbound calls outbound. Other values
    stay as delivered (open enums). Only the values outside the documented ones are looked
    at (nearly none: one `is_in` per column and chunk)."""
    for name in SPELLED_ENUMS:
        values = CALL_LEGS.column(name).values
        col = df[name]
        odd = (col.is_not_null() & ~col.is_in(values)).fill_null(False)
        if not odd.any():
            continue
        # the first documented spelling of a word in any case (`VirtualLine`, not the
        # docs' typo `VirtuaLline`, which is kept when delivered so)
        spelled = {v.lower(): v for v in reversed(values)}
        idx = odd.arg_true()
        found = col.gather(idx)
        fixed = found.str.to_lowercase().replace_strict(spelled, default=None)
        df = df.with_columns(col.scatter(idx, fixed.fill_null(found)))
    return df


UUID_KEYS = ("report_id", "correlation_id", "user_uuid", "org_uuid", "site_uuid", "department_id")
"""The UUID columns that key, group or join a leg: Control Hub and the APIs write them lower
case (docs/webex-dch.md#value-formats)."""

_UUID = f"^{UUID_RE.pattern}$"


def _lower_uuids(df: pl.DataFrame) -> pl.DataFrame:
    """A UUID of `UUID_KEYS` in upper case (a database's export: SQL Server writes its
    uniqueidentifier so, as PowerShell's [guid] formatting may) is stored lower case: the
    same record from such an export and from Control Hub was two rows (every leg counted
    twice, every call split in two), and its user, org and department matched nothing. A
    value that is no UUID keeps its case. One test for an upper-case hex letter per column
    and chunk (about 0.02 CPU s per column and 1M legs); the rest only where one is found."""
    for name in UUID_KEYS:
        col = pl.col(name)
        if not df[name].str.contains("[A-F]").any():
            continue
        lower = pl.when(col.str.contains(_UUID)).then(col.str.to_lowercase()).otherwise(col)
        df = df.with_columns(lower.alias(name))
    return df


HEADERS = {c.name: c.headers[0] for c in CALL_LEGS.input_columns if c.headers}
"""The export's spelling of each column, for the reject details."""


def _synthetic_report_id(parts: str) -> str:
    return "synth-" + hashlib.sha256(parts.encode()).hexdigest()[:32]


def derive_calls(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Check]]:
    df = _lower_uuids(_documented_spelling(_mac_as_number(df))).with_columns(
        # trimmed by normalize (`CALL_LEGS.trimmed`), as are the ids and the MAC
        (pl.col("sub_client_type").str.to_uppercase() == WEBEX_GO_SUB_CLIENT_TYPE)
        .fill_null(False)
        .alias("is_webex_go"),
        pl.col("start_time").dt.date().alias("call_date"),
        pl.col("device_mac").str.to_uppercase().str.replace_all(r"[:\-.]", ""),
        # a closed list of two upper-case words: `originating` (a database or BI tool's
        # export) is ORIGINATING, not a value every call-level view misses and validate fails
        pl.col("direction").str.to_uppercase(),
    )
    missing_id = df["report_id"].is_null()
    if missing_id.any():
        # docs/webex-dch.md#dedup-key: a stable hash of (correlation_id, local_call_id, direction,
        # start_time)
        basis = df.select(
            pl.concat_str(
                [
                    pl.col("correlation_id"),
                    pl.col("local_call_id"),
                    pl.col("direction"),
                    pl.col("start_time").dt.strftime(ISO_MS_STRFTIME),
                ],
                separator="|",
                ignore_nulls=True,
            )
        ).to_series()
        ids = [
            _synthetic_report_id(b) if m else None
            for b, m in zip(basis.to_list(), missing_id.to_list(), strict=True)
        ]
        df = df.with_columns(pl.coalesce(pl.col("report_id"), pl.Series(ids, dtype=pl.String)))
    checks = spreadsheet_numbers({name: HEADERS[name] for name in DIGIT_TEXT})
    df = mark_floats(mark_misread(df, list(NAME_TEXT)), list(FLOAT_TEXT))
    checks += float_numbers({name: HEADERS[name] for name in FLOAT_TEXT})
    checks += misread_text({name: HEADERS[name] for name in NAME_TEXT})
    checks.append(
        Check(
            "spreadsheet_number",
            pl.col("__mac_number").is_not_null(),
            pl.format(
                f"{HEADERS['device_mac']}: '{{}}' is a MAC of digits a spreadsheet read as a "
                "number: its leading zeros or rounded-away digits are lost (a MAC has 12 hex "
                "digits)",
                pl.col("__mac_number").str.slice(0, 80),
            ),
        )
    )
    offset = pl.col("site_timezone_offset_minutes")
    checks.append(
        # every zone's offset is a multiple of 15 minutes (+5:45, -9:30) from -12:00 to
        # +14:00: another value is hours (-5), seconds (-14400, a multiple of 15 too) or no
        # offset at all, and read as minutes it would shift every local time (by ten days)
        Check(
            "bad_timezone_offset",
            (offset % 15 != 0) | ~offset.is_between(*SITE_OFFSET_RANGE),
            pl.format(
                "Site timezone: {} is no offset in minutes (every zone's is a multiple of 15 "
                "from -720 to 840: -300 for UTC-5); hours or seconds?",
                offset,
            ),
        )
    )
    checks += [
        Check(
            "negative_duration",
            pl.col(name) < 0,
            pl.format(f"{name}: impossible negative value {{}}", pl.col(name)),
        )
        for name in DURATIONS
    ]
    return df, checks
