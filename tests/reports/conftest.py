from __future__ import annotations

import pytest

from cdr_pipeline.config import Settings
from tests.warehouse.sample_warehouse import sample_settings


@pytest.fixture(scope="session")
def sample_wh(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a warehouse loaded from data/samples/ and built (read it, don't write)."""
    return sample_settings(tmp_path_factory)
