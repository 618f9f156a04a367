"""Rendering helpers for command output: tables, JSON, progress."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

log = logging.getLogger("cdr_pipeline.cli")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [
        all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows) and rows
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def ingest_table(files: Sequence[Any], short_names: bool = False) -> str:
    """The per-file summary of an ingest result (a FileResult sequence)."""
    return table(
        [
            "file",
            "kind",
            "status",
            "read",
            "loaded",
            "webex go",
            "duplicate",
            "rejected",
            "seconds",
        ],
        [
            (
                Path(f.source).name if short_names else f.source,
                f.kind or "",
                f.status,
                f.rows_read,
                f.rows_loaded,
                f.webex_go_rows,
                f.rows_duplicate,
                f.rows_rejected,
                round(f.seconds, 1),
            )
            for f in files
        ],
    )


def to_json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        return str(o)

    return json.dumps(obj, default=default, indent=2, ensure_ascii=False)


class Progress:
    """Progress of a long job: a live line on a terminal, a log line every N updates otherwise,
    nothing when quiet."""

    def __init__(self, quiet: bool, every: int = 10) -> None:
        self.tty = sys.stderr.isatty() and not quiet
        self.quiet = quiet
        self.every = every
        self.count = 0
        self.t0 = time.monotonic()
        self.source: str | None = None

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if event.source != self.source:
            self.source, self.t0, self.count = event.source, time.monotonic(), 0
        self.count += 1
        rate = event.rows_read / max(time.monotonic() - self.t0, 1e-6)
        pct = f" {min(event.bytes_read / event.total_bytes, 1):.0%}" if event.total_bytes else ""
        text = f"{event.source}: {event.rows_read:,} rows, {rate:,.0f} rows/s{pct}"
        if self.tty:
            click.echo("\r\033[K" + text + ("\n" if event.done else ""), err=True, nl=False)
        elif event.done or self.count % self.every == 0:
            log.info(text)
