"""Checks of a configuration value beyond its type (`Key.rule` in `config/keys.py`): each
returns what is wrong with the value, or None."""

from __future__ import annotations

import re
import urllib.parse
import zoneinfo
from pathlib import Path


def timezone_rule(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # (OSError: a folder of the database such as "America", a name too long)
        same = [n for n in zoneinfo.available_timezones() if n.lower() == value.lower()]
        hint = f"; did you mean {same[0]!r}?" if same else ""
        return f"{value!r} is not a time zone (an IANA name such as UTC or Europe/Paris){hint}"
    return None


PATTERN_CHARS = "[]*?{}"


def warehouse_rule(value: Path) -> str | None:
    """DuckDB, polars and Spark (Hadoop) read these characters in a path as a file pattern:
    a warehouse under `exports [old]/` took rows in, then could not read its own ledger.
    DuckDB reads every `key=value` folder of a data file's path as a partition column: under
    `deployment=prod/` each device's `deployment` read as `prod`."""
    if found := sorted({c for c in str(value.absolute()) if c in PATTERN_CHARS}):
        return (
            f"{value.absolute()} contains {' '.join(found)}, which DuckDB, polars and Spark "
            "read as a file pattern: use a folder whose path has none of " + PATTERN_CHARS
        )
    # the views name the files by their resolved paths: a link to such a folder is one too
    if named := [p for p in (*value.absolute().parts, *value.resolve().parts) if "=" in p]:
        return (
            f"{value.resolve()} has a folder named {named[0]!r}, which DuckDB reads as a "
            "partition column of every table file below it (its value replaces a column of "
            "that name): use a folder whose path has no '='"
        )
    return None


USERINFO = re.compile(r"(?i)(https?://)[^/@]*@")
"""Credentials in a URL, a blank in a password too (shown, the value is without them)."""
URL_SECRETS = re.compile(
    r"(?i)([?&](?:token|access_token|sig|signature|x-amz-signature|x-amz-credential)=)[^&#\s]+"
)
"""Query parameters that carry a credential in a URL (a pre-signed report download link, a
token pasted into a base URL): a URL shown is without their values."""


def url_rule(value: str) -> str | None:
    if not value.startswith(("https://", "http://")):
        return "must start with https:// or http://"
    if USERINFO.match(value):
        # they would go to every host the client talks to, and into every message naming it
        return "credentials in a URL are not taken: the token comes from WEBEX_TOKEN or token_file"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "a URL has no blanks or control characters (encode a blank in a path as %20)"
    if "?" in value or "#" in value:
        # the client appends the API's paths (/v1/people/me, /v1/cdr_feed): after a query
        # they would land inside it (https://host/?x=1/v1/cdr_feed), a URL that fails
        return "a base URL only (scheme, host, optional path), without ?query or #fragment"
    return _authority(value.split("//", 1)[1].split("/", 1)[0])


def host_rule(value: str) -> str | None:
    if "/" in value:
        return "a host name only (no scheme, no path), e.g. analytics.webexapis.com"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "a host name has no blanks or control characters"
    return _authority(value)


def _authority(text: str) -> str | None:
    """What is wrong with the `host[:port]` of a URL. Unchecked, a port typo (`:80800`)
    ended `cdr fetch` as an unexpected ValueError to report, and a blank in the URL or no
    host at all was retried as a network failure for a minute before the error."""
    host = "a host name is needed, e.g. https://analytics-calling.webexapis.com"
    try:
        parsed = urllib.parse.urlsplit("//" + text)
    except ValueError:  # an IPv6 address without its closing bracket
        return host
    try:
        port = parsed.port
    except ValueError:
        port = 0
    if port == 0 or text.endswith(":"):
        return "the port must be a number from 1 to 65535, e.g. http://127.0.0.1:8080"
    return None if parsed.hostname else host


def file_mode_rule(value: int) -> str | None:
    if value & ~0o770 or value & 0o600 != 0o600:
        return (
            "must give the owner read and write and nobody else more than the group: "
            "0o600 (owner only, the default) or 0o640 (group may read)"
        )
    return None
