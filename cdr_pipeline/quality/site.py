"""The Data Docs site of a validation: GX's in-memory context whose only site is
`<warehouse>/quality/data_docs`, and the build that makes the site work offline
(`offline.py`) and say what each page validated (`lineage.py`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from cdr_pipeline.quality.lineage import Lineage, inject
from cdr_pipeline.quality.offline import make_offline

log = logging.getLogger(__name__)

SITE = "cdr"


def gx_context(docs_dir: Path) -> Any:
    """An in-memory GX context whose only Data Docs site is `<warehouse>/quality/data_docs`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

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
    """Render the site, make it work offline, and say on every page what it validated."""
    lineage.annotate(ctx.validation_results_store)
    # the index lists this run's results only; pages of earlier runs would dangle
    shutil.rmtree(docs_dir / "validations", ignore_errors=True)
    ctx.build_data_docs(site_names=[SITE])
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


def _local_page(url: str | None) -> Path | None:
    if not url or not url.startswith("file://"):
        return None
    return Path(url2pathname(urlparse(url).path))
