"""Output on a terminal that reports no size (0 columns)."""

from __future__ import annotations

import io
import os

import pytest

from cdr_pipeline.cli import render


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1


def test_a_terminal_of_no_width_gets_plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pseudo-terminal whose size nobody set (`script` in a job, `docker exec -t`, a serial
    console) reports 0 columns: every table was cut to nothing (`cdr fetch` printed three
    empty lines for its windows) and a long paragraph raised ValueError. A width of 0 is no
    width: the output is plain, as off a terminal."""
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((0, 0)))
    tty = Tty()
    monkeypatch.setattr(render.sys, "stdout", tty)
    assert render.terminal_width(tty) is None
    table = render.text_table(["window start", "records"], [("2026-10-01 00:00:00", 42)])
    assert "2026-10-01 00:00:00" in table and "42" in table
    assert render.paragraph("word " * 40) == "word " * 40
