"""Settings layering: defaults < cdr.toml < CDR_* env < flags; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import ConfigError

ROOT = Path(__file__).parents[1]


def test_committed_example_runs_on_the_samples() -> None:
    s = load_settings(ROOT / "cdr.toml", env={})
    assert s.inbox == ROOT / "data" / "samples" and s.inbox.is_dir()
    assert s.warehouse == ROOT / "warehouse"
    assert (s.chunk_rows, s.code_expiry_days, s.reporting_timezone) == (25000, 90, "UTC")


def test_layers_env_over_file_and_flags_over_env(tmp_path: Path) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text('chunk_rows = 10\nmax_reject_rate = 0.2\nwarehouse = "w"\n')
    s = load_settings(cfg, env={"CDR_CHUNK_ROWS": "20"})
    assert (s.chunk_rows, s.max_reject_rate, s.warehouse) == (20, 0.2, tmp_path / "w")
    s = load_settings(
        cfg, {"chunk_rows": 30, "max_reject_rate": None}, env={"CDR_CHUNK_ROWS": "20"}
    )
    assert (s.chunk_rows, s.max_reject_rate) == (30, 0.2)


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text("chunk_row = 10\n")
    with pytest.raises(ConfigError, match="unknown key 'chunk_row'"):
        load_settings(cfg, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_rows = 0\n", "chunk_rows must be at least 1"),
        ("max_reject_rate = 2\n", "max_reject_rate must be between 0 and 1"),
        ("chunk_rows = 'many'\n", "bad value for 'chunk_rows'"),
        ("chunk_rows = \n", "not valid TOML"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "cdr.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, env={})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CDR_CHUNK_ROWS"):
        load_settings(None, env={"CDR_CHUNK_ROWS": "lots"})
