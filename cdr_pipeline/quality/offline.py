"""Data Docs that render without network access.

Great Expectations' pages load jQuery, Bootstrap, bootstrap-table, Vega, Font Awesome and a
logo from CDNs, and the index builds its tables in the browser with those scripts: offline it
is blank. The package ships copies of exactly the files the templates of the installed GX name
(`assets/`, provenance and licences in `assets/README.md`); after GX writes the site, they are
copied to `static/vendor/` and every CDN URL of the pages and stylesheets is rewritten to a
relative link, so the site also works when the folder is moved, zipped or opened from a share.

Rewriting the written HTML rather than overriding GX's Jinja templates keeps GX's own pages
and renderers untouched: a GX upgrade that names a new URL leaves that URL in place, reported
by `make_offline` (and caught by the offline test), instead of silently breaking a copied
template.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

VENDOR_DIR = Path("static") / "vendor"

CDN_ASSETS: dict[str, str] = {
    # the URLs of great_expectations/render/view/templates/*.j2 (GX 1.x), to vendored files
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js-1.12.9/popper.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.0/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.0/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/vega-embed.min.js",
}

GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
IMAGES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}
"""GX logos fetched from its S3 bucket -> the copies GX writes to `static/images/`."""

# tags whose URL the browser loads by itself (an <a href> is only followed when clicked)
_TAG = re.compile(r"<(?:script|link|img|iframe|source|embed)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(src|href)(\s*=\s*)(["'])(.*?)\3""", re.IGNORECASE | re.DOTALL)
# the CDN copies were checked by their hash when vendored; a file:// load fails SRI checks
_SRI_ATTR = re.compile(
    r"""\s+(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^)"']*)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])(.*?)\1""", re.IGNORECASE)
_EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
# GX's footer on every page: a link to its newsletter with campaign tracking, which has no
# place in a warehouse's quality report (and is no use offline)
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX\b.*?</footer>\s*", re.DOTALL)


def assets_dir() -> Path:
    """The vendored files shipped inside the package (a real folder in a wheel, too)."""
    return Path(str(resources.files("cdr_pipeline.quality") / "assets"))


def _copy_assets(target: Path) -> None:
    """The vendored files into `target`, created under the process umask (`file_mode`) like
    every file of the warehouse: `copytree` kept the package's own modes (0644, folders
    0755), readable by everyone in an owner-only warehouse."""
    source = assets_dir()
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


def make_offline(docs_dir: Path) -> list[str]:
    """Copy the vendored assets into the site and point every page and stylesheet at them.

    Returns the external URLs still loaded by a page or stylesheet (a script, style, image or
    font the map does not know, e.g. after a GX upgrade); empty when the site is offline."""
    _copy_assets(docs_dir / VENDOR_DIR)
    remaining: set[str] = set()
    vendor = (docs_dir / VENDOR_DIR).resolve()
    for path in sorted(docs_dir.rglob("*")):
        if path.suffix not in (".html", ".css") or vendor in path.resolve().parents:
            continue
        text = path.read_text(encoding="utf-8")
        new = _rewrite(_NEWSLETTER.sub("", text), docs_dir, path.parent, remaining)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return sorted(remaining)


def _local(url: str, docs_dir: Path, base: Path) -> str | None:
    """The relative link (from folder `base`) that replaces `url`, or None if it is unknown."""
    target: Path | None = None
    if url in CDN_ASSETS:
        target = docs_dir / VENDOR_DIR / CDN_ASSETS[url]
    elif url.startswith(GX_IMAGES):
        name = url[len(GX_IMAGES) :].split("?", 1)[0]
        if name in IMAGES and (docs_dir / "static" / "images" / IMAGES[name]).is_file():
            target = docs_dir / "static" / "images" / IMAGES[name]
    if target is None:
        return None
    return Path(os.path.relpath(target, base)).as_posix()


def _static(url: str, docs_dir: Path, base: Path) -> str | None:
    """A link into the site's `static/` folder that misses it (GX writes the favicon link of
    result pages one `../` short), re-anchored at the site root; None if it resolves."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    at = path.find("static/")
    if at < 0 or not path or (base / path).exists() or not (docs_dir / path[at:]).is_file():
        return None
    return Path(os.path.relpath(docs_dir / path[at:], base)).as_posix()


def _rewrite(text: str, docs_dir: Path, base: Path, remaining: set[str]) -> str:
    def tag(m: re.Match[str]) -> str:
        rewritten = False

        def attr(a: re.Match[str]) -> str:
            nonlocal rewritten
            url = a.group(4)
            if not _EXTERNAL.match(url):
                fixed = _static(url, docs_dir, base)
                return a.group(0) if fixed is None else a.group(0).replace(url, fixed)
            local = _local(url.strip(), docs_dir, base)
            if local is None:
                remaining.add(url.strip())
                return a.group(0)
            rewritten = True
            return f"{a.group(1)}{a.group(2)}{a.group(3)}{local}{a.group(3)}"

        out = _URL_ATTR.sub(attr, m.group(0))
        return _SRI_ATTR.sub("", out) if rewritten else out

    def css_url(m: re.Match[str]) -> str:
        url = m.group(2).strip()
        if not _EXTERNAL.match(url):
            return m.group(0)
        local = _local(url, docs_dir, base)
        if local is None:
            remaining.add(url)
            return m.group(0)
        return f"url('{local}')"

    text = _TAG.sub(tag, text)
    text = _CSS_URL.sub(css_url, text)
    remaining.update(u.strip() for _, u in _CSS_IMPORT.findall(text) if _EXTERNAL.match(u))
    return text
