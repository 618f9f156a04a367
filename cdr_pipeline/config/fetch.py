"""`FetchOptions`: the [fetch] table of cdr.toml, a typed part of `Settings`.

The API token is not an option: `cdr_pipeline.fetch` reads it from `WEBEX_TOKEN` or the file
named by `token_file` when a fetch runs, so it is never held in Settings, logged or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdr_pipeline.config.keys import FETCH_KEYS, REGIONS, checked_fields

API_URL = "https://webexapis.com"
"""Base of the general Webex APIs (people/me, Reports)."""


@dataclass(frozen=True)
class FetchOptions:
    """Options of `cdr fetch`. Every field is a key of the [fetch] table (docs/fetch.md);
    every value is checked when the options are made, whatever their source."""

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

    def __post_init__(self) -> None:
        checked_fields(self, FETCH_KEYS, "FetchOptions")

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
