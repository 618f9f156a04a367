"""A stream that is one JSON value other than an object or array (a string, number, `true`,
`false` or `null`): valid JSON, but no record and no page. Read as a CSV it failed with a
header message ("the header (abc) matches none of the input kinds", "no line break found")
that sent the user to look for a CSV problem."""

from __future__ import annotations

import json
import re

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.encoding import UTF8_BOM

OPEN_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*\\?')
"""A JSON string not closed within the head: its characters up to the head's end (a CSV
field holds a line break, or ends with its quote followed by a separator, before that)."""


def _scalar(text: str, whole: bool) -> str | None:
    """What JSON scalar `text` (a stream's head, stripped) is, or None. `whole`: the head is
    the whole stream; a string longer than the head is told by its start."""
    if whole:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, dict | list):
            return None
        if value is None or isinstance(value, bool):
            return json.dumps(value)
        return "a string" if isinstance(value, str) else "a number"
    if text.startswith('"') and OPEN_STRING.fullmatch(text):
        return "a string"
    return None


def refuse_json_scalar(head: bytes, name: str, head_bytes: int) -> None:
    """Raise `InputError` (exit 3) when `head` (the stream's first bytes; shorter than
    `head_bytes`: the whole stream) is one JSON string, number, boolean or null."""
    try:
        text = head.removeprefix(UTF8_BOM).decode("utf-8").strip()
    except UnicodeDecodeError:
        return  # a character cut at the head's end: not told here
    what = _scalar(text, len(head) < head_bytes) if text[:1] in '"-0123456789nft' else None
    if what is not None:
        raise InputError(
            f"the file is a JSON document holding {what} and no record or page (an object, "
            "or an array of records): not an export",
            path=name,
            hint="save the API answer whole (an object with an items list, or an array "
            "of records), or export the report again from Control Hub",
        )
