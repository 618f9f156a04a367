"""Command output: the per-file ingest table and progress. Tables, JSON and the escaping of
control characters come from `cdr_pipeline.render`, shared with the library."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from cdr_pipeline.render import safe_text, text_table

log = logging.getLogger("cdr_pipeline.cli")


def ingest_table(files: Sequence[Any], short_names: bool = False) -> str:
    """The per-file summary of an ingest result (a FileResult sequence)."""
    return text_table(
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
        label = safe_text(str(event.source))
        text = f"{label}: {event.rows_read:,} rows, {rate:,.0f} rows/s{pct}"
        if self.tty:
            click.echo("\r\033[K" + text + ("\n" if event.done else ""), err=True, nl=False)
        elif event.done or self.count % self.every == 0:
            log.info(text)
