"""Configuration: defaults < cdr.toml < CDR_* env < flags; one strict coercer for every key.

The table tests go over every key of `SETTINGS_KEYS` and `FETCH_KEYS`: a good value from the
file and from the environment, values of the wrong type, values out of range. Each error must
name the source (file, variable or flag), the key and the bad value."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import (
    ALL_KEYS,
    FETCH_KEYS,
    SETTINGS_KEYS,
    FetchOptions,
    Key,
    Settings,
    load_settings,
    with_fetch_flags,
)
from cdr_pipeline.errors import EXIT_BAD_INPUT, ConfigError

ROOT = Path(__file__).parents[1]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # away from the checkout's cdr.toml and from the test's own files (tmp_path): cdr.toml
    # is looked for in the current folder and its parents
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def _toml(key: Key, literal: str) -> str:
    line = f"{key.name} = {literal}\n"
    return f"[{key.section}]\n{line}" if key.section else line


def _value(settings: Settings, key: Key) -> Any:
    if key.section == "privacy":
        return getattr(settings, f"privacy_{key.name}")
    return getattr(settings.fetch if key.section else settings, key.name)


# one good value per key: (TOML literal, environment text, expected typed value)
GOOD: dict[str, tuple[str, str, Any]] = {
    "warehouse": ('"/data/wh"', "/data/wh", Path("/data/wh")),
    "inbox": ('"/data/in"', "/data/in", Path("/data/in")),
    "chunk_rows": ("1000", "1000", 1000),
    "max_reject_rate": ("0.5", "0.5", 0.5),
    "code_expiry_days": ("7", "7", 7),
    "reporting_timezone": ('"Europe/Paris"', "Europe/Paris", "Europe/Paris"),
    "retain_days": ("400", "400", 400),
    "lock_wait_seconds": ("2.5", "2.5", 2.5),
    "idle_days": ("45", "45", 45),
    "close_after_days": ("5", "5", 5),
    "excel_csv": ("true", "true", True),
    "source": ('"stream"', "stream", "stream"),
    "region": ('"eu"', "eu", "eu"),
    "host": ('"analytics.webexapis.com"', "analytics.webexapis.com", "analytics.webexapis.com"),
    "base_url": ('"http://127.0.0.1:8080"', "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    "api_url": ('"https://webexapis.com"', "https://webexapis.com", "https://webexapis.com"),
    "token_file": ('"/secrets/token"', "/secrets/token", Path("/secrets/token")),
    "org_id": ('"org-1"', "org-1", "org-1"),
    "overlap_hours": ("3", "3", 3.0),
    "late_hours": ("0", "0", 0.0),
    "lookback_hours": ("48.5", "48.5", 48.5),
    "page_size": ("500", "500", 500),
    "locations": ('["A", "B c"]', "A,B c", ("A", "B c")),
    "retries": ("0", "0", 0),
    "backoff_seconds": ("0.5", "0.5", 0.5),
    "timeout_seconds": ("10", "10", 10.0),
    "max_region_redirects": ("1", "1", 1),
    "nightly": ("true", "true", True),
    "max_unpacked_bytes": ("1073741824", "1073741824", 1024**3),
    "max_unpacked_ratio": ("500", "500", 500),
    "max_header_bytes": ("65536", "65536", 65536),
    "max_columns": ("300", "300", 300),
    "max_record_bytes": ("1048576", "1048576", 1024**2),
    "max_value_bytes": ("131072", "131072", 128 * 1024),
    "max_json_depth": ("32", "32", 32),
    "max_json_number_digits": ("60", "60", 60),
    "max_zip_members": ("50", "50", 50),
    "max_file_days": ("400", "400", 400),
    "file_mode": ("0o640", "0640", 0o640),
    "vacuum_grace_hours": ("36", "36", 36),
    "build_memory_mb": ("1024", "1024", 1024),
    "merge_memory_mb": ("768", "768", 768),
    "personal_days": ("30", "30", 30),
    "prefix_digits": ("2", "2", 2),
}

# values of the wrong type, per kind (TOML literals)
BAD_TYPES = {
    "int": ["1.9", "true", '"5"', "[1]"],
    "float": ["true", '"0.5"', "nan", "inf"],
    "str": ["5", "true", '""'],
    "path": ["5", "false", '""'],
    "bool": ['"yes"', "1"],
    "names": ["5", "[1, 2]"],
    "mode": ["6.4", "true", '"0640"'],
}

# out of range, per key (TOML literals)
BAD_RANGES = {
    "warehouse": ['"/data/exports [old]/wh"', '"/data/cdr*"', '"/data/{a,b}"'],
    "chunk_rows": ["0", "-5"],
    "max_reject_rate": ["-0.1", "1.5"],
    "code_expiry_days": ["0", "-1", "36526"],
    "reporting_timezone": ['"Mars/Olympus"', '"../etc/passwd"', '"America"', '"utc"'],
    "retain_days": ["0", "-30", "99999999999"],
    "lock_wait_seconds": ["-1"],
    "idle_days": ["0", "-3", "36526"],
    "close_after_days": ["-1", "28"],
    "source": ['"firehose"'],
    "region": ['"mars"'],
    "host": ['"https://analytics.webexapis.com"'],
    "base_url": ['"ftp://x"', '"localhost"'],
    "api_url": ['"webexapis.com"'],
    "overlap_hours": ["-1", "876601"],
    "late_hours": ["-0.5", "876601"],
    "lookback_hours": ["-24", "876601"],
    "page_size": ["0", "5001", "-1"],
    "locations": ["[" + ", ".join(f'"L{i}"' for i in range(11)) + "]", '["Berlin, HQ"]'],
    "retries": ["-1"],
    "backoff_seconds": ["-2"],
    "timeout_seconds": ["0", "-1"],
    "max_region_redirects": ["-1"],
    "max_unpacked_bytes": ["1000", str(2**51)],
    "max_unpacked_ratio": ["9", "100001"],
    "max_header_bytes": ["4095"],
    "max_columns": ["9", "1000001"],
    "max_record_bytes": ["4095", str(2 * 1024**3)],
    "max_value_bytes": ["1023", str(2 * 1024**3)],
    "max_json_depth": ["3", "1001"],
    "max_json_number_digits": ["19", "4001"],
    "max_zip_members": ["0", "1000001"],
    "max_file_days": ["0", "36526"],
    "file_mode": ["0o644", "0o606", "0o400", "0o4600"],
    "vacuum_grace_hours": ["-1", "876601"],
    "build_memory_mb": ["63", "0", "99999999999999999999"],
    "merge_memory_mb": ["63", "-1", str(2**30 + 1)],
    "personal_days": ["0", "-1", "36526"],
    "prefix_digits": ["-1", "16"],
}


def test_the_tables_cover_every_key() -> None:
    names = {k.name for k in ALL_KEYS}
    assert names == set(GOOD)
    fields = set(Settings.__dataclass_fields__) - {"fetch", "warehouse_source"}
    assert fields == set(SETTINGS_KEYS)
    assert set(FetchOptions.__dataclass_fields__) == set(FETCH_KEYS)
    # every key whose type has a range is range-checked
    ranged = {k.name for k in ALL_KEYS if k.kind in ("int", "float", "mode") or k.choices or k.rule}
    assert ranged == set(BAD_RANGES)


def test_the_committed_cdr_toml_names_every_key() -> None:
    # README: the committed cdr.toml "lists every key" (set, or as a commented example)
    text = (ROOT / "cdr.toml").read_text(encoding="utf-8")
    named = {m for m in re.findall(r"^#? ?([a-z_]+) =", text, flags=re.M)}
    assert {k.name for k in SETTINGS_KEYS.values()} <= named


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.label)
def test_every_key_from_file_and_from_env(tmp_path: Path, key: Key) -> None:
    literal, text, expected = GOOD[key.name]
    cfg = tmp_path / "cdr.toml"
    cfg.write_text(_toml(key, literal))
    assert _value(load_settings(cfg, env={}), key) == expected
    assert _value(load_settings(None, env={key.env: text}), key) == expected
    # the environment wins over the file, and an empty variable counts as unset
    assert _value(load_settings(cfg, env={key.env: ""}), key) == expected
    assert _value(load_settings(None, env={key.env: "  "}), key) == _value(Settings(), key)


def _bad_cases() -> list[tuple[Key, str]]:
    cases = [(k, bad) for k in ALL_KEYS for bad in BAD_TYPES[k.kind]]
    cases += [(k, bad) for k in ALL_KEYS for bad in BAD_RANGES.get(k.name, [])]
    return cases


@pytest.mark.parametrize(
    ("key", "literal"), _bad_cases(), ids=[f"{k.label}={v}" for k, v in _bad_cases()]
)
def test_bad_file_values_name_file_key_and_value(tmp_path: Path, key: Key, literal: str) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text(_toml(key, literal))
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    message = info.value.message
    assert str(cfg) in message and repr(key.label) in message
    # the value as written in the file (a mode in octal, never TOML's integer: 0o644, not 420)
    assert f"{key.label!r}: {literal} (" in message, message
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_a_mode_written_without_0o_says_how_toml_read_it(tmp_path: Path) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text("file_mode = 640\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert "'file_mode': 640 (TOML reads it as a decimal number, 0o1200: write 0o640)" in (
        info.value.message
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("chunk_rows", "1.9"),
        ("chunk_rows", "true"),
        ("chunk_rows", "lots"),
        ("chunk_rows", "0"),
        ("max_reject_rate", "true"),
        ("max_reject_rate", "2"),
        ("idle_days", "-1"),
        ("lock_wait_seconds", "-1"),
        ("retain_days", "-1"),
        ("reporting_timezone", "Nowhere/Town"),
        ("page_size", "1.5"),
        ("nightly", "maybe"),
        ("timeout_seconds", "inf"),
    ],
)
def test_bad_env_values_name_the_variable(name: str, text: str) -> None:
    key = SETTINGS_KEYS.get(name) or FETCH_KEYS[name]
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={key.env: text})
    assert info.value.message.startswith(f"{key.env}: ")
    assert repr(key.label) in info.value.message and f'"{text}"' in info.value.message


def test_bad_flag_values_name_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--chunk-rows: bad value for 'chunk_rows': 1\.9"):
        load_settings(None, {"chunk_rows": 1.9}, env={})
    # the flag commands have (`python -m cdr_pipeline.spark` too), not one made of the name
    with pytest.raises(ConfigError, match=r"^--wait-lock: .*-1"):
        load_settings(None, {"lock_wait_seconds": -1}, env={})
    with pytest.raises(ConfigError, match="unknown key 'chunk_row'"):
        load_settings(None, {"chunk_row": 3}, env={})


def test_vacuums_grace_hours_flag_is_checked_by_the_settings_rules(tmp_path: Path) -> None:
    """`cdr vacuum --grace-hours` bypassed the key's rules: a value past any date overflowed
    the cutoff (exit 1, "report it"); it is checked as the variable and the file are."""
    wh = tmp_path / "wh"
    (wh / "state").mkdir(parents=True)
    args = ["--warehouse", str(wh), "vacuum", "--dry-run", "--grace-hours"]
    env = {"CDR_CONFIG": "", "CDR_VACUUM_GRACE_HOURS": "5"}
    result = CliRunner().invoke(cli, [*args, str(10**20)], env=env)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "--grace-hours: bad value for 'vacuum_grace_hours'" in result.output
    # the flag still wins over the variable, which wins over the default
    assert "more than 7 hour(s)" in CliRunner().invoke(cli, [*args, "7"], env=env).output
    assert "more than 5 hour(s)" in CliRunner().invoke(cli, args[:-1], env=env).output


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="'chunk_rows': true"):
        Settings(chunk_rows=True)
    with pytest.raises(ConfigError, match="not a time zone"):
        Settings(reporting_timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="did you mean 'Europe/Paris'"):
        Settings(reporting_timezone="europe/paris")
    with pytest.raises(ConfigError, match=r"'fetch\.page_size': 2\.5"):
        FetchOptions(page_size=2.5)  # type: ignore[arg-type]
    assert Settings(max_reject_rate=1).max_reject_rate == 1.0  # an int is a fine float


def test_committed_example_runs_on_the_samples() -> None:
    s = load_settings(ROOT / "cdr.toml", env={})
    assert s.inbox == ROOT / "data" / "samples" and s.inbox.is_dir()
    assert s.warehouse == ROOT / "warehouse"
    assert (s.chunk_rows, s.code_expiry_days, s.reporting_timezone) == (25000, 90, "UTC")
    assert s.fetch == FetchOptions()


def test_layers_env_over_file_and_flags_over_env(tmp_path: Path) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text(
        'chunk_rows = 10\nmax_reject_rate = 0.2\nwarehouse = "w"\n'
        '[fetch]\ntoken_file = "secret/token"\npage_size = 100\n'
    )
    s = load_settings(cfg, env={"CDR_CHUNK_ROWS": "20", "CDR_FETCH_PAGE_SIZE": "200"})
    assert (s.chunk_rows, s.max_reject_rate, s.warehouse) == (20, 0.2, tmp_path / "w")
    # relative paths of the file, [fetch] ones included, are relative to the file
    assert (s.fetch.page_size, s.fetch.token_file) == (200, tmp_path / "secret" / "token")
    s = load_settings(
        cfg, {"chunk_rows": 30, "max_reject_rate": None}, env={"CDR_CHUNK_ROWS": "20"}
    )
    assert (s.chunk_rows, s.max_reject_rate) == (30, 0.2)


def test_config_file_from_env_and_empty_env_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text('warehouse = "wh"\n')
    assert load_settings(None, env={"CDR_CONFIG": str(cfg)}).warehouse == tmp_path / "wh"
    monkeypatch.chdir(tmp_path)
    # CDR_WAREHOUSE= must not mean the current folder: the file's warehouse (or the default)
    s = load_settings(None, env={"CDR_WAREHOUSE": "", "CDR_CONFIG": ""})
    assert s.warehouse.resolve() == tmp_path / "wh"
    cfg.unlink()
    assert load_settings(None, env={"CDR_WAREHOUSE": ""}).warehouse == Path("warehouse")
    with pytest.raises(ConfigError, match=r"^CDR_CONFIG: config file .*missing\.toml"):
        load_settings(None, env={"CDR_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_row = 10\n", "unknown key 'chunk_row'"),
        ("[fetch]\nnightly = true\npage = 1\n", "unknown key 'fetch.page'"),
        ("[cdr]\nchunk_rows = 5\n[fetch]\nnightly = true\n", "unknown key 'fetch' beside"),
        ("[cdr]\nchunk_rows = 5\n[cdr.fetch]\nregion = 5\n", "'fetch.region': 5"),
        ("fetch = 3\n", "expected a \\[fetch\\] table"),
        ("chunk_rows = \n", "not valid TOML"),
    ],
)
def test_unknown_keys_anywhere_and_bad_toml(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(cfg, env={})
    assert str(cfg) in info.value.message


def test_cdr_table_form_is_read(tmp_path: Path) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text("[cdr]\nchunk_rows = 5\n[cdr.fetch]\nregion = 'eu'\n")
    s = load_settings(cfg, env={})
    assert (s.chunk_rows, s.fetch.region) == (5, "eu")


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["--config", str(tmp_path / "cdr.toml"), *args], env=env)


def test_every_command_checks_the_whole_file(tmp_path: Path) -> None:
    (tmp_path / "cdr.toml").write_text('warehouse = "wh"\n[fetch]\npage_size = 1.9\n')
    for args in (["build"], ["runs"], ["validate"], ["report", "anomalies"], ["ingest", "x"]):
        run = _cli(tmp_path, *args)
        assert run.exit_code == EXIT_BAD_INPUT, (args, run.output)
        assert "'fetch.page_size': 1.9 (expected an integer" in run.output
        assert str(tmp_path / "cdr.toml") in run.output
    assert not (tmp_path / "wh").exists()


def test_non_utf8_config_is_exit_3_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "cdr.toml").write_bytes(b'warehouse = "wh"\ninbox = "caf\xe9"\n')
    run = _cli(tmp_path, "runs")
    assert run.exit_code == EXIT_BAD_INPUT, run.output
    assert f"{tmp_path / 'cdr.toml'} line 2: not UTF-8" in run.output


def test_empty_cdr_warehouse_is_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse" / "state").mkdir(parents=True)  # build reads an existing one
    run = CliRunner().invoke(cli, ["build"], env={"CDR_WAREHOUSE": "", "CDR_CONFIG": ""})
    assert run.exit_code == 0, run.output
    assert (tmp_path / "warehouse" / "cdr.duckdb").is_file()
    assert not (tmp_path / "cdr.duckdb").exists()


def test_fetch_flags_use_the_same_rules(tmp_path: Path) -> None:
    (tmp_path / "cdr.toml").write_text('warehouse = "wh"\n')
    run = _cli(tmp_path, "fetch", "--base-url", "ftp://x", "--since", "2026-10-01")
    assert run.exit_code == EXIT_BAD_INPUT, run.output
    assert "--base-url: bad value for 'fetch.base_url': \"ftp://x\"" in run.output
    options = with_fetch_flags(FetchOptions(), locations=["A", " B "], region=None)
    assert (options.locations, options.region) == (("A", "B"), "us")


def _cli_flags() -> set[str]:
    import click

    flags: set[str] = set()
    todo: list[click.Command] = [cli]
    while todo:
        command = todo.pop()
        todo += list(getattr(command, "commands", {}).values())
        for p in command.params:
            if isinstance(p, click.Option):
                flags |= {o.split("/")[0] for o in (*p.opts, *p.secondary_opts)}
    return flags


def test_the_hint_names_a_flag_only_where_a_command_has_one() -> None:
    """`CDR_MAX_RECORD_BYTES=100 cdr ingest` hinted "fix max_record_bytes in cdr.toml, the
    CDR_MAX_RECORD_BYTES environment variable or the flag": no command has such a flag, and
    the hint of a key that has one did not say which (`--grace-hours` for
    vacuum_grace_hours). The hint names the flag where there is one, and only then."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"CDR_MAX_RECORD_BYTES": "100"})
    assert info.value.hint == (
        "fix max_record_bytes in cdr.toml or the CDR_MAX_RECORD_BYTES environment variable"
    )
    flags = _cli_flags()
    for key in ALL_KEYS:
        named = set(re.findall(r"--[a-z][a-z-]*", key.hint))
        assert named <= flags, (key.name, key.hint)
        assert "the flag" not in key.hint, (key.name, key.hint)
    hints = {k.name: k.hint for k in ALL_KEYS}
    assert "--chunk-rows" in hints["chunk_rows"] and "--wait-lock" in hints["lock_wait_seconds"]
    assert "--grace-hours" in hints["vacuum_grace_hours"] and "--fetch" in hints["nightly"]


def test_a_cdr_toml_that_is_no_file_is_an_error_not_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /srv/cdr/cdr.toml linked to a file config management has not put there (yet): the
    # search passed over it, and every command ran on the defaults (close_after_days and
    # retain_days off) with exit 0; a parent folder's cdr.toml would have been read instead
    (tmp_path / "cdr.toml").write_text("close_after_days = 5\n")
    job = tmp_path / "job"
    job.mkdir()
    monkeypatch.chdir(job)
    (job / "cdr.toml").symlink_to(tmp_path / "etc" / "cdr.toml")
    run = CliRunner().invoke(cli, ["runs"], env={"CDR_CONFIG": ""})
    assert run.exit_code == EXIT_BAD_INPUT, run.output
    assert f"{job / 'cdr.toml'} is a symbolic link to {tmp_path / 'etc' / 'cdr.toml'}" in run.output
    assert "restore the file the link points to" in run.output
    (job / "cdr.toml").unlink()
    (job / "cdr.toml").mkdir()
    with pytest.raises(ConfigError, match=r"cdr\.toml is a folder, not a file"):
        load_settings(None, env={})
    with pytest.raises(ConfigError, match=r"^CDR_CONFIG: config file .* is a folder"):
        load_settings(None, env={"CDR_CONFIG": str(tmp_path)})


def test_a_config_path_that_is_no_regular_file_is_not_called_missing(tmp_path: Path) -> None:
    # cdr.toml a named pipe, or a link to a device (/dev/null to "switch the settings off"):
    # the error said it "does not exist" while ls showed it there
    os.mkfifo(tmp_path / "cdr.toml")
    with pytest.raises(ConfigError, match=r"cdr\.toml is a named pipe, not a regular file"):
        load_settings(None, env={"CDR_CONFIG": str(tmp_path / "cdr.toml")})
    (tmp_path / "cdr.toml").unlink()
    (tmp_path / "cdr.toml").symlink_to("/dev/null")
    with pytest.raises(ConfigError, match=r"cdr\.toml is a device, not a regular file") as err:
        load_settings(None, env={"CDR_CONFIG": str(tmp_path / "cdr.toml")})
    assert "does not exist" not in err.value.message
    assert "replace it with a TOML file" in (err.value.hint or "")


def test_a_toml_syntax_error_says_how_to_write_the_line(tmp_path: Path) -> None:
    # a path written without quotes, the operator's usual slip: the error named the line
    # and column (TOML's 'Invalid value') and nothing to try; the night's alert said as little
    (tmp_path / "cdr.toml").write_text("warehouse = /srv/cdr/warehouse\n")
    run = _cli(tmp_path, "runs")
    assert run.exit_code == EXIT_BAD_INPUT, run.output
    assert "not valid TOML: Invalid value (at line 1, column 13)" in run.output
    assert (
        "hint: fix that line: each setting is key = value, a text or path in quotes" in run.output
    )


def test_a_warehouse_path_the_native_libraries_would_not_find_is_exit_3(tmp_path: Path) -> None:
    # a folder name whose bytes are not UTF-8 (copied from a Latin-1 system); under a
    # non-UTF-8 locale (LANG=de_DE.ISO-8859-1) any non-ASCII name is the same case: Python
    # finds it, DuckDB, Arrow and Delta Lake, which encode a path as UTF-8, do not
    folder = tmp_path / os.fsdecode(b"entrep\xf4t")
    export = Path(__file__).parent / "fixtures" / "dch" / "bom_crlf.csv"
    run = CliRunner().invoke(
        cli, ["--warehouse", str(folder), "ingest", str(export)], env={"CDR_CONFIG": ""}
    )
    assert run.exit_code == EXIT_BAD_INPUT, run.output
    assert f"warehouse {tmp_path}/entrep\\xf4t (from --warehouse)" in run.output
    assert "LC_ALL=C.UTF-8" in run.output
    assert not folder.exists()  # refused before anything is created
