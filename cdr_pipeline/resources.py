"""Data files the code reads: the view SQL and the bundled samples.

In the repository they are the top-level `sql/` and `data/samples/`; a built wheel carries
them inside the package as `cdr_pipeline/_data/sql` and `cdr_pipeline/_data/samples` (see
`[tool.hatch.build.targets.wheel.force-include]` in pyproject.toml). Both are found through
`importlib.resources`; an editable install from a checkout, which has no `_data`, falls back
to the checkout's folders; a package imported from the wheel's zip (`spark-submit
--py-files`, docs/spark.md) gets a private copy on disk.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_PACKAGE = "cdr_pipeline"
_CHECKOUT = Path(__file__).resolve().parents[1]


@cache
def _data_dir(packaged: str, checkout: Path) -> Path:
    root = resources.files(_PACKAGE) / "_data" / packaged
    if not root.is_dir():
        return checkout
    on_disk = Path(str(root))
    if on_disk.is_dir():  # a wheel installed as files on disk
        return on_disk
    # imported from a zip: the callers read and glob a folder, which a zip member is not
    copy = Path(tempfile.mkdtemp(prefix=f"cdr-{packaged}-"))
    atexit.register(shutil.rmtree, copy, True)
    _copy_tree(root, copy)
    return copy


def _copy_tree(source: Traversable, target: Path) -> None:
    for item in source.iterdir():
        if item.is_dir():
            (target / item.name).mkdir()
            _copy_tree(item, target / item.name)
        else:
            (target / item.name).write_bytes(item.read_bytes())


def sql_dir() -> Path:
    """The folder of view definitions (`<view>.sql`, one view per file)."""
    return _data_dir("sql", _CHECKOUT / "sql")


def samples_dir() -> Path:
    """The folder of bundled synthetic samples (what `cdr demo` loads)."""
    return _data_dir("samples", _CHECKOUT / "data" / "samples")
