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
}


def test_every_design_command_is_registered() -> None:
    assert set(cli.commands) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_help_of_every_command(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    doc = (cli.commands[name].help or "").split("\n")[0].strip()
    assert doc and doc.split()[0] in result.output


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "cdr_pipeline" and len(parts) > 1 else None


LIBRARY = [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_never_imports_click_nor_a_higher_layer(path: Path) -> None:
    area = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if area in ("__init__", "__main__"):
        return
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
