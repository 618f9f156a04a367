"""Writing call legs the way Webex delivers them (docs/webex-dch.md#quirks-checklist).

Two CSV styles and the API JSON form:

* `controlhub` — the Control Hub report: CSV spellings (`Device Mac`, `Call transfer time`,
  `PSTN vendor name`, `Answer Indicator`...), spreadsheet booleans `TRUE`/`FALSE`, `NA` for
  missing times and client fields, empty elsewhere.
* `api` — API key spellings, `true`/`false`, empty nulls, a few `Release time` values in the
  space form `2026-10-01 11:02:32.621` (no Z).
* JSON — `{"items": [{header: value}]}`: numbers are JSON numbers, `Answered` the string
  "true"/"false", missing values left out.

All CSV output: UTF-8 with BOM, CRLF line endings, RFC-4180 quoting by the csv module.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from cdr_pipeline.text import iso_ms

# (canonical name, API spelling, Control Hub CSV spelling)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("start_time", "Start time", "Start time"),
    ("answer_time", "Answer time", "Answer time"),
    ("duration_seconds", "Duration", "Duration"),
    ("calling_number", "Calling number", "Calling number"),
    ("called_number", "Called number", "Called number"),
    ("user_name", "User", "User"),
    ("calling_line_id", "Calling line ID", "Calling line ID"),
    ("called_line_id", "Called line ID", "Called line ID"),
    ("correlation_id", "Correlation ID", "Correlation ID"),
    ("location_name", "Location", "Location"),
    ("direction", "Direction", "Direction"),
    ("call_type", "Call type", "Call type"),
    ("client_type", "Client type", "Client type"),
    ("client_version", "Client version", "Client version"),
    ("sub_client_type", "Sub client type", "Sub client type"),
    ("os_type", "OS type", "OS type"),
    ("device_mac", "Device MAC", "Device Mac"),
    ("model", "Model", "Model"),
    ("answered", "Answered", "Answered"),
    ("answer_indicator", "Answer indicator", "Answer Indicator"),
    ("answered_elsewhere", "Answered Elsewhere", "Answered Elsewhere"),
    ("call_id", "Call ID", "Call ID"),
    ("user_uuid", "User UUID", "User UUID"),
    ("org_uuid", "Org UUID", "Org UUID"),
    ("report_id", "Report ID", "Report ID"),
    ("report_time", "Report time", "Report time"),
    ("release_time", "Release time", "Release time"),
    ("ring_duration_seconds", "Ring duration", "Ring duration"),
    ("hold_duration_seconds", "Hold Duration", "Hold Duration"),
    ("site_main_number", "Site main number", "Site main number"),
    ("site_timezone_offset_minutes", "Site timezone", "Site timezone"),
    ("site_uuid", "Site UUID", "Site UUID"),
    ("department_id", "Department ID", "Department ID"),
    ("user_type", "User type", "User type"),
    ("user_number", "User number", "User number"),
    ("dialed_digits", "Dialed digits", "Dialed digits"),
    ("caller_id_number", "Caller ID number", "Caller ID number"),
    ("external_caller_id_number", "External caller ID number", "External caller ID number"),
    ("redirecting_number", "Redirecting number", "Redirecting number"),
    ("call_outcome", "Call outcome", "Call outcome"),
    ("call_outcome_reason", "Call outcome reason", "Call outcome reason"),
    ("releasing_party", "Releasing party", "Releasing party"),
    ("original_reason", "Original reason", "Original reason"),
    ("redirect_reason", "Redirect reason", "Redirect reason"),
    ("related_reason", "Related reason", "Related reason"),
    ("call_transfer_time", "Call transfer Time", "Call transfer time"),
    ("transfer_related_call_id", "Transfer related call ID", "Transfer related call ID"),
    ("local_call_id", "Local call ID", "Local call ID"),
    ("remote_call_id", "Remote call ID", "Remote call ID"),
    ("network_call_id", "Network call ID", "Network call ID"),
    ("local_session_id", "Local SessionID", "Local SessionID"),
    ("remote_session_id", "Remote SessionID", "Remote SessionID"),
    ("final_local_session_id", "Final local SessionID", "Final local sessionID"),
    ("final_remote_session_id", "Final remote SessionID", "Final remote sessionID"),
    ("redirecting_party_uuid", "Redirecting party UUID", "Redirecting party UUID"),
    ("original_called_party_uuid", "Original Called Party UUID", "Original called party UUID"),
    ("international_country", "International country", "International Country"),
    ("interaction_id", "Interaction ID", "Interaction ID"),
    ("auto_attendant_key_pressed", "Auto Attendant Key Pressed", "Auto Attendant Key Pressed"),
    ("pstn_vendor_name", "PSTN Vendor Name", "PSTN vendor name"),
    ("pstn_legal_entity", "PSTN Legal Entity", "PSTN legal entity"),
    ("pstn_vendor_org_id", "PSTN Vendor Org ID", "PSTN vendor Org ID"),
    ("pstn_provider_id", "PSTN Provider ID", "PSTN provider ID"),
)
API_HEADERS = tuple(api for _, api, _ in COLUMNS)
CONTROLHUB_HEADERS = tuple(ch for _, _, ch in COLUMNS)
_NA_IN_CONTROLHUB = frozenset(
    {
        "answer_time",
        "sub_client_type",
        "client_version",
        "device_mac",
        "model",
        "call_transfer_time",
    }
)
_JSON_NUMBERS = frozenset({"duration_seconds", "ring_duration_seconds", "hold_duration_seconds"})
BOM = "\ufeff"


def space_form(t: datetime) -> str:
    """The official example's `Release time`: `2023-10-12 21:22:32.621` (space, no Z)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _cell(name: str, value: object, style: str, space: bool) -> str:
    if value is None or value == "":
        return "NA" if style == "controlhub" and name in _NA_IN_CONTROLHUB else ""
    if isinstance(value, bool):
        text = "true" if value else "false"
        return text.upper() if style == "controlhub" else text
    if isinstance(value, datetime):
        return space_form(value) if space and name == "release_time" else iso_ms(value)
    return str(value)


def cell(name: str, value: object, style: str, space: bool = False) -> str:
    """One CSV field of a leg in `style` ("controlhub" or "api"), as `csv_rows` writes it
    before quoting; `space` writes a Release time in the space form."""
    return _cell(name, value, style, space)


def csv_rows(
    legs: Iterable[dict[str, object]], style: str, space_release: Sequence[bool] = ()
) -> Iterable[list[str]]:
    for i, leg in enumerate(legs):
        space = bool(space_release[i]) if i < len(space_release) else False
        yield [_cell(name, leg.get(name), style, space) for name, _, _ in COLUMNS]


def write_csv_text(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = True
) -> bytes:
    """CSV bytes: optional BOM, CRLF, RFC-4180 minimal quoting."""
    buf = io.StringIO(newline="")
    if bom:
        buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_zip(path: Path, member: str, payload: bytes) -> None:
    """A ZIP whose name has no `.zip` extension (as the Reports API delivers it).

    The member's timestamp is fixed so that the same input gives the same bytes."""
    info = zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, payload)


def json_item(leg: dict[str, object], space_release: bool) -> dict[str, object]:
    item: dict[str, object] = {}
    for name, api, _ in COLUMNS:
        value = leg.get(name)
        if value is None or value == "":
            continue
        if name in _JSON_NUMBERS:
            item[api] = value
        elif isinstance(value, bool):
            item[api] = "true" if value else "false"
        elif isinstance(value, datetime):
            item[api] = (
                space_form(value) if space_release and name == "release_time" else iso_ms(value)
            )
        else:
            item[api] = str(value)
    return item


def write_json_page(path: Path, items: list[dict[str, object]]) -> None:
    text = json.dumps({"items": items}, ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")


def write_plain_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = True
) -> None:
    path.write_bytes(write_csv_text(header, rows, bom=bom))
