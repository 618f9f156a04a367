"""Session fixtures shared by every test area: the bundled samples and one warehouse loaded
from them and built (ingest + build take a few seconds; tests that use it only read it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.resources import samples_dir as bundled_samples
from cdr_pipeline.warehouse import build_warehouse

REPO = Path(__file__).resolve().parents[1]

# `make test` runs the tests in pytest-xdist workers, whose `__main__` has neither a spec nor
# a file. pyspark (imported by great_expectations when it is installed) takes that for its own
# doctest run and calls sys.exit(0) mid-test (pyspark/sql/connect/utils.py), so name it.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"


@pytest.fixture(autouse=True)
def _stderr_as_a_fresh_process_has_it() -> Iterator[None]:
    """A `cdr -q` or `--log-json` run in-process sets how this process writes to stderr
    (`cli.context.STDERR`); the next test starts as a new `cdr` process would, so one
    test's -q cannot hide the notes another test reads."""
    yield
    from cdr_pipeline.cli.context import STDERR

    STDERR.json = STDERR.quiet = STDERR.open_line = False


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled samples (`data/samples/`), or a freshly generated set where they are
    missing (a source tree without them)."""
    bundled = bundled_samples()
    if bundled.is_dir() and any(bundled.iterdir()):
        return bundled
    from cdr_pipeline.samples import generate_samples

    out = tmp_path_factory.mktemp("samples")
    generate_samples(out)
    return out


@pytest.fixture(scope="session")
def sample_wh(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Settings:
    """Settings of a warehouse loaded from the samples and built (read it, don't write)."""
    root = tmp_path_factory.mktemp("sample_wh")
    settings = Settings(warehouse=root / "warehouse")
    result = ingest_paths(settings, [samples_dir])
    assert result.exit_code == 0, [f.message for f in result.errors]
    build_warehouse(settings)
    return settings
