"""Every command has working help; the package keeps its layers (import-linter contracts in
pyproject.toml, which `make check` also runs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.cli.samples import notebooks_hint

PACKAGE = Path(__file__).parents[2] / "cdr_pipeline"
EXPECTED = {
    "ingest",
    "runs",
    "build",
    "validate",
    "report",
    "nightly",
    "fetch",
    "samples",
    "demo",
    "sql",
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


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed (pip install -e '.[dev]')"
    return subprocess.run(
        [exe, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_catch_a_back_edge(tmp_path: Path) -> None:
    """The contracts can fail: a copy of the package where `state` imports `ingest` breaks
    the layers contract."""
    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "cdr_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE.parent / "pyproject.toml", copy / "pyproject.toml")
    layout = copy / "cdr_pipeline" / "state" / "layout.py"
    layout.write_text(
        layout.read_text(encoding="utf-8") + "\nimport cdr_pipeline.ingest.run  # noqa\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command(['--no-cache']))",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "cdr_pipeline.state is not allowed to import cdr_pipeline.ingest" in result.stdout


def test_demo_points_the_notebooks_at_its_own_warehouse(tmp_path: Path) -> None:
    """`cdr demo` ended with "Notebooks: make notebooks (... against this warehouse)", but
    `make notebooks` opens the checkout's warehouse/ (docs/notebooks.md): after
    `cdr --warehouse /data/wh demo`, or a demo run in another folder, another one. The line
    names the demo's warehouse for the notebooks (CDR_WAREHOUSE)."""
    wh = tmp_path / "my wh"
    line = notebooks_hint(wh)
    assert f"CDR_WAREHOUSE='{wh.resolve()}' make notebooks" in line
