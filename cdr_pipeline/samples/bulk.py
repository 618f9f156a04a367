"""`write_call_export`: one large DCH CSV export streamed to disk with bounded memory.

Realism comes from the session generator: a template of whole call units (a session, or two
sessions tied by a consultative transfer) is generated once and rendered as CSV text
(`bulk_template.py`). Each batch clones template units, moves them to a new business-hours
instant in their site's time zone and gives every identifier a fresh value, then joins
segments and fresh values into lines with polars, with no CSV writer in between.

Identifiers are remapped per namespace, so the links survive cloning: Remote call ID = the
peer's Local call ID, Transfer related call ID = the other call's Local call ID, shared
Correlation ID and Network call ID. A UUID or session id keeps its template tail and gets
new first 8 hex digits, a bijection of the clone number for each template value, so two
clones never share an id. A cloned Webex Go leg keeps Webex Go only if its user's device is
ONLINE at the new time (per the world's lifecycle); otherwise the leg falls back to the Webex
app.

Batches are independent (each has its own random stream, seeded by the batch number), so
two threads render them while the caller writes them in order: same arguments, same bytes.
"""

from __future__ import annotations

import logging
import zipfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa

from cdr_pipeline.samples.bulk_template import NAMESPACES, TIMES, Template, csv_field, template
from cdr_pipeline.samples.writer import API_HEADERS, BOM, CONTROLHUB_HEADERS

log = logging.getLogger(__name__)

BATCH_LEGS = 25_000
_WORKERS = 2
_GOLDEN = 0x9E3779B9


@dataclass(frozen=True)
class GenerationProgress:
    """Progress of a bulk generation, sent after every batch written."""

    source: str
    rows_written: int
    rows_total: int
    bytes_written: int
    done: bool = False


ProgressCallback = Callable[[GenerationProgress], None]


@dataclass(frozen=True)
class Batch:
    """Rendered lines (CRLF-terminated) grouped by month; `month_rows[m]` = row range."""

    lines: pa.LargeStringArray
    month_rows: dict[int, tuple[int, int]]
    webex_go: int
    """Legs written as Webex Go (a cloned Webex Go leg whose device is not ONLINE then is not)."""

    def text(self, first: int, stop: int) -> memoryview:
        """The bytes of rows [first, stop), without a copy."""
        offsets = np.frombuffer(self.lines.buffers()[1], dtype=np.int64)
        base = self.lines.offset
        data = self.lines.buffers()[2]
        assert data is not None
        return memoryview(data)[offsets[base + first] : offsets[base + stop]]


def header_bytes(style: str, bom: bool = True) -> bytes:
    """The first line of an export in `style`, after an optional BOM."""
    headers = CONTROLHUB_HEADERS if style == "controlhub" else API_HEADERS
    line = ",".join(csv_field(h) for h in headers) + "\r\n"
    return ((BOM if bom else "") + line).encode("utf-8")


def _perm32(x: np.ndarray) -> np.ndarray:
    """A bijection on 32-bit integers (lowbias32), so distinct inputs stay distinct."""
    z = x.astype(np.uint32)
    z ^= z >> np.uint32(16)
    z *= np.uint32(0x7FEB352D)
    z ^= z >> np.uint32(15)
    z *= np.uint32(0x846CA68B)
    z ^= z >> np.uint32(16)
    return z


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def _ascii(matrix: np.ndarray) -> pl.Series:
    """Fixed-width ASCII text, one row of `matrix` (uint8) per string."""
    n, width = matrix.shape
    raw = np.ascontiguousarray(matrix, dtype=np.uint8).tobytes()
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(raw)])
    series = pl.from_arrow(arr.cast(pa.binary()))
    assert isinstance(series, pl.Series)
    return series.cast(pl.String)


def _hex8(words: np.ndarray) -> pl.Series:
    """Eight lower-case hex digits per 32-bit word."""
    w = words.astype(np.uint32)
    shifts = np.arange(28, -4, -4, dtype=np.uint32)
    return _ascii(_HEX[(w[:, None] >> shifts) & np.uint32(15)])


def _iso_ms(ms: np.ndarray, space: np.ndarray | None = None) -> pl.Series:
    """`2026-10-01T11:01:16.545Z` for epoch milliseconds (the form of `text.iso_ms`); rows
    flagged in `space` get the form `2026-10-01 11:01:16.545` (see writer.py)."""
    days, rest = np.divmod(ms, 86_400_000)
    date_text = np.datetime_as_string(np.arange(days.min(), days.max() + 1).astype("M8[D]"))
    table = np.frombuffer("".join(date_text).encode(), dtype=np.uint8).reshape(-1, 10)
    out = np.empty((len(ms), 24), dtype=np.uint8)
    out[:, :10] = table[days - days.min()]
    out[:, 10] = ord("T")
    out[:, 23] = ord("Z")
    for pos, unit, base in ((11, 3_600_000, 24), (14, 60_000, 60), (17, 1000, 60)):
        value = rest // unit % base
        out[:, pos], out[:, pos + 1] = _DIGITS[value // 10], _DIGITS[value % 10]
    out[:, 13] = out[:, 16] = ord(":")
    out[:, 19] = ord(".")
    milli = rest % 1000
    out[:, 20], out[:, 21], out[:, 22] = (
        _DIGITS[milli // 100], _DIGITS[milli // 10 % 10], _DIGITS[milli % 10]
    )  # fmt: skip
    if space is None or not space.any():
        return _ascii(out)
    iso = _ascii(out)
    out[:, 10] = ord(" ")
    spaced = _ascii(out[:, :23])
    return pl.select(pl.when(pl.lit(pl.Series(space))).then(spaced).otherwise(iso)).to_series()


def _anchors(rng: np.random.Generator, tz: np.ndarray, start: date, days: int) -> np.ndarray:
    """UTC epoch ms of session starts, weekday business hours in each site's local time."""
    n = len(tz)
    dows = (np.arange(days) + start.weekday()) % 7
    w = np.where(dows < 5, 1.0, 0.12)
    day = rng.choice(days, size=n, p=w / w.sum())
    pick = rng.random(n)
    hours = np.where(pick < 0.45, rng.normal(10.5, 1.4, n), rng.normal(14.5, 1.6, n))
    hours = np.where(pick >= 0.9, rng.uniform(0, 24, n), hours)
    local_ms = np.clip(hours, 0, 23.999) * 3_600_000
    base = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    return base + day * 86_400_000 + local_ms.astype(np.int64) - tz.astype(np.int64) * 60_000


def _month_index(ms: np.ndarray, start: date) -> np.ndarray:
    months = ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    return months - ((start.year - 1970) * 12 + start.month - 1)


def render_batch(
    tpl: Template, index: int, want: int, seed: int, start: date, days: int, by_month: bool
) -> Batch:
    """Batch number `index`: `want` legs of whole cloned units (single-leg units fill the
    end), grouped by the month of their unit's start when `by_month` (days stay
    interleaved); deterministic in its arguments."""
    rng = np.random.default_rng([seed, 0xCDB, index])
    units = rng.integers(0, len(tpl.unit_len), size=max(want // 2, 1))
    units = units[np.cumsum(tpl.unit_len[units]) <= want]
    short = want - int(tpl.unit_len[units].sum())
    if short:
        units = np.concatenate([units, rng.choice(tpl.singles, size=short)])
    unit_anchor = _anchors(rng, tpl.unit_tz[units], start, days)
    unit_month = _month_index(unit_anchor, start)
    if by_month:
        order = np.argsort(unit_month, kind="stable")
        units, unit_anchor, unit_month = units[order], unit_anchor[order], unit_month[order]
    else:
        unit_month = np.zeros_like(unit_month)
    lens = tpl.unit_len[units]
    total = int(lens.sum())
    first = np.repeat(np.cumsum(lens) - lens, lens)
    rows = np.repeat(tpl.unit_start[units], lens) + (np.arange(total) - first)
    clone = np.repeat(index * BATCH_LEGS + np.arange(len(units), dtype=np.int64), lens)
    anchor = np.repeat(unit_anchor, lens)
    space = rng.random(total) < 0.05 if tpl.style == "api" else None
    lost = tpl.is_go[rows] & ~tpl.online(
        tpl.user_code[rows], anchor + tpl.offsets["start_time"][rows]
    )
    gather = pl.Series(rows)
    pieces: list[pl.Expr] = []
    for k, slot in enumerate(tpl.slots):
        seg = tpl.segments[k]
        pieces.append(pl.lit(seg) if isinstance(seg, str) else pl.lit(seg.gather(gather)))
        if slot in TIMES:
            pieces.append(_time(tpl, slot, rows, anchor, space))
        elif slot == "client":
            pieces.append(
                pl.when(pl.lit(pl.Series(lost)))
                .then(pl.lit(tpl.client_fallback))
                .otherwise(pl.lit(tpl.client.gather(gather)))
            )
        else:
            pieces.append(_identifier(tpl, slot, rows, clone, seed))
    last = tpl.segments[-1]
    pieces.append(pl.lit(last) if isinstance(last, str) else pl.lit(last.gather(gather)))
    lines = pl.select(pl.concat_str(pieces).alias("line")).to_series()
    arrow = lines.to_arrow()
    if arrow.type != pa.large_string():
        arrow = arrow.cast(pa.large_string())
    month_rows: dict[int, tuple[int, int]] = {}
    edges = np.cumsum(lens)
    for m in np.unique(unit_month):
        lo, hi = np.searchsorted(unit_month, m), np.searchsorted(unit_month, m, side="right")
        month_rows[int(m)] = (int(edges[lo] - lens[lo]), int(edges[hi - 1]))
    return Batch(arrow, month_rows, int(tpl.is_go[rows].sum() - lost.sum()))


def _time(
    tpl: Template, name: str, rows: np.ndarray, anchor: np.ndarray, space: np.ndarray | None
) -> pl.Expr:
    text = _iso_ms(anchor + tpl.offsets[name][rows], space if name == "release_time" else None)
    null = pl.lit(pl.Series(tpl.time_null[name][rows]))
    return pl.when(null).then(pl.lit(tpl.null_text[name])).otherwise(pl.lit(text))


def _identifier(
    tpl: Template, name: str, rows: np.ndarray, clone: np.ndarray, seed: int
) -> pl.Expr:
    ns = next(ns for ns, names in NAMESPACES.items() if name in names)
    j = tpl.id_index[name][rows]
    present = pl.lit(pl.Series(j >= 0))
    jj = np.where(j >= 0, j, 0)
    if ns in ("uuid", "session"):
        mixed = (clone + jj * _GOLDEN + seed * 0x632BE5AB + len(ns)) & 0xFFFFFFFF
        text = pl.lit(_hex8(_perm32(mixed)) + tpl.id_tail[ns].gather(pl.Series(jj)))
    else:
        n = clone * tpl.id_count[ns] + jj
        tail = pl.lit(pl.Series(n % 249 + 2).cast(pl.String))
        if ns == "callid":
            text = pl.lit(pl.Series(n + 1_000_000_000).cast(pl.String)) + ":0"
        elif ns == "net":
            text = pl.concat_str(
                pl.lit("BW"), pl.lit(pl.Series(n + 10**17).cast(pl.String)), pl.lit("@10.21.0."),
                tail,
            )  # fmt: skip
        else:
            text = pl.concat_str(
                pl.lit("SSE"), pl.lit(pl.Series(n + 10**16).cast(pl.String)),
                pl.lit("@10.177.4."), tail,
            )  # fmt: skip
    return pl.when(present).then(text).otherwise(pl.lit(tpl.null_text[name]))


def stream_batches(
    tpl: Template,
    *,
    legs: int,
    seed: int,
    start: date,
    days: int,
    write: Callable[[Batch], None],
    by_month: bool = False,
) -> int:
    """Render `legs` legs in batches on two threads and hand them to `write` in order;
    at most three batches are held at once. With `by_month` each batch's rows are grouped
    by month (`Batch.month_rows`); otherwise they are all month 0."""
    n_batches = -(-legs // BATCH_LEGS)
    pending: deque[Future[Batch]] = deque()
    written = 0
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="samples") as pool:
        for i in range(n_batches):
            want = min(BATCH_LEGS, legs - i * BATCH_LEGS)
            pending.append(pool.submit(render_batch, tpl, i, want, seed, start, days, by_month))
            if len(pending) > _WORKERS:
                batch = pending.popleft().result()
                write(batch)
                written += len(batch.lines)
        while pending:
            batch = pending.popleft().result()
            write(batch)
            written += len(batch.lines)
    return written


def write_call_export(
    path: Path,
    *,
    legs: int,
    seed: int,
    start: date,
    days: int,
    bom: bool = True,
    zip_member: bool = False,
    style: str = "api",
    progress: ProgressCallback | None = None,
) -> int:
    """Stream one DCH CSV export of exactly `legs` call legs to `path`; return the count.

    `style` is "api" (API header spellings, `true`/`false`, a few space-form Release times)
    or "controlhub" (the Control Hub report: its spellings, `TRUE`/`FALSE`, `NA`). Memory
    is bounded by the batch size (25k legs), not by `legs`. With `zip_member` the CSV is
    written as the single member of a ZIP at `path` (keep the name extension-less to mimic
    the Reports API). `progress` is called after every batch. Same arguments, same bytes.
    """
    tpl = template(seed, start, days, style)
    done = [0, 0]
    with _open(path, zip_member) as fh:
        fh.write(header_bytes(style, bom))

        def write(batch: Batch) -> None:
            data = batch.text(0, len(batch.lines))
            fh.write(data)
            done[0] += len(batch.lines)
            done[1] += len(data)
            if progress is not None:
                progress(GenerationProgress(path.name, done[0], legs, done[1]))

        written = stream_batches(tpl, legs=legs, seed=seed, start=start, days=days, write=write)
    if progress is not None:
        progress(GenerationProgress(path.name, written, legs, done[1], done=True))
    log.info("call export: %d legs -> %s", written, path)
    return written


class _open:
    """A binary sink: the file itself, or one deflated member inside a ZIP at `path`."""

    def __init__(self, path: Path, zip_member: bool) -> None:
        self.path, self.zip_member = path, zip_member
        self._zip: zipfile.ZipFile | None = None
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.zip_member:
            self._zip = zipfile.ZipFile(
                self.path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
            )
            info = zipfile.ZipInfo(self.path.stem + ".csv", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            self._fh = self._zip.open(info, "w", force_zip64=True)
        else:
            self._fh = open(self.path, "wb")
        return self._fh

    def __exit__(self, *exc: object) -> None:
        assert self._fh is not None
        self._fh.close()
        if self._zip is not None:
            self._zip.close()
