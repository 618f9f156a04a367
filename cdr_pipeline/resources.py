"""Data files the code reads: the view SQL and the bundled samples.

In the repository they are the top-level `sql/` and `data/samples/`; a built wheel carries
them inside the package as `cdr_pipeline/_data/sql` and `cdr_pipeline/_data/samples` (see
`[tool.hatch.build.targets.wheel.force-include]` in pyproject.toml). Both are found through
`importlib.resources`; an editable install from a checkout, which has no `_data`, falls back
to the checkout's folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_PACKAGE = "cdr_pipeline"
_CHECKOUT = Path(__file__).resolve().parents[1]


def _data_dir(packaged: str, checkout: Path) -> Path:
    root = resources.files(_PACKAGE) / "_data" / packaged
    if root.is_dir():
        # a wheel is installed as files on disk, so the traversable is a real folder
        return Path(str(root))
    return checkout


def sql_dir() -> Path:
    """The folder of view definitions (`<view>.sql`, one view per file)."""
    return _data_dir("sql", _CHECKOUT / "sql")


def samples_dir() -> Path:
    """The folder of bundled synthetic samples (what `cdr demo` loads)."""
    return _data_dir("samples", _CHECKOUT / "data" / "samples")
