"""Configuration: typed `Settings` (with the [fetch] table as `FetchOptions`), every key's
type and range in `config.keys`, and `load_settings` for the layered sources
(defaults < cdr.toml < CDR_* environment variables < flags)."""

from cdr_pipeline.config.fetch import API_URL, FetchOptions
from cdr_pipeline.config.keys import (
    ALL_KEYS,
    FETCH_KEYS,
    MAX_LOCATIONS,
    REGIONS,
    SETTINGS_KEYS,
    SOURCES,
    Key,
    coerce,
)
from cdr_pipeline.config.loader import load_settings, with_fetch_flags
from cdr_pipeline.config.settings import Settings

__all__ = [
    "ALL_KEYS",
    "API_URL",
    "FETCH_KEYS",
    "MAX_LOCATIONS",
    "REGIONS",
    "SETTINGS_KEYS",
    "SOURCES",
    "FetchOptions",
    "Key",
    "Settings",
    "coerce",
    "load_settings",
    "with_fetch_flags",
]
