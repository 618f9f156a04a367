"""Hints added to click's usage errors where its own message leaves the user guessing."""

from __future__ import annotations

import os


def option_named_file(args: list[str]) -> str:
    """What to try when an unknown option is a file whose name starts with `-` (`-rf.csv`,
    `--help.csv`): click read it as flags and said only "No such option: -r"."""
    for arg in args[1:]:
        if arg == "--":
            break
        if arg.startswith("-") and len(arg) > 1 and os.path.lexists(arg):
            return (
                f"{arg} is a file: a name that starts with '-' is read as an option; "
                f"write ./{arg}, or put -- before the paths (cdr {args[0]} -- {arg})"
            )
    return ""
