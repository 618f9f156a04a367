from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.samples import write_call_export


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    return tmp_path / "warehouse"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`generated(legs, seed=3)`: a generated export over six days, written once per
    module for the tests that read the same one; tests only read it."""
    folder = tmp_path_factory.mktemp("exports")

    def export(legs: int, seed: int = 3) -> Path:
        path = folder / f"export_{legs}_{seed}.csv"
        if not path.exists():
            write_call_export(path, legs=legs, seed=seed, start=date(2026, 9, 1), days=6)
        return path

    return export
