"""Command output: the per-file ingest table and progress. Tables, JSON and the escaping of
control characters come from `cdr_pipeline.render`, shared with the library."""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from cdr_pipeline import render
from cdr_pipeline.cli.context import STDERR
from cdr_pipeline.render import display_width, safe_text, shorten_middle

log = logging.getLogger("cdr_pipeline.cli")


def terminal_width(stream: TextIO | None = None) -> int | None:
    """Columns of the terminal `stream` (default stdout) writes to; None when it is not a
    terminal (a file, a pipe, cron) or one of no size: then output is plain and never cut."""
    stream = stream or sys.stdout
    try:
        if not stream.isatty():
            return None
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return None
    # 0: a pseudo-terminal whose size nobody set (`script` in a job, `docker exec -t`);
    # taken as a width, it cut every table to nothing
    return columns if columns > 0 else None


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    grouped: bool = True,
    wrap_last: bool = False,
    whole: Sequence[str] = (),
    give_first: Sequence[str] = (),
) -> str:
    """`cdr_pipeline.render.text_table` fitted to the terminal's width (plain otherwise)."""
    return render.text_table(
        headers,
        rows,
        grouped=grouped,
        max_width=terminal_width(),
        wrap_last=wrap_last,
        whole=whole,
        give_first=give_first,
    )


def paragraph(text: str) -> str:
    """`text` wrapped at word boundaries to the terminal's width, its following lines
    indented (plain otherwise): the terminal broke a hint mid-word (`t` / `ier`). A word
    longer than a line (a path) stays whole."""
    width = terminal_width()
    if width is None or display_width(text) <= width:
        return text
    return textwrap.fill(
        text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def file_label(source: str) -> str:
    """A file's short name: its base name; for a ZIP member, the archive's base name and the
    member's path in it (`export.zip!2026-10/calls.csv`: two folders of one archive may hold
    members of the same name)."""
    if "!" in source:
        archive, member = source.split("!", 1)
        return f"{Path(archive).name}!{member}"
    return Path(source).name


def ingest_table(files: Sequence[Any], short_names: bool = False) -> str:
    """The per-file summary of an ingest result (a FileResult sequence). On a terminal the
    file is its short name; a failed file shows no Webex Go count (nothing was loaded)."""
    short = short_names or terminal_width() is not None
    return text_table(
        # short headers: the numbers, not their titles, should set the columns' widths
        ["file", "kind", "status", "read", "loaded", "go", "dup", "rej", "secs"],
        [
            (
                file_label(f.source) if short else f.source,
                f.kind or "",
                f.status,
                f.rows_read,
                f.rows_loaded,
                f.webex_go_rows if f.rows_loaded else 0,
                f.rows_duplicate,
                f.rows_rejected,
                round(f.seconds, 1),
            )
            for f in files
        ],
        # exports of one report differ at the end of their names: the file keeps its room
        give_first=("kind",),
    )


def file_error_fields(f: Any) -> dict[str, Any]:
    """The JSON log fields of a failed file's `error:` line (a FileResult): README "Logs"
    promises errors their `exit_code`, and `jq` finds the file and the stage it failed in."""
    return {"file": f.source, "exit_code": f.exit_code, "stage": "ingest"}


def duration_text(seconds: float | None) -> str:
    """`4.2s`, `3m05s`, `2h07m`: short enough for a narrow column."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _ending(run: dict[str, Any]) -> str:
    """How a ledger run ended, for its note: its status, or `exit N` for an `ok` run whose
    exit code is not 0 (a run still going has none yet)."""
    status, code = run.get("status"), run.get("exit_code")
    if status == "ok" and code:
        return f"exit {code}"
    return str(status)


def _command(run: dict[str, Any]) -> str:
    """A run's command without `cdr `; a nightly's with the date it ran for when that is
    not the day it started (a re-run of a past night: `nightly --run-date`), as month-day
    like the start (the whole date would cut the run id at 80 columns; --json has it)."""
    command = (run["command"] or "").removeprefix("cdr ")
    day, started = run.get("run_date"), run.get("started_at")
    if day is not None and (started is None or day != started.date()):
        return f"{command} {day:%m-%d}"
    return command


def runs_table(df: Any) -> str:
    """The compact `cdr runs` table (a ledger runs frame): when, how long, what came out."""
    rows = []
    for r in df.iter_rows(named=True):
        started, finished = r.get("started_at"), r.get("finished_at")
        took = (finished - started).total_seconds() if started and finished else None
        rows.append(
            (
                r["run_id"],
                f"{started:%m-%d %H:%M}" if started else "",
                duration_text(took),
                _command(r),
                # a run still going has no exit code yet (a nightly's row holds its ingest's)
                "" if r.get("status") == "running" else r["exit_code"],
                f"{r['files_loaded'] or 0}/{r['files_skipped'] or 0}/{r['files_failed'] or 0}",
                # loaded/skipped/failed; the year is in the run id
                r["rows_loaded"],
                r["rows_rejected"],
            )
        )
    heads = ["run", "started", "took", "command", "exit", "files", "loaded", "rej"]
    # why a run did not end well (the failed stage, the error, "interrupted"): no room in
    # the table, so one line each under it; a run `ok` with an exit code (it committed, then
    # its refresh failed or was stopped) is named by that code
    notes = [
        f"{r['run_id']} {_ending(r)}: {safe_text(r['message'])}"
        for r in df.iter_rows(named=True)
        if r.get("message") and _ending(r) != "ok"
    ]
    return "\n".join([text_table(heads, rows, whole=("started", "took")), *notes])


def files_table(df: Any) -> str:
    """The compact `cdr runs --files` table (a ledger files frame)."""
    rows = [
        (
            file_label(r["source"] or ""),
            r["kind"],
            r["status"],
            r["rows_read"],
            r["rows_loaded"],
            r["rows_duplicate"],
            r["rows_rejected"],
            duration_text(r.get("seconds")),
            r["top_reject_reasons"] or r["message"] or "",
        )
        for r in df.iter_rows(named=True)
    ]
    heads = ["file", "kind", "status", "read", "loaded", "dup", "rej", "took", "note"]
    return text_table(heads, rows, wrap_last=True)


class Progress:
    """Progress of a long job: a live line on a terminal (never wider than it), a log line
    every N updates otherwise, nothing when quiet. The rate is over the last `window`
    seconds (the first ticks of a file would otherwise show billions of rows a second); the
    percentage is of `total_bytes`, the whole input, when the caller knows it."""

    def __init__(
        self, quiet: bool, every: int = 10, total_bytes: int = 0, window: float = 5.0
    ) -> None:
        # --log-json: stderr is one JSON object a line, so no live line there (log lines)
        self.tty = sys.stderr.isatty() and not quiet and not STDERR.json
        self.quiet = quiet
        self.every = every
        self.count = 0
        self.total_bytes = total_bytes
        self.done_bytes = 0
        """Bytes of the files already finished."""
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()
        self.source: str | None = None

    def rate(self, now: float, rows: int) -> float | None:
        """Rows a second over the sliding window; None until it spans a tenth of a second."""
        self.samples.append((now, rows))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()
        t0, r0 = self.samples[0]
        return (rows - r0) / (now - t0) if now - t0 >= 0.1 else None

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if event.done and getattr(event, "status", None) == "skipped":
            self.done_bytes += event.total_bytes  # its bytes are done; its log line says so
            return
        now = time.monotonic()
        if event.source != self.source:
            self.source, self.count = event.source, 0
            self.samples.clear()
            self.samples.append((now, 0))
        self.count += 1
        rate = self.rate(now, event.rows_read)
        speed = f", {rate:,.0f} rows/s" if rate is not None else ""
        whole = max(self.total_bytes, self.done_bytes + event.total_bytes)
        done = self.done_bytes + min(event.bytes_read, event.total_bytes or event.bytes_read)
        pct = f" {min(done / whole, 1):.0%}" if whole else ""
        if event.done:
            self.done_bytes += event.total_bytes
        status = getattr(event, "status", None)  # how a source of an ingest ended
        failed = ", failed" if status == "failed" else ""
        tail = f": {event.rows_read:,} rows{speed}{pct}{failed}"
        if self.tty:
            width = (terminal_width(sys.stderr) or 80) - 1  # the last column would wrap
            label = shorten_middle(safe_text(file_label(str(event.source))), width - len(tail))
            text = (label + tail)[:width]
            click.echo("\r\033[K" + text + ("\n" if event.done else ""), err=True, nl=False)
            STDERR.open_line = not event.done
        elif event.done or self.count % self.every == 0:
            text = f"{safe_text(str(event.source))}{tail}"
            fields: dict[str, Any] = {"file": str(event.source), "rows_read": event.rows_read}
            if event.done and status:  # how it ended, for a reader of the JSON lines
                fields["status"] = status
            log.info(text, extra=fields)
