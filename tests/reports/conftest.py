"""Fixtures of the report tests: a fresh, writable warehouse of the samples for each test
(as built, with October closed, or with the samples' loads validated), without a build,
a close or a validation of its own."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.quality import validate_warehouse
from cdr_pipeline.reports.close import close_month
from tests.reports.finance_helpers import CLOSED_MONTH, copy_warehouse


def _restore(folder: Path, copy: Path) -> Settings:
    """Whatever an earlier test left in `folder` removed and `copy` put in its place: the
    views were built for this very folder, so they read it without another build (a build
    costs seconds; a copy of the folder a few hundredths)."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(copy, folder)
    return Settings(warehouse=folder)


def _close(settings: Settings) -> None:
    result = close_month(settings, CLOSED_MONTH)
    assert not result.already_closed and not result.close.forced


def _validate(settings: Settings) -> None:
    report = validate_warehouse(settings, "pending")  # as the first nightly does
    assert report.exit_code == 0 and not report.errors, report.errors


_STEPS: dict[str, Callable[[Settings], None] | None] = {
    "built": None,
    "closed": _close,
    "validated": _validate,
}
"""What is done on the built warehouse before each pristine copy is taken."""


class _Pristine:
    """A copy of the session's warehouse of the samples built in its own folder, and
    pristine copies of that folder (never opened), each taken after a step done there on
    the built warehouse, made the first time a test asks for it. A test has one warehouse
    of these: it takes one of `fresh_wh`, `fresh_closed_wh` and `validated_wh`."""

    def __init__(self, sample_wh: Settings, root: Path) -> None:
        self.root = root
        self.folder = copy_warehouse(sample_wh, root).warehouse  # built here
        self.copies: dict[str, Path] = {}

    def fresh(self, name: str) -> Settings:
        if name not in self.copies:
            step = _STEPS[name]
            if step is not None:
                step(self.fresh("built"))
            shutil.copytree(self.folder, self.root / name)
            self.copies[name] = self.root / name
        return _restore(self.folder, self.copies[name])


@pytest.fixture(scope="session")
def _pristine(sample_wh: Settings, tmp_path_factory: pytest.TempPathFactory) -> _Pristine:
    return _Pristine(sample_wh, tmp_path_factory.mktemp("reports_wh"))


@pytest.fixture
def fresh_wh(_pristine: _Pristine) -> Settings:
    """A writable warehouse of the samples, ingested and built (what `copy_warehouse` of
    `sample_wh` gives), for this test alone."""
    return _pristine.fresh("built")


@pytest.fixture
def fresh_closed_wh(_pristine: _Pristine) -> Settings:
    """`fresh_wh` with `CLOSED_MONTH` closed by `close_month` (nothing else done since), for
    this test alone."""
    return _pristine.fresh("closed")


@pytest.fixture
def validated_wh(_pristine: _Pristine) -> Settings:
    """`fresh_wh` after a validation of what the samples loaded (all of it passes), as a
    first nightly leaves it: a nightly on it validates only what it loads itself. For the
    nightly tests, whose checks are of the night's own files and close, not of the samples'
    validation (a few seconds of Great Expectations each). For this test alone."""
    return _pristine.fresh("validated")
