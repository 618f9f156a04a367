"""Fixtures of the nightly tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch.helpers import kill_a_night_at_validate


@pytest.fixture(scope="session")
def night_killed_at_validate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, inbox) of a nightly killed after its ingest, before its validation: the
    one kill -9 that several tests look at. Read it only; copy it (`copy_of`) to write."""
    return kill_a_night_at_validate(tmp_path_factory.mktemp("killed_at_validate"))
