"""Settings: defaults < cdr.toml < CDR_* environment variables < command-line flags.

`cdr.toml` is looked up in the working directory unless a path is given (`--config` or
`CDR_CONFIG`). Unknown keys are an error naming the key, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.state.layout import Layout


@dataclass(frozen=True)
class Settings:
    warehouse: Path = Path("warehouse")
    inbox: Path | None = None
    chunk_rows: int = 25_000
    max_reject_rate: float = 0.01
    code_expiry_days: int = 90
    reporting_timezone: str = "UTC"
    retain_days: int | None = None
    lock_wait_seconds: float = 0.0
    idle_days: int = 30
    vacuum_grace_hours: int = 24
    """Hours a replaced data file stays on disk for readers of older versions."""
    fetch: dict[str, Any] = field(default_factory=dict)
    """Options of `cdr fetch` (the [fetch] table of cdr.toml)."""

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise ConfigError(f"chunk_rows must be at least 1, got {self.chunk_rows}")
        if not 0.0 <= self.max_reject_rate <= 1.0:
            raise ConfigError(
                f"max_reject_rate must be between 0 and 1, got {self.max_reject_rate}",
                hint="0.01 means 1 % of a file's rows may be quarantined",
            )
        if self.vacuum_grace_hours < 0:
            raise ConfigError(
                f"vacuum_grace_hours cannot be negative, got {self.vacuum_grace_hours}"
            )
        if self.code_expiry_days < 1:
            raise ConfigError(f"code_expiry_days must be positive, got {self.code_expiry_days}")

    @property
    def layout(self) -> Layout:
        """Every path of the warehouse."""
        return Layout(self.warehouse)


_FIELDS = {f.name: f for f in fields(Settings)}
_PATHS = {"warehouse", "inbox"}
_INTS = {"chunk_rows", "code_expiry_days", "retain_days", "idle_days", "vacuum_grace_hours"}
_FLOATS = {"max_reject_rate", "lock_wait_seconds"}


def _coerce(key: str, value: Any, origin: str) -> Any:
    try:
        if value is None:
            return None
        if key in _PATHS:
            return Path(str(value)).expanduser()
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
        if key == "fetch":
            if not isinstance(value, dict):
                raise TypeError("expected a table")
            return dict(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: bad value for {key!r}: {value!r} ({exc})") from exc


def _file_values(path: Path) -> dict[str, Any]:
    """The settings of a `cdr.toml` (top level or its [cdr] table); relative paths in it are
    relative to the file."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in data.get("cdr", data).items():
        if key not in _FIELDS:
            raise ConfigError(
                f"{path}: unknown key {key!r}",
                hint=f"known keys: {', '.join(sorted(_FIELDS))}",
            )
        values[key] = _coerce(key, value, str(path))
    for key in _PATHS:
        if isinstance(values.get(key), Path) and not values[key].is_absolute():
            values[key] = path.parent / values[key]
    return values


def load_settings(
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build Settings from the layered sources. `overrides` are flags (None means not given)."""
    env = dict(os.environ) if env is None else env

    path = config_path or (Path(env["CDR_CONFIG"]) if env.get("CDR_CONFIG") else None)
    if path is None and Path("cdr.toml").is_file():
        path = Path("cdr.toml")
    values = _file_values(path) if path is not None else {}

    for key in _FIELDS:
        env_key = f"CDR_{key.upper()}"
        if env_key in env and key != "fetch":
            values[key] = _coerce(key, env[env_key], env_key)

    for key, value in (overrides or {}).items():
        if value is not None:
            if key not in _FIELDS:
                raise ConfigError(f"unknown setting {key!r}")
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    return replace(Settings(), **values)
