"""The CDN rewrite on a small hand-made site (no GX, no browser): known URLs become relative
links to real vendored files, SRI attributes go, unknown external loads are reported, links
the user clicks stay."""

from __future__ import annotations

import os
from pathlib import Path

from cdr_pipeline.quality.offline import CDN_ASSETS, GX_IMAGES, VENDOR_DIR, make_offline

JQUERY = "https://code.jquery.com/jquery-3.7.1.min.js"
POPPER = "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"
UNKNOWN = "https://cdn.example.org/new-widget@2/widget.min.js"


def _site(root: Path) -> Path:
    page = root / "validations" / "t" / "run" / "time" / "page.html"
    page.parent.mkdir(parents=True)
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "logo-long.png").write_bytes(b"\x89PNG")
    (root / "static" / "images" / "favicon.ico").write_bytes(b"ico")
    (root / "static" / "styles").mkdir()
    (root / "static" / "styles" / "s.css").write_text(
        f".brand {{ background: url('{GX_IMAGES}full_logo_dark.png') 0 0 no-repeat; }}\n",
        encoding="utf-8",
    )
    page.write_text(
        "<html><head>"
        f'<script src="{JQUERY}"></script>\n'
        f'<script src="{POPPER}" integrity="sha384-abc" crossorigin="anonymous"></script>\n'
        f'<script src="{UNKNOWN}"></script>\n'
        '<link rel="icon" href="../../../static/images/favicon.ico">\n'
        "</head><body>"
        f'<img src="{GX_IMAGES}logo-long.png?d=20261201T000000Z">'
        '<a href="https://greatexpectations.io">GX</a></body></html>',
        encoding="utf-8",
    )
    return page


def test_known_urls_become_relative_links_and_unknown_ones_are_reported(tmp_path: Path) -> None:
    page = _site(tmp_path)
    remaining = make_offline(tmp_path)
    assert remaining == [UNKNOWN]
    html = page.read_text(encoding="utf-8")
    up = "../../../../"
    assert f'src="{up}{VENDOR_DIR.as_posix()}/{CDN_ASSETS[JQUERY]}"' in html
    assert f'src="{up}{VENDOR_DIR.as_posix()}/{CDN_ASSETS[POPPER]}">' in html  # SRI dropped
    assert "integrity" not in html and "crossorigin" not in html
    assert f'src="{UNKNOWN}"' in html  # left for the warning, not silently dropped
    assert f'src="{up}static/images/logo-long.png"' in html
    assert f'href="{up}static/images/favicon.ico"' in html  # GX's link one ../ short, fixed
    assert 'href="https://greatexpectations.io"' in html  # a link, not a load
    for rel in (CDN_ASSETS[JQUERY], CDN_ASSETS[POPPER]):
        assert (tmp_path / VENDOR_DIR / rel).stat().st_size > 1000
    css = (tmp_path / "static" / "styles" / "s.css").read_text(encoding="utf-8")
    assert "url('../images/logo-long.png')" in css


def test_every_mapped_asset_is_vendored_and_licensed(tmp_path: Path) -> None:
    make_offline(tmp_path)
    vendor = tmp_path / VENDOR_DIR
    for rel in CDN_ASSETS.values():
        assert (vendor / rel).is_file(), rel
        folder = vendor / rel.split("/", 1)[0]
        assert list(folder.glob("LICENSE*")), folder
    css = (vendor / CDN_ASSETS[next(u for u in CDN_ASSETS if "font-awesome" in u)]).read_text(
        encoding="utf-8"
    )
    assert "../webfonts/fa-solid-900.woff2" in css
    assert (vendor / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2").is_file()


def test_rewriting_twice_changes_nothing(tmp_path: Path) -> None:
    page = _site(tmp_path)
    make_offline(tmp_path)
    once = page.read_text(encoding="utf-8")
    assert make_offline(tmp_path) == [UNKNOWN]
    assert page.read_text(encoding="utf-8") == once


def test_vendored_copies_are_owner_only_like_the_rest(tmp_path: Path) -> None:
    """The vendored files were copied with the package's own modes (0644, folders 0755),
    the only group- and world-readable files of a warehouse that is owner-only at rest
    (README, "Owner-only at rest"): they are created under the process umask, as every
    other file the pipeline writes."""
    root = tmp_path / "site"
    root.mkdir()
    old = os.umask(0o077)
    try:
        make_offline(root)
    finally:
        os.umask(old)
    vendor = root / VENDOR_DIR
    loose = [p for p in [vendor, *vendor.rglob("*")] if p.stat().st_mode & 0o077]
    assert not loose, loose[:3]
