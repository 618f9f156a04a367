"""Every command has working help; the library keeps DESIGN §3's layering."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli

PACKAGE = Path(__file__).parents[2] / "cdr_pipeline"
EXPECTED = {"ingest", "runs", "build", "validate", "report", "nightly", "fetch", "samples", "demo"}

# DESIGN §3: cli -> batch -> (reports, quality) -> (warehouse, ingest, devices)
#            -> (schema, config, errors). A lower layer never imports a higher one.
LAYER = {
    "cli": 5,
    "batch": 4,
    "reports": 3,
    "quality": 3,
    "fetch": 3,
    "warehouse": 2,
    "ingest": 2,
    "devices": 2,
    "samples": 2,
    "schema": 1,
    "config": 1,
    "errors": 1,
    # not in DESIGN §3's table (added by fd83ff0): a leaf of SQL quoting helpers, used from
    # ingest, warehouse and quality, so it sits with schema/config/errors
    "sqltext": 1,
    # a leaf: the one table renderer, JSON encoder and control-character escaping, used by
    # reports and the CLI (it imports nothing of the package)
    "render": 1,
}


def test_every_design_command_is_registered() -> None:
    assert set(cli.commands) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_help_of_every_command(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    doc = (cli.commands[name].help or "").split("\n")[0].strip()
    assert doc and doc.split()[0] in result.output
    # the help printed is this command's, not the group's
    assert result.output.startswith("Usage: ") and f" {name} " in result.output.splitlines()[0]
    assert doc in " ".join(result.output.split())


def _imports(path: Path, text: str | None = None) -> set[str]:
    """Absolute module names imported by `path` (or by `text` as if it were that file):
    relative imports are resolved against its package, and `from cdr_pipeline import x`
    counts as importing `cdr_pipeline.x`."""
    names: set[str] = set()
    package = ["cdr_pipeline", *path.relative_to(PACKAGE).parent.parts]
    source = path.read_text(encoding="utf-8") if text is None else text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if not module:
                continue
            names.add(module)
            if module == "cdr_pipeline":
                names.update(f"cdr_pipeline.{a.name}" for a in node.names)
    return names


def test_imports_sees_relative_and_package_level_imports() -> None:
    """The layering test below trusts `_imports`: an import spelled relatively or through the
    package must not slip past it."""
    text = "from . import ledger\nfrom ..cli import main\nfrom cdr_pipeline import batch\n"
    names = _imports(PACKAGE / "ingest" / "pipeline.py", text)
    assert {"cdr_pipeline.ingest", "cdr_pipeline.cli", "cdr_pipeline.batch"} <= names
    assert {_area(n) for n in names} - {None} == {"ingest", "cli", "batch"}


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "cdr_pipeline" and len(parts) > 1 else None


LIBRARY = [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_never_imports_click_nor_a_higher_layer(path: Path) -> None:
    area = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if area in ("__init__", "__main__"):
        return
    # an area missing from LAYER would have every import below waved through
    assert area in LAYER, f"{area} has no layer in DESIGN §3's table"
    for name in _imports(path):
        assert name.split(".")[0] != "click", f"{path.name} imports click"
        other = _area(name)
        if other and other in LAYER and area in LAYER:
            assert LAYER[other] <= LAYER[area] or other == area, (
                f"{path.relative_to(PACKAGE)} ({area}) imports {name} ({other}), a higher layer"
            )


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_never_prints_or_exits(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("print", "exit"), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id == "sys":
                assert node.func.attr != "exit", f"{path.name}:{node.lineno}"
