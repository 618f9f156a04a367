"""What an operator sees when Spark cannot run at all: no pyspark, or no Java. Both are
configuration to fix (exit 3, a message and a hint), not a bug report (exit 1 with
pyspark's traceback). Run as the real command in a child process, which fails before a
JVM starts, so these tests are quick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess:
    code = (
        f"import sys; {prelude}\n"
        "from cdr_pipeline.spark.__main__ import main\n"
        f"sys.exit(main({args!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )


def _path_without_java(tmp_path: Path) -> str:
    """A PATH holding every command of the current one except `java`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name != "java" and not target.exists():
                target.symlink_to(entry.path)
    return str(bin_dir)


@pytest.mark.parametrize("command", ["build", "ingest"])
def test_without_pyspark_the_commands_say_to_install_the_extra(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "wh" / "tables").mkdir(parents=True)  # a warehouse (the build refuses others)
    args = ["--warehouse", str(tmp_path / "wh"), "--master", "local[1]"]
    args += ["--target", str(tmp_path / "out")] if command == "build" else [str(tmp_path)]
    # None in sys.modules is how Python itself makes an import fail as if not installed
    proc = _run([command, *args], dict(os.environ), "sys.modules['pyspark'] = None")
    assert proc.returncode == 3, proc.stderr
    assert "pyspark cannot be imported" in proc.stderr
    assert "pip install 'cdr-pipeline[spark]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_without_java_the_build_says_what_to_install(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_REMOTE")}
    env["PATH"] = _path_without_java(tmp_path)
    (tmp_path / "wh" / "tables").mkdir(parents=True)
    args = ["build", "--warehouse", str(tmp_path / "wh"), "--target", str(tmp_path / "out")]
    proc = _run([*args, "--master", "local[1]"], env)
    assert proc.returncode == 3, proc.stderr
    assert "Spark could not start its Java process" in proc.stderr
    assert "JAVA_HOME is not set, java on PATH: none" in proc.stderr
    assert "hint: install Java 17 or later" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_json_says_why_it_failed_on_stdout(tmp_path: Path) -> None:
    # as `cdr ingest --json`: a script reads a JSON document with the exit code, not an
    # empty stdout, when the run stops before its result (a held lock, no Spark, bad config)
    args = ["ingest", "--warehouse", str(tmp_path / "wh"), "--json", str(tmp_path)]
    proc = _run(args, dict(os.environ), "sys.modules['pyspark'] = None")
    assert proc.returncode == 3, proc.stderr
    document = json.loads(proc.stdout)
    assert document["exit_code"] == 3
    assert "pyspark cannot be imported" in document["error"]
    assert "cdr-pipeline[spark]" in document["hint"]


def test_build_refuses_a_folder_that_is_not_a_warehouse(tmp_path: Path) -> None:
    # a typo in --warehouse read as empty tables and replaced every view table under the
    # target with an empty one; refused before Spark starts (pyspark is not even imported)
    target = tmp_path / "marts"
    args = ["build", "--warehouse", str(tmp_path / "warehous"), "--target", str(target)]
    proc = _run(args, dict(os.environ), "sys.modules['pyspark'] = None")
    assert proc.returncode == 3, proc.stderr
    assert "warehous is not a warehouse" in proc.stderr
    assert not target.exists()
