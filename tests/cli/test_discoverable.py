"""The CLI explains itself: help on every option, top-level summaries not cut off, shell
completion of report names and months, `--json` on every command (but report and sql)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import SETTINGS_KEYS

ROOT = Path(__file__).parents[2]


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name} {'/'.join(p.opts)}"
        for name, command in [("cdr", cli), *cli.commands.items()]
        for p in command.params
        if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert not missing, missing


def test_top_level_summaries_are_not_cut_off() -> None:
    out = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    commands = out.split("Commands:", 1)[1]
    assert "..." not in commands
    for name in cli.commands:
        assert f"  {name} " in commands


def test_root_help_lists_every_exit_code() -> None:
    """130 (Ctrl-C, SIGTERM: `systemctl stop`) was missing, so an operator reading
    `cdr --help` to map a unit's exit status found no meaning for it."""
    from cdr_pipeline import errors

    out = " ".join(CliRunner().invoke(cli, ["--help"], terminal_width=80).output.split())
    listed = out.split("Exit codes:", 1)[1].split("Options:", 1)[0]
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    for code in sorted(codes - {0}):
        assert f" {code} " in f" {listed}", code


def complete(words: str) -> list[str]:
    env = {
        **os.environ,
        "_CDR_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    out = subprocess.run(
        [sys.executable, "-c", "from cdr_pipeline.cli.main import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line.split(",", 1)[1] for line in out.splitlines() if "," in line]


def test_shell_completion_of_report_names_and_months() -> None:
    from cdr_pipeline.reports import REPORTS
    from cdr_pipeline.reports.registry import SPECIAL_REPORTS

    assert complete("cdr report lic") == ["licence-usage"]
    assert sorted(complete("cdr report ")) == sorted([*REPORTS, *SPECIAL_REPORTS])
    months = complete("cdr report licence-usage --month 20")
    assert len(months) == 13 and all(len(m) == 7 and m[4] == "-" for m in months)
    assert months == sorted(months, reverse=True)


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _leaf_commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


@pytest.mark.parametrize("command", sorted(_leaf_commands(cli)))
def test_every_command_has_json(command: str) -> None:
    # README: every command prints --json for scripts; report and sql write their own formats
    if command in ("report", "sql"):
        return
    assert "as_json" in {p.name for p in _leaf_commands(cli)[command].params}


def test_samples_json_lists_what_it_wrote(tmp_path: Path) -> None:
    run = CliRunner().invoke(
        cli, ["samples", "--out", str(tmp_path / "s"), "--rows", "100", "--days", "6", "--json"]
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["legs"] >= 100 and data["files"]
    assert all(Path(f).is_file() for f in data["files"])


def test_wait_lock_help_names_the_setting_that_changes_its_default() -> None:
    """`--wait-lock` said "(default: exit 5 at once)", but `lock_wait_seconds` in cdr.toml
    (or CDR_LOCK_WAIT_SECONDS) makes every writer wait without the flag: an operator who
    read the help took a 10-minute wait for a hang."""
    for name in ("ingest", "nightly", "vacuum", "close", "forget"):
        out = CliRunner().invoke(cli, [name, "--help"], terminal_width=200).output
        line = next(ln for ln in out.splitlines() if "--wait-lock" in ln)
        assert "lock_wait_seconds" in line, line


def test_a_group_without_its_command_shows_its_help_on_lines() -> None:
    """`cdr keys` alone printed its help as one line with every line break shown as
    `\\x0a`: the escaping meant for text from the command line in click's messages also
    escaped the line breaks of the help click shows for a group named without a command."""
    run = CliRunner().invoke(cli, ["keys"])
    assert run.exit_code == 2
    assert "\\x0a" not in run.output
    lines = run.output.splitlines()
    assert lines[0].startswith("Usage: ") and "keys" in lines[0]
    assert any("rotate" in ln for ln in lines[1:])


def test_every_flag_of_a_setting_names_the_setting_that_changes_its_default() -> None:
    """`--max-reject-rate` said "(default 0.01 = 1 %)" and `--retain-days` named no
    default, while `max_reject_rate` and `retain_days` in cdr.toml (or their CDR_*
    variables) apply without the flag: each flag of a setting names its key."""
    flags = {k.flag: k.name for k in SETTINGS_KEYS.values() if k.has_flag}
    assert "--max-reject-rate" in flags and "--retain-days" in flags
    for command in cli.commands.values():
        for param in command.params:
            for flag in set(param.opts) & set(flags):
                assert flags[flag] in (getattr(param, "help", "") or ""), (command.name, flag)
