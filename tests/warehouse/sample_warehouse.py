"""One warehouse built from `data/samples/` per test session, shared by the warehouse and
report tests (ingest + build take a few seconds; every test only reads it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.pipeline import ingest_paths
from cdr_pipeline.warehouse import build_warehouse

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"
SQL_DIR = REPO / "sql"

_CACHE: dict[str, Settings] = {}


def sample_settings(factory: pytest.TempPathFactory) -> Settings:
    if "settings" not in _CACHE:
        root = factory.mktemp("sample_wh")
        samples = SAMPLES
        if not samples.is_dir():
            from cdr_pipeline.samples import generate_samples

            samples = root / "samples"
            generate_samples(samples)
        settings = Settings(warehouse=root / "warehouse")
        result = ingest_paths(settings, [samples])
        assert result.exit_code == 0, [f.message for f in result.errors]
        build_warehouse(settings)
        _CACHE["settings"] = settings
    return _CACHE["settings"]
