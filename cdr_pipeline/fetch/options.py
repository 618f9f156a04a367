"""Options of `cdr fetch`: the `[fetch]` table of cdr.toml, validated, plus the API token.

The token comes from the `WEBEX_TOKEN` environment variable, else from the file named by
`token_file`. It is never stored in Settings, logged, or written anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.fetch.token_file import read_secret_file

REGIONS: dict[str, str] = {
    "us": "analytics-calling.webexapis.com",
    "eu": "analytics-calling-eu.webexapis.com",
    "in": "analytics-calling-in.webexapis.com",
    "au": "analytics-calling-au.webexapis.com",
    "gov": "analytics-calling-gov.webexapis.com",
}
"""Regional hosts of the Detailed Call History APIs (reference §2.2)."""

API_URL = "https://webexapis.com"
"""Base of the general Webex APIs (people/me, Reports)."""

SOURCES = ("feed", "stream")
MAX_LOCATIONS = 10


@dataclass(frozen=True)
class FetchOptions:
    """Validated `[fetch]` options. Every field is a cdr.toml key of the `[fetch]` table."""

    source: str = "feed"
    region: str = "us"
    host: str | None = None
    """Analytics host name (e.g. the older `analytics.webexapis.com`); overrides `region`."""
    base_url: str | None = None
    """Full base URL for every request (analytics, people/me, Reports): a proxy or test server."""
    api_url: str | None = None
    """Base URL of people/me and the Reports API (default https://webexapis.com)."""
    token_file: Path | None = None
    org_id: str | None = None
    """Org whose watermark is kept; default: the token's own org (`/v1/people/me`)."""
    overlap_hours: float = 2.0
    late_hours: float = 2.0
    lookback_hours: float = 24.0
    page_size: int = 5000
    locations: tuple[str, ...] = ()
    retries: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0
    max_region_redirects: int = 3
    nightly: bool = False
    """`cdr nightly` runs a fetch before it ingests the inbox."""

    @property
    def analytics_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{self.host or REGIONS[self.region]}"

    @property
    def general_api_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        if self.base_url:
            return self.base_url.rstrip("/")
        return API_URL


_FIELDS = {f.name: f for f in fields(FetchOptions)}
_FLOATS = {
    "overlap_hours",
    "late_hours",
    "lookback_hours",
    "backoff_seconds",
    "timeout_seconds",
}
_INTS = {"page_size", "retries", "max_region_redirects"}
_STRS = {"source", "region", "host", "base_url", "api_url", "org_id"}


def _coerce(key: str, value: Any) -> Any:
    if key in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
        return float(value)
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an integer")
        return value
    if key in _STRS:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return value.strip()
    if key == "token_file":
        if not isinstance(value, (str, Path)):
            raise TypeError("expected a path")
        return Path(str(value)).expanduser()
    if key == "locations":
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError("expected a list of location names")
        return tuple(v.strip() for v in value if v.strip())
    if key == "nightly":
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    raise TypeError("unsupported key")  # pragma: no cover - _FIELDS guards this


def fetch_options(table: Mapping[str, Any] | None, **overrides: Any) -> FetchOptions:
    """Validate the `[fetch]` table (unknown keys and bad values are a ConfigError) and apply
    command-line overrides (None means not given)."""
    values: dict[str, Any] = {}
    for origin, source in (("[fetch]", table or {}), ("option", overrides)):
        for key, value in source.items():
            if value is None:
                continue
            if key not in _FIELDS:
                raise ConfigError(
                    f"{origin}: unknown key {key!r}",
                    hint=f"known [fetch] keys: {', '.join(sorted(_FIELDS))}",
                )
            try:
                values[key] = _coerce(key, value)
            except TypeError as exc:
                raise ConfigError(f"{origin}: bad value for {key!r}: {value!r} ({exc})") from exc
    opts = replace(FetchOptions(), **values)
    _check(opts)
    return opts


def _check(o: FetchOptions) -> None:
    if o.source not in SOURCES:
        raise ConfigError(f"[fetch] source must be one of {', '.join(SOURCES)}, got {o.source!r}")
    if o.region not in REGIONS:
        raise ConfigError(
            f"[fetch] unknown region {o.region!r}",
            hint=f"one of: {', '.join(REGIONS)} (or set host / --base-url)",
        )
    for key in ("base_url", "api_url"):
        url = getattr(o, key)
        if url and not url.startswith(("https://", "http://")):
            raise ConfigError(f"[fetch] {key} must start with https:// or http://, got {url!r}")
    if len(o.locations) > MAX_LOCATIONS:
        raise ConfigError(
            f"[fetch] at most {MAX_LOCATIONS} locations per request, got {len(o.locations)}",
            hint="the API accepts up to 10 location names; run fetch once per group of locations",
        )
    for key in ("overlap_hours", "late_hours", "lookback_hours", "backoff_seconds"):
        if getattr(o, key) < 0:
            raise ConfigError(f"[fetch] {key} must not be negative, got {getattr(o, key)}")
    if o.timeout_seconds <= 0:
        raise ConfigError(f"[fetch] timeout_seconds must be positive, got {o.timeout_seconds}")
    if o.page_size < 1:
        raise ConfigError(f"[fetch] page_size must be at least 1, got {o.page_size}")
    if o.retries < 0 or o.max_region_redirects < 0:
        raise ConfigError("[fetch] retries and max_region_redirects must not be negative")


def read_token(options: FetchOptions, env: Mapping[str, str] | None = None) -> str:
    """The API token: `WEBEX_TOKEN`, else the content of `token_file`. Never logged."""
    env = os.environ if env is None else env
    token = env.get("WEBEX_TOKEN", "").strip()
    if not token and options.token_file is not None:
        token = read_secret_file(options.token_file)
    if not token:
        raise ConfigError(
            "no Webex API token: set WEBEX_TOKEN or [fetch] token_file in cdr.toml",
            hint="the token needs scope spark-admin:calling_cdr_read and the admin role "
            "'Webex Calling Detailed Call History API access' (Reports: analytics:read_all)",
        )
    if any(c.isspace() for c in token):
        raise ConfigError("the Webex API token contains whitespace; check WEBEX_TOKEN/token_file")
    return token
