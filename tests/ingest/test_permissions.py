"""Personal data at rest: what the pipeline writes is owner-only by default (files 0600,
folders 0700) whatever the user's umask, a group share is one setting away (`file_mode`),
and a token file others can read is refused."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cdr_pipeline.config import FetchOptions
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.fetch.token import read_token
from cdr_pipeline.fetch.token_file import read_secret_file
from tests.ingest.helpers import ROOT, fixture


def _modes(root: Path) -> tuple[set[int], set[int]]:
    key = root / "state" / "privacy" / "key"  # owner-only whatever file_mode says
    files = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file() and p != key}
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")] if p.is_dir()}
    return files, dirs


def _cdr(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CDR_CONFIG", "CDR_WAREHOUSE")}
    return subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # a usual umask: would give 0644 / 0755
    )


@pytest.mark.parametrize(
    ("env", "file_mode", "dir_mode"),
    [({}, 0o600, 0o700), ({"CDR_FILE_MODE": "0640"}, 0o640, 0o750)],
)
def test_warehouse_is_owner_only_unless_shared_with_a_group(
    tmp_path: Path, env: dict[str, str], file_mode: int, dir_mode: int
) -> None:
    wh = tmp_path / "wh"
    inputs = [fixture("bom_crlf.csv"), fixture("bad_rows.csv")]  # the second has rejects
    run = _cdr("--warehouse", str(wh), "ingest", "--max-reject-rate", "1", *map(str, inputs), **env)
    assert run.returncode == 0, run.stderr
    assert list((wh / "rejects").rglob("*.parquet")) and list((wh / "tables").rglob("*.parquet"))
    assert list((wh / "state" / "ledger").rglob("*.parquet"))
    files, dirs = _modes(wh)
    assert files == {file_mode} and dirs == {dir_mode}
    # the pseudonym key of the analyst tier is never shared, not even with the group
    assert stat.S_IMODE((wh / "state" / "privacy" / "key").stat().st_mode) == 0o600


def test_file_mode_setting_is_checked(tmp_path: Path) -> None:
    run = _cdr("--warehouse", str(tmp_path / "wh"), "ingest", str(fixture("bom_crlf.csv")),
               CDR_FILE_MODE="0644")  # fmt: skip
    assert run.returncode == 3 and "file_mode" in run.stderr
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_token_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    token.chmod(mode)
    with pytest.raises(ConfigError, match="accessible by group or others") as info:
        read_token(FetchOptions(token_file=token), env={})
    assert info.value.hint == f"chmod 600 {token}  (only its owner may read it)"
    token.chmod(0o600)
    assert read_token(FetchOptions(token_file=token), env={}) == "secret-token"
    assert read_secret_file(token) == "secret-token"


def test_library_build_keeps_the_warehouse_owner_only(tmp_path: Path) -> None:
    """`build_warehouse` (public API) in a process whose umask is 022, in a warehouse folder
    an operator made 0755: `cdr.duckdb` (the full tier) and the pseudonym map came out 0644,
    readable by every user, where `ingest_paths` and the CLI give `file_mode`."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from cdr_pipeline.config import Settings\n"
        "from cdr_pipeline.ingest import ingest_paths\n"
        "from cdr_pipeline.warehouse import build_warehouse\n"
        "s = Settings(warehouse=Path(sys.argv[1]))\n"
        "ingest_paths(s, [Path(sys.argv[2])])\n"
        "os.umask(0o022)  # e.g. a scheduler whose next task only rebuilds the views\n"
        "build_warehouse(s)\n"
    )
    wh = tmp_path / "wh"
    wh.mkdir(mode=0o755)
    os.chmod(wh, 0o755)
    done = subprocess.run(
        [sys.executable, "-c", code, str(wh), str(fixture("overlap_a.csv"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    written = [wh / "cdr.duckdb", *(wh / "state" / "privacy").glob("pseudonyms-*.parquet")]
    assert len(written) >= 2
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {
        p.name: 0o600 for p in written
    }
