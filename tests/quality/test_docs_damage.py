"""A damaged Data Docs folder from an earlier run (pages removed, a file where a folder
belongs, a folder where index.html belongs) never breaks the next validation nor leaves it
with a site that links to pages it did not write: the site is built whole and swapped in."""

from __future__ import annotations

import re
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.quality import validate_warehouse
from tests.quality.conftest import CALL_DAY, Validated, write_partition


def _file_for(rel: str) -> Callable[[Path], None]:
    def damage(docs: Path) -> None:
        target = docs / rel
        shutil.rmtree(target, ignore_errors=True)
        target.unlink(missing_ok=True)
        target.write_text("not a folder")

    return damage


def _site_is_a_file(docs: Path) -> None:
    shutil.rmtree(docs)
    docs.write_text("not a folder")


def _folder_for_index(docs: Path) -> None:
    (docs / "index.html").unlink()
    (docs / "index.html").mkdir()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "site is a file": _site_is_a_file,
    "static is a file": _file_for("static"),
    "expectations is a file": _file_for("expectations"),
    "index.html is a folder": _folder_for_index,
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_site_is_rebuilt_whole(
    tmp_path: Path, clean: Validated, call_rows: pl.DataFrame, damage: str
) -> None:
    """The site of the clean samples' validation, damaged, then a validation of 20 clean
    legs (not of every sample leg: the site is the point, not the rows)."""
    warehouse = tmp_path / "wh"
    write_partition(warehouse, "call_legs", CALL_DAY, call_rows)
    settings = Settings(warehouse=warehouse)
    docs = settings.layout.quality / "data_docs"
    shutil.copytree(clean.settings.layout.quality / "data_docs", docs)
    stale = docs / "validations" / "stale-page.html"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("<html>an earlier run</html>")
    DAMAGES[damage](docs)

    report = validate_warehouse(settings, "all")

    assert report.exit_code == 0 and report.data_docs_index == docs / "index.html"
    html = (docs / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"#?]+\.html)"', html))
    assert links and all((docs / link).is_file() for link in links), links
    assert (docs / "expectations" / "call_legs.html").is_file()
    assert (docs / "static" / "vendor").is_dir()
    assert not stale.exists()  # pages of earlier runs go with the old site
    # no staging or old copies left beside it
    assert [p.name for p in docs.parent.iterdir()] == ["data_docs"]


def test_a_page_gx_could_not_write_is_one_line_or_exit_6(tmp_path: Path) -> None:
    """GX catches a page's failed write and logs its message with the whole traceback on
    stderr, once per page, and renders on: a refused write (disk full) is exit 6 naming the
    Data Docs folder; any other failure is one line each, never GX's traceback."""
    import logging

    from cdr_pipeline.errors import WarehouseUnwritable
    from cdr_pipeline.quality.site import _render_failures

    gx_log = logging.getLogger("great_expectations.render.renderer.site_builder")

    def fail_a_page(error: Exception) -> None:
        try:
            raise error
        except Exception as e:  # what site_builder.build logs for each page it loses
            gx_log.error(
                "An unexpected Exception occurred during data docs rendering.  Detailed "
                f'information follows:\n                {type(e).__name__}: "{e!s}".  '
                f'Traceback: "{traceback.format_exc()}".'
            )

    full = pytest.raises(WarehouseUnwritable, match="no space left writing")
    with full as caught, _render_failures(tmp_path):
        fail_a_page(OSError(28, "No space left on device"))
    assert str(tmp_path) in str(caught.value)
    with _render_failures(tmp_path) as failures:
        fail_a_page(KeyError("expectation_type"))
    assert failures == ["KeyError: \"'expectation_type'\""]
    assert gx_log.propagate and not any(type(h).__name__ == "Catch" for h in gx_log.handlers)


@pytest.mark.parametrize("folder", ["quality", "state/validate_tmp"])
def test_a_file_where_a_validation_writes_a_folder_is_named(tmp_path: Path, folder: str) -> None:
    """A file named `quality` (or `state/validate_tmp`) in the warehouse made `cdr validate`
    fail with exit 1, 'unexpected FileExistsError' / 'NotADirectoryError', a bug by the exit
    codes' account, after the whole validation had run. It stops before it starts, with
    exit 6 naming the file, and leaves the file alone."""
    from cdr_pipeline.errors import WarehouseDamaged

    warehouse = tmp_path / "wh"
    (warehouse / "state").mkdir(parents=True)
    (warehouse / folder).write_text("someone's notes")
    with pytest.raises(WarehouseDamaged) as caught:
        validate_warehouse(Settings(warehouse=warehouse), "all")
    assert str(warehouse / folder) in str(caught.value)
    assert caught.value.exit_code == 6
    assert (warehouse / folder).read_text() == "someone's notes"


def test_a_validation_stopped_by_a_damaged_table_leaves_no_spill_folder(
    tmp_path: Path, clean: Validated
) -> None:
    """A data file overwritten in place stops the validation with exit 6, as documented, but
    its DuckDB spill folder `state/validate_tmp/<id>` stayed behind: one more for every
    nightly until the file was restored."""
    from cdr_pipeline.errors import WarehouseDamaged

    warehouse = tmp_path / "wh"
    shutil.copytree(clean.settings.layout.tables / "call_legs", warehouse / "tables" / "call_legs")
    victim = sorted((warehouse / "tables" / "call_legs").rglob("*.parquet"))[0]
    victim.write_bytes(b"\xab" * victim.stat().st_size)  # the size its log recorded
    with pytest.raises(WarehouseDamaged, match="cannot be read as Parquet"):
        validate_warehouse(Settings(warehouse=warehouse), "all")
    assert list((warehouse / "state" / "validate_tmp").glob("*")) == []
