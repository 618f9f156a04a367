"""Every configuration key, its type and its allowed range, and the one coercer that checks
a value of any source (cdr.toml, a `CDR_*` environment variable, a command-line flag, or a
`Settings(...)` built in code) against it.

Types are strict: an integer key refuses a decimal (`chunk_rows = 1.9`) and a boolean
(`chunk_rows = true`), a number key refuses a boolean, a boolean key refuses `"yes"` in
cdr.toml. Text from the environment is parsed by the same rules (`CDR_CHUNK_ROWS=1.9` is an
error too). Every error names the source, the key and the bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdr_pipeline.config.rules import (
    URL_SECRETS,
    USERINFO,
    file_mode_rule,
    host_rule,
    timezone_rule,
    url_rule,
    warehouse_rule,
)
from cdr_pipeline.errors import ConfigError

REGIONS: dict[str, str] = {
    "us": "analytics-calling.webexapis.com",
    "eu": "analytics-calling-eu.webexapis.com",
    "in": "analytics-calling-in.webexapis.com",
    "au": "analytics-calling-au.webexapis.com",
    "gov": "analytics-calling-gov.webexapis.com",
}
"""Regional hosts of the Detailed Call History APIs (docs/fetch.md)."""

SOURCES = ("feed", "stream")
MAX_LOCATIONS = 10
MAX_PAGE_SIZE = 5000
"""The API's largest `max` per request."""

_TYPE_NAMES = {
    "bool": "true/false",
    "float": "a decimal number",
    "str": "a text",
    "int": "an integer",
    "list": "a list",
    "dict": "a table",
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Key:
    """One configuration key: its type (`int`, `float`, `str`, `path`, `bool`, `names`) and
    its allowed values."""

    name: str
    kind: str
    section: str = ""
    """"" for the top level of cdr.toml, "fetch" for the [fetch] table, "privacy" for the
    [privacy] table (setting `privacy_<name>` of `Settings`)."""
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    """Greater than zero (for numbers where 0 would mean nothing works)."""
    choices: tuple[str, ...] = ()
    optional: bool = False
    """None is allowed (the default means "not set"); a source cannot set None."""
    rule: Callable[[Any], str | None] | None = None
    """A further check of the typed value; returns what is wrong, or None."""
    flag_name: str = ""
    """The command-line flag, when it is not `--<name>` (`lock_wait_seconds`: `--wait-lock`)."""
    has_flag: bool = False
    """A command sets it by its flag (`--chunk-rows`); the others only by file or variable."""

    @property
    def label(self) -> str:
        """The key as written in TOML: `chunk_rows`, `fetch.page_size`."""
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def env(self) -> str:
        """Its environment variable: `CDR_CHUNK_ROWS`, `CDR_FETCH_PAGE_SIZE`."""
        return "CDR_" + (f"{self.section}_" if self.section else "").upper() + self.name.upper()

    @property
    def flag(self) -> str:
        return self.flag_name or "--" + self.name.replace("_", "-")

    @property
    def hint(self) -> str:
        """Where to fix a bad value: the flag only when a command has one."""
        where = f"[{self.section}] {self.name}" if self.section else self.name
        if self.has_flag:
            return f"fix {where} in cdr.toml, the {self.env} environment variable or {self.flag}"
        return f"fix {where} in cdr.toml or the {self.env} environment variable"


def _names(value: tuple[str, ...]) -> str | None:
    if len(value) > MAX_LOCATIONS:
        return f"at most {MAX_LOCATIONS} names"
    # the API takes the names comma-separated: 'Berlin, HQ' was asked as 'Berlin' and
    # 'HQ', its records never came, and the run moved the watermark past them (exit 0)
    joined = [name for name in value if "," in name]
    if joined:
        return f"{joined[0]!r} holds a comma, which the API reads as two names"
    return None


DAYS_MAX = 36_525
"""Any count of days (a century): date arithmetic past it overflowed (`--retain-days
99999999999` ended in exit 1) or made a view's SQL fail (`code_expiry_days`)."""
HOURS_MAX = 24 * DAYS_MAX
MEMORY_MB_MAX = 2**30
"""MiB of DuckDB memory (1 PiB): DuckDB refuses a memory_limit much past it, which a
build met as an unexpected error."""


SETTINGS_KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("warehouse", "path", rule=warehouse_rule, has_flag=True),
        Key("inbox", "path", optional=True, has_flag=True),
        Key("chunk_rows", "int", minimum=1, has_flag=True),
        Key("max_reject_rate", "float", minimum=0.0, maximum=1.0, has_flag=True),
        Key("code_expiry_days", "int", minimum=1, maximum=DAYS_MAX),
        Key("reporting_timezone", "str", rule=timezone_rule),
        Key("retain_days", "int", minimum=1, maximum=DAYS_MAX, optional=True, has_flag=True),
        Key("lock_wait_seconds", "float", minimum=0.0, flag_name="--wait-lock", has_flag=True),
        Key("idle_days", "int", minimum=1, maximum=DAYS_MAX),
        Key("close_after_days", "int", minimum=0, maximum=27, optional=True),  # < February
        Key("excel_csv", "bool", optional=True, has_flag=True),
        # hours a replaced data file stays on disk for readers of older table versions
        Key(
            "vacuum_grace_hours",
            "int",
            minimum=0,
            maximum=HOURS_MAX,
            flag_name="--grace-hours",
            has_flag=True,
        ),
        # DuckDB's memory for a build, in MiB (past it, it spills to disk)
        Key("build_memory_mb", "int", minimum=64, maximum=MEMORY_MB_MAX),
        # DuckDB's memory for an ingest's partition merges, in MiB (two share it)
        Key("merge_memory_mb", "int", minimum=64, maximum=MEMORY_MB_MAX),
        # input limits (docs/limits.md): past one, the file fails with exit 3; the upper
        # bounds keep the parsers safe (Python refuses integers of more than 4,300 digits,
        # the JSON parser recurses per nesting level)
        Key("max_unpacked_bytes", "int", minimum=1024**2, maximum=2**50),
        Key("max_unpacked_ratio", "int", minimum=10, maximum=100_000),
        Key("max_header_bytes", "int", minimum=4096, maximum=256 * 1024**2),
        Key("max_columns", "int", minimum=10, maximum=1_000_000),
        Key("max_record_bytes", "int", minimum=4096, maximum=1024**3),
        Key("max_value_bytes", "int", minimum=1024, maximum=1024**3),
        Key("max_json_depth", "int", minimum=4, maximum=1000),
        Key("max_json_number_digits", "int", minimum=20, maximum=4000),
        Key("max_zip_members", "int", minimum=1, maximum=1_000_000),
        Key("max_file_days", "int", minimum=1, maximum=DAYS_MAX),  # every day of 2000-2099
        # personal data at rest: permission bits of the files written (folders get x where
        # files get r)
        Key("file_mode", "mode", rule=file_mode_rule),
    )
} | {
    f"privacy_{k.name}": k
    for k in (
        # personal data ([privacy] in cdr.toml): call legs older than this many days keep
        # pseudonyms instead of personal fields; digits of a number analysts still see
        Key("personal_days", "int", "privacy", minimum=1, maximum=DAYS_MAX, optional=True),
        Key("prefix_digits", "int", "privacy", minimum=0, maximum=15),
    )
}
"""Keys of cdr.toml: top level, and `privacy_<name>` for `<name>` of the [privacy] table."""

PRIVACY_PREFIX = "privacy_"
"""Settings named so are the keys of cdr.toml's [privacy] table (`privacy.personal_days`)."""

FETCH_KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("source", "str", "fetch", choices=SOURCES, has_flag=True),
        Key("region", "str", "fetch", choices=tuple(REGIONS), has_flag=True),
        Key("host", "str", "fetch", optional=True, rule=host_rule),
        Key("base_url", "str", "fetch", optional=True, rule=url_rule, has_flag=True),
        Key("api_url", "str", "fetch", optional=True, rule=url_rule),
        Key("token_file", "path", "fetch", optional=True),
        Key("org_id", "str", "fetch", optional=True),
        Key("overlap_hours", "float", "fetch", minimum=0.0, maximum=HOURS_MAX),
        Key("late_hours", "float", "fetch", minimum=0.0, maximum=HOURS_MAX),
        Key("lookback_hours", "float", "fetch", minimum=0.0, maximum=HOURS_MAX),
        Key("page_size", "int", "fetch", minimum=1, maximum=MAX_PAGE_SIZE),
        Key("locations", "names", "fetch", rule=_names, has_flag=True),
        Key("retries", "int", "fetch", minimum=0),
        Key("backoff_seconds", "float", "fetch", minimum=0.0),
        Key("timeout_seconds", "float", "fetch", positive=True),
        Key("max_region_redirects", "int", "fetch", minimum=0),
        Key("nightly", "bool", "fetch", flag_name="--fetch", has_flag=True),
    )
}
"""Keys of the [fetch] table."""

ALL_KEYS = [*SETTINGS_KEYS.values(), *FETCH_KEYS.values()]

_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "str": "a text",
    "path": "a path",
    "bool": "true or false",
    "names": "a list of names",
    "mode": "octal permission bits such as 0o600",
}


def _problem_of_type(key: Key, value: Any) -> tuple[Any, str | None]:
    """(typed value, None) or (None, what is wrong) for a value from TOML, a flag or code."""
    got = f"got {_TYPE_NAMES.get(type(value).__name__, type(value).__name__)}"
    typed, problem = _TYPERS[key.kind](key.kind, value)
    if problem == _WRONG_TYPE:
        return None, f"expected {_EXPECTED[key.kind]}, {got}"
    return typed, problem


_WRONG_TYPE = "wrong type"


def _as_int(kind: str, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, _WRONG_TYPE
    return value, None


def _as_float(kind: str, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, _WRONG_TYPE
    if not math.isfinite(value):
        return None, "expected a finite number"
    return float(value), None


def _as_bool(kind: str, value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (None, _WRONG_TYPE)


def _as_names(kind: str, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return None, _WRONG_TYPE
    return tuple(v.strip() for v in value if v.strip()), None


def _as_text(kind: str, value: Any) -> tuple[Any, str | None]:
    """str and path keys: non-empty text (a Path is taken as it is for a path key)."""
    if isinstance(value, Path) and kind == "path":
        return value, None
    if not isinstance(value, str):
        return None, _WRONG_TYPE
    if not value.strip():
        return None, "must not be empty"
    if kind == "path":
        return Path(value).expanduser(), None
    return value.strip(), None


_TYPERS: dict[str, Callable[[str, Any], tuple[Any, str | None]]] = {
    "int": _as_int,
    "mode": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "names": _as_names,
    "str": _as_text,
    "path": _as_text,
}


def _from_text(key: Key, text: str) -> tuple[Any, str | None]:
    """A typed value from the text of an environment variable: the same rules as TOML."""
    raw = text.strip()
    if key.kind == "int":
        try:
            return _problem_of_type(key, int(raw, 10))
        except ValueError:
            return None, f"expected {_EXPECTED['int']}"
    if key.kind == "mode":  # "0640", "0o640" or "640": octal, as chmod reads it
        try:
            return _problem_of_type(key, int(raw.lower().removeprefix("0o"), 8))
        except ValueError:
            return None, f"expected {_EXPECTED['mode']}"
    if key.kind == "float":
        try:
            return _problem_of_type(key, float(raw))
        except ValueError:
            return None, f"expected {_EXPECTED['float']}"
    if key.kind == "bool":
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE, None
        return None, "expected true or false"
    return _problem_of_type(key, text)


def _bound(value: float) -> str:
    """A range bound as written: 4,096 for an integer (never 1.07374e+09), 0.5 for a number."""
    return f"{value:,}" if float(value).is_integer() else f"{value:g}"


def _problem_of_range(key: Key, value: Any) -> str | None:
    if key.minimum is not None and key.maximum is not None:
        if not key.minimum <= value <= key.maximum:
            return f"must be between {_bound(key.minimum)} and {_bound(key.maximum)}"
    elif key.minimum is not None and value < key.minimum:
        return f"must be at least {_bound(key.minimum)}"
    if key.positive and value <= 0:
        return "must be greater than 0"
    if key.choices and value not in key.choices:
        return f"must be one of {', '.join(key.choices)}"
    return key.rule(value) if key.rule is not None else None


def coerce(key: Key, value: Any, origin: str, *, text: bool = False) -> Any:
    """`value` of `key` checked and typed, or a ConfigError naming `origin` (a file, an
    environment variable or a flag), the key and the value. `text`: the value is the text
    of an environment variable."""
    typed: Any
    problem: str | None
    if value is None:
        if key.optional:
            return None
        typed, problem = None, f"expected {_EXPECTED[key.kind]}, got nothing"
    elif text:
        typed, problem = _from_text(key, str(value))
    else:
        typed, problem = _problem_of_type(key, value)
    if problem is None:
        problem = _problem_of_range(key, typed)
    if problem is not None:
        raise ConfigError(
            f"{origin}: bad value for {key.label!r}: {_shown_of(key, value, text)} ({problem})",
            hint=key.hint,
        )
    return typed


def _shown_of(key: Key, value: Any, text: bool) -> str:
    """`shown(value)`, but a permission mode read from cdr.toml in octal, as it is written
    there (`0o644`, never TOML's integer 420), noting a mode written without its `0o`."""
    if key.kind != "mode" or text or type(value) is not int or value < 0:
        return shown(value)
    digits = str(value)
    if value > 0o777 and len(digits) == 3 and set(digits) <= set("01234567"):  # chmod's 640
        return f"{value} (TOML reads it as a decimal number, {value:#o}: write 0o{digits})"
    return f"{value:#o}"


def shown(value: Any) -> str:
    """A value as it would be written in cdr.toml (`true`, `"text"`, `[1, 2]`), so the
    message shows what the user wrote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):  # a URL's user:password never shown
        text = URL_SECRETS.sub(r"\1[REDACTED]", USERINFO.sub(r"\1[REDACTED]@", str(value)))
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {shown(v)}" for k, v in value.items()) + "}"
    return repr(value)


def unknown_key(origin: str, name: str, known: dict[str, Key], section: str = "") -> ConfigError:
    """The error for a key nobody knows (a typo must not fall back to a default)."""
    label = f"{section}.{name}" if section else name
    table = f"[{section}] " if section else ""
    return ConfigError(
        f"{origin}: unknown key {label!r}",
        hint=f"known {table}keys: {', '.join(sorted(known))}",
    )


def checked_fields(obj: Any, keys: dict[str, Key], origin: str) -> None:
    """Check (and normalise: an int given for a float key becomes a float) every field of a
    frozen dataclass built in code, with the same rules as a value read from cdr.toml."""
    for name, key in keys.items():
        value = getattr(obj, name)
        typed = coerce(key, value, origin)
        if typed is not value:
            object.__setattr__(obj, name, typed)
