"""`load_settings`: defaults < cdr.toml < CDR_* environment variables < command-line flags.

`cdr.toml` is `--config`, else `CDR_CONFIG`, else the nearest `cdr.toml` in the current
folder or one of its parents (found like git finds its repository). The whole file,
the [fetch] table included, is checked on every load, so a mistake is found by the first
command and not by the night's fetch. An unknown key is an error naming it (a typo never
falls back to a default); relative paths in the file are relative to the file. An
environment variable set to the empty string counts as unset.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cdr_pipeline.config.fetch import FetchOptions
from cdr_pipeline.config.keys import (
    FETCH_KEYS,
    PRIVACY_PREFIX,
    SETTINGS_KEYS,
    Key,
    coerce,
    unknown_key,
)
from cdr_pipeline.config.settings import Settings
from cdr_pipeline.errors import ConfigError, special_kind

_TOP_LEVEL = [k for k in SETTINGS_KEYS if not k.startswith(PRIVACY_PREFIX)] + ["fetch", "privacy"]


def _not_a_file(path: Path, origin: str) -> ConfigError:
    """The error for a config path that names no readable file: nothing, a link to nothing
    (a config-management link whose target is gone) or a folder."""
    if path.is_symlink() and not path.exists():
        return ConfigError(
            f"{origin}: config file {path} is a symbolic link to {os.readlink(path)}, "
            "which does not exist",
            hint="restore the file the link points to, or remove the link to run on the "
            "defaults and CDR_* variables",
        )
    if path.is_dir():
        return ConfigError(
            f"{origin}: config file {path} is a folder, not a file",
            hint="pass --config FILE or set CDR_CONFIG to the file, or rename the folder",
        )
    kind = special_kind(path)
    if kind:  # a named pipe, a device: "does not exist" while ls shows it there
        return ConfigError(
            f"{origin}: config file {path} is {kind}, not a regular file",
            hint="replace it with a TOML file (an empty one for the defaults and CDR_* "
            "variables), or pass --config FILE or set CDR_CONFIG to one",
        )
    return ConfigError(
        f"{origin}: config file {path} does not exist",
        hint="pass --config FILE, set CDR_CONFIG, or run where cdr.toml is",
    )


def _read_toml(path: Path, origin: str) -> dict[str, Any]:
    if not path.is_file():
        raise _not_a_file(path, origin)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{origin}: config file {path} cannot be read ({exc.strerror})",
            hint="let the user cdr runs as read it (ls -l; the unit's User=), or point "
            "--config or CDR_CONFIG at another file",
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} line {line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="save cdr.toml as UTF-8",
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}",
            hint="fix that line: each setting is key = value, a text or path in quotes "
            '(warehouse = "/srv/cdr/warehouse"), a table such as [fetch] on a line of its '
            "own; the committed cdr.toml shows every key",
        ) from exc


def _file_values(path: Path, origin: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, [fetch] options) of a `cdr.toml`, typed and checked. The keys sit at the
    top level or in a [cdr] table; relative paths are relative to the file."""
    data = _read_toml(path, origin)
    if "cdr" in data:
        extra = [k for k in data if k != "cdr"]
        if extra:
            raise ConfigError(
                f"{path}: unknown key {extra[0]!r} beside the [cdr] table",
                hint="with a [cdr] table every setting goes inside it ([cdr.fetch] for fetch)",
            )
        data = data["cdr"]
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: 'cdr' must be a table")
    values: dict[str, Any] = {}
    fetch: dict[str, Any] = {}
    for name, value in data.items():
        if name == "fetch":
            fetch |= _fetch_values(path, value)
            continue
        if name == "privacy":
            values |= _privacy_values(path, value)
            continue
        key = None if name.startswith(PRIVACY_PREFIX) else SETTINGS_KEYS.get(name)
        if key is None:
            raise ConfigError(
                f"{path}: unknown key {name!r}", hint=f"known keys: {', '.join(sorted(_TOP_LEVEL))}"
            )
        values[name] = _relative(key, coerce(key, value, str(path)), path)
    return values, fetch


def _fetch_values(path: Path, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: bad value for 'fetch': {table!r} (expected a [fetch] table)")
    out: dict[str, Any] = {}
    for fname, fvalue in table.items():
        key = FETCH_KEYS.get(fname)
        if key is None:
            raise unknown_key(str(path), fname, FETCH_KEYS, "fetch")
        out[fname] = _relative(key, coerce(key, fvalue, str(path)), path)
    return out


def _privacy_values(path: Path, table: Any) -> dict[str, Any]:
    """The [privacy] table: `personal_days` is setting `privacy_personal_days`, ..."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: bad value for 'privacy': {table!r} (expected a [privacy] table)"
        )
    known = {
        k.removeprefix(PRIVACY_PREFIX): v
        for k, v in SETTINGS_KEYS.items()
        if k.startswith(PRIVACY_PREFIX)
    }
    out: dict[str, Any] = {}
    for name, value in table.items():
        key = known.get(name)
        if key is None:
            raise unknown_key(str(path), name, known, "privacy")
        out[PRIVACY_PREFIX + name] = coerce(key, value, str(path))
    return out


def _relative(key: Key, value: Any, path: Path) -> Any:
    if key.kind == "path" and isinstance(value, Path) and not value.is_absolute():
        return path.parent / value
    return value


def _env_values(keys: Mapping[str, Key], env: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for name, key in keys.items():
        text = env.get(key.env)
        if text is not None and text.strip():  # empty counts as unset
            values[name] = coerce(key, text, key.env, text=True)
    return values


def find_config(start: Path | None = None) -> Path | None:
    """The nearest `cdr.toml` in `start` (default: the current folder) or its parents.

    The nearest name counts even when it is no file (a link to nothing, a folder): reading
    it then fails naming it, where passing over it would run the night on the defaults (or
    on a parent folder's file) without a word."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / "cdr.toml"
        if os.path.lexists(candidate):
            return candidate
    return None


def _warehouse_source(
    overrides: dict[str, Any],
    env: Mapping[str, str],
    path: Path | None,
    file_values: dict[str, Any],
) -> str:
    if overrides.get("warehouse") is not None:
        return "--warehouse"
    if env.get(SETTINGS_KEYS["warehouse"].env, "").strip():
        return SETTINGS_KEYS["warehouse"].env
    if path is not None and "warehouse" in file_values:
        return f"cdr.toml ({path.absolute()})"
    return "default"


def load_settings(
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from the layered sources. `config_path` is the --config flag;
    `overrides` are flags by setting name (None means not given)."""
    env = os.environ if env is None else env
    path, origin = config_path, "--config"
    if path is None and env.get("CDR_CONFIG", "").strip():
        path, origin = Path(env["CDR_CONFIG"]).expanduser(), "CDR_CONFIG"
    if path is None:
        path, origin = find_config(), "cdr.toml"
    values, fetch = _file_values(path, origin) if path is not None else ({}, {})
    source = _warehouse_source(overrides or {}, env, path, values)
    values |= _env_values(SETTINGS_KEYS, env)
    fetch |= _env_values(FETCH_KEYS, env)
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        key = SETTINGS_KEYS.get(name)
        if key is None:
            raise unknown_key("flags", name, SETTINGS_KEYS)
        values[name] = coerce(key, value, key.flag)
    settings = replace(
        Settings(),
        **values,
        fetch=replace(FetchOptions(), **fetch),
        warehouse_source=source,
    )
    _check_native_path(settings.warehouse, source)
    return settings


def _check_native_path(folder: Path, source: str) -> None:
    """Refuse a warehouse path DuckDB, Arrow and Delta Lake would open as another folder.

    They take a path as text and encode it as UTF-8, while Python names the same text with
    the locale's file-name encoding: under a non-UTF-8 locale (`LANG=de_DE.ISO-8859-1`) a
    path with a non-ASCII letter anywhere in it (the current folder too, as they see it made
    absolute), or under any locale a name whose bytes are not UTF-8 (a folder copied from an
    old system), is found by Python and not by them. `cdr runs` then said "no runs recorded
    yet" of a warehouse full of them and `cdr build` crashed with exit 1."""
    try:
        text = os.path.abspath(folder)
    except OSError:  # the current folder is gone: the command's own error names it
        text = str(folder)
    try:
        same = text.encode("utf-8") == os.fsencode(text)
    except UnicodeError:
        same = False
    if same:
        return
    shown = os.fsencode(text).decode("utf-8", "backslashreplace")
    raise ConfigError(
        f"warehouse {shown} (from {source}): DuckDB, Arrow and Delta Lake read "
        "a path as UTF-8, and this path's bytes are not its UTF-8 text under this locale "
        f"(file names are {sys.getfilesystemencoding()}), so they would open another folder",
        hint="run cdr under a UTF-8 locale (LC_ALL=C.UTF-8, or PYTHONUTF8=1 in the "
        "environment), or rename the warehouse and the folders above it to UTF-8 or ASCII names",
    )


def with_fetch_flags(options: FetchOptions, **flags: Any) -> FetchOptions:
    """`options` with command-line values of [fetch] keys applied (None means not given),
    checked by the same rules as cdr.toml."""
    values = {}
    for name, value in flags.items():
        if value is None:
            continue
        key = FETCH_KEYS.get(name)
        if key is None:
            raise unknown_key("flags", name, FETCH_KEYS, "fetch")
        values[name] = coerce(key, value, key.flag)
    return replace(options, **values)
