"""The Data Docs site of a validation: GX's in-memory context whose only site is a fresh
staging folder beside `<warehouse>/quality/data_docs`, the build that makes the site work
offline (`offline.py`) and say what each page validated (`lineage.py`), and the rename that
puts it in place.

The site is built whole in the staging folder and swapped in, never updated in place: a
damaged earlier site (a file where a folder belongs, a folder where `index.html` belongs,
pages removed) made the build crash or, worse, GX render around the damage and the run
report success with an index linking to pages that were not written. Stale pages of earlier
runs go with the old folder, and a reader never sees a half-written site."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from cdr_pipeline.errors import WarehouseDamaged, environment_error
from cdr_pipeline.quality.lineage import Lineage, inject
from cdr_pipeline.quality.offline import make_offline

log = logging.getLogger(__name__)

SITE = "cdr"
STALE_STAGING_SECONDS = 24 * 3600
"""A staging folder this old was left by a validation that died; younger ones may be in use
(validation takes no lock, so two can run at once)."""


def check_folders(*folders: Path) -> None:
    """A file where a folder the validation writes into belongs (`quality/`,
    `state/validate_tmp/`) stops it before it starts, naming the file: GX and DuckDB met it
    only after the whole validation had run, as an unexpected error (exit 1)."""
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise WarehouseDamaged(
                f"{folder} is a file where cdr validate writes a folder",
                hint="move the file out of the warehouse and run again: the validation "
                "writes its Data Docs under quality/ and its spill files under state/",
            )


def staging_dir(docs_dir: Path, validation_id: str) -> Path:
    """The hidden folder beside `docs_dir` that the validation `validation_id` builds in."""
    return docs_dir.with_name(f".{docs_dir.name}.tmp-{validation_id}")


def install_site(staging: Path, docs_dir: Path) -> None:
    """Put the built site `staging` in place of `docs_dir`, whatever is there now, and
    remove what was there and staging folders left by validations that died."""
    old = docs_dir.with_name(f".{docs_dir.name}.old-{uuid.uuid4().hex[:8]}")
    if docs_dir.exists() or docs_dir.is_symlink():
        os.replace(docs_dir, old)
    os.replace(staging, docs_dir)
    _remove(old)
    now = time.time()
    for left in docs_dir.parent.glob(f".{docs_dir.name}.*"):
        if ".old-" in left.name or now - left.lstat().st_mtime > STALE_STAGING_SECONDS:
            _remove(left)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _import_gx() -> Any:
    """`import great_expectations`, without pyspark's Spark Connect client. GX imports it
    when pyspark is installed (the spark extra), and without grpc that package calls
    sys.exit(0) on import when `__main__` has no file (`python -c`, `python - <<EOF`), taking
    the process for pyspark's doctests: the caller's script ended there, exit 0, nothing
    validated. Blocked for the import, it fails as it does in any other program (GX catches
    that), and is importable again afterwards."""
    blocked = "pyspark.sql.connect" not in sys.modules
    if blocked:
        sys.modules["pyspark.sql.connect"] = None  # type: ignore[assignment]
    try:
        import great_expectations as gx
    finally:
        if blocked and sys.modules.get("pyspark.sql.connect", False) is None:
            del sys.modules["pyspark.sql.connect"]
    return gx


def gx_context(docs_dir: Path) -> Any:
    """An in-memory GX context whose only Data Docs site is `docs_dir` (a staging folder)."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under this many bytes (an MD5 over pandas' hash
    # of each value), shown on the page as `pandas_data_fingerprint`: 1.1 s of an 8.5 s
    # `cdr validate --all` at 1M legs, for a figure no one can recompute outside GX. What a
    # page validated is said by its lineage block (files, table versions, rows) instead.
    pandas_execution_engine.HASH_THRESHOLD = 0

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def build_docs(ctx: Any, docs_dir: Path, lineage: Lineage) -> Path:
    """Render the site into `docs_dir` (the context's staging folder), make it work offline,
    and say on every page what it validated. Returns its index."""
    lineage.annotate(ctx.validation_results_store)
    with _render_failures(docs_dir.parent) as failures:
        ctx.build_data_docs(site_names=[SITE])
    for failure in failures:
        log.warning("Data Docs: a page could not be rendered: %s", failure)
    index = docs_dir / "index.html"
    for url in make_offline(docs_dir):
        log.warning("Data Docs still load %s: it needs network access", url)
    inject(index, lineage.index_block())
    for key, note in lineage.notes.items():
        for site in ctx.get_docs_sites_urls(resource_identifier=key, site_name=SITE):
            page = _local_page(site.get("site_url"))
            if page is not None and page.is_file():
                inject(page, lineage.page_block(note))
    return index


_GX_RENDERER = "great_expectations.render.renderer.site_builder"
_CAUGHT = re.compile(
    r'Detailed information follows:\s*(\w+: ".*?")\.\s+Traceback',
    re.S,
)


@contextlib.contextmanager
def _render_failures(docs_dir: Path) -> Iterator[list[str]]:
    """The pages GX failed to render, one line each, instead of its message and whole
    traceback on stderr for each page (a nightly's mail filled with them). GX catches a
    page's error and renders on, or raises one of its own writes without naming the file: a
    write the disk refused (full, read-only) either way is raised as exit 6 naming
    `docs_dir`, not left for a later write to fail without a file name."""
    failures: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = _CAUGHT.search(record.getMessage())
            failures.append(found.group(1) if found else record.getMessage().splitlines()[0])

    logger = logging.getLogger(_GX_RENDERER)
    handler, propagate = Catch(logging.ERROR), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield failures
    except OSError as exc:
        error = environment_error(exc, docs_dir)
        if error is None:
            raise
        raise error from exc
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    for failure in failures:
        error = environment_error(RuntimeError(failure), docs_dir)
        if error is not None:
            raise error


def _local_page(url: str | None) -> Path | None:
    if not url or not url.startswith("file://"):
        return None
    return Path(url2pathname(urlparse(url).path))
