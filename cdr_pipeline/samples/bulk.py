"""`write_call_export`: one large DCH CSV export streamed to disk with bounded memory.

Realism comes from the session generator: a template of whole call units (a session, or two
sessions tied by a consultative transfer) is generated once; each batch clones template
units with numpy/polars, moves them to a new business-hours instant in their site's time
zone and gives every identifier a fresh value. Identifiers are remapped through one table
per namespace, so the links survive cloning: Remote call ID = the peer's Local call ID,
Transfer related call ID = the other call's Local call ID, shared Correlation ID and Network
call ID. A cloned Webex Go leg keeps Webex Go only if its user's device is ONLINE at the new
time (per the world's lifecycle); otherwise the leg falls back to the Webex app.
"""

from __future__ import annotations

import logging
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa

from cdr_pipeline.samples.lifecycle import build_devices
from cdr_pipeline.samples.sessions import generate_legs
from cdr_pipeline.samples.world import build_world
from cdr_pipeline.samples.writer import API_HEADERS, BOM, COLUMNS
from cdr_pipeline.text import ISO_MS_STRFTIME

log = logging.getLogger(__name__)

BATCH_LEGS = 50_000
TEMPLATE_LEGS = 12_000
_TIMES = ("start_time", "answer_time", "release_time", "report_time", "call_transfer_time")
_NAMESPACES: dict[str, tuple[str, ...]] = {
    "uuid": ("correlation_id", "report_id", "interaction_id"),
    "callid": ("local_call_id", "remote_call_id", "transfer_related_call_id"),
    "session": (
        "local_session_id",
        "remote_session_id",
        "final_local_session_id",
        "final_remote_session_id",
    ),
    "net": ("network_call_id",),
    "sip": ("call_id",),
}
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64, so distinct inputs stay distinct."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hex(words: list[np.ndarray]) -> pl.Series:
    """Hex text of the big-endian bytes of 64-bit words (16 hex digits per word)."""
    n = len(words[0])
    raw = np.stack(words, axis=1).astype(">u8").tobytes()
    width = 8 * len(words)
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(raw)])
    series = pl.from_arrow(arr.cast(pa.binary()))
    assert isinstance(series, pl.Series)
    return series.bin.encode("hex")


def _ids(namespace: str, n: np.ndarray, salt: int) -> pl.Series:
    """Fresh identifier text for the unique numbers `n` of one namespace."""
    key = n.astype(np.uint64) ^ np.uint64(salt)
    if namespace == "callid":
        return pl.Series((n + 1_000_000_000).astype(np.int64)).cast(pl.String) + ":0"
    if namespace == "net":
        tail = pl.Series((n % 249 + 2).astype(np.int64)).cast(pl.String)
        return "BW" + pl.Series(n + 10**17).cast(pl.String) + "@10.21.0." + tail
    if namespace == "sip":
        tail = pl.Series((n % 249 + 2).astype(np.int64)).cast(pl.String)
        return "SSE" + pl.Series(n + 10**16).cast(pl.String) + "@10.177.4." + tail
    hi = _splitmix(key)
    lo = _splitmix(hi ^ np.uint64(0x5DEECE66D))
    if namespace == "session":
        return _hex([hi, lo])
    # UUID version 4 layout
    hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
    h = pl.DataFrame({"h": _hex([hi, lo])})
    parts = [pl.col("h").str.slice(a, b) for a, b in ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))]
    return h.select(pl.concat_str(parts, separator="-")).to_series()


class _Template:
    """Template legs as a polars frame plus the arrays that cloning needs."""

    def __init__(self, seed: int, start: date, days: int) -> None:
        world = build_world(seed)
        t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
        devices = build_devices(world, t0, t0 + timedelta(days=days))
        legs, _ = generate_legs(
            world, devices, legs=TEMPLATE_LEGS, seed=seed, start=start, days=days
        )
        # Units: sessions tied by a transfer share an Interaction ID.
        for leg in legs:
            leg["_unit"] = leg.get("interaction_id") or leg["correlation_id"]
        legs.sort(key=lambda leg: (str(leg["_unit"]), leg["start_time"], str(leg["report_id"])))
        cols: dict[str, list[object]] = {
            name: [leg.get(name) for leg in legs] for name, *_ in COLUMNS
        }
        df = pl.DataFrame(
            cols,
            schema_overrides={n: pl.Datetime("ms", "UTC") for n in _TIMES},
            infer_schema_length=None,
            strict=False,
        )
        unit_codes = pl.Series([str(leg["_unit"]) for leg in legs]).rle_id().to_numpy()
        self.unit_of_row = unit_codes.astype(np.int64)
        n_units = int(self.unit_of_row[-1]) + 1
        self.unit_start = np.searchsorted(self.unit_of_row, np.arange(n_units))
        self.unit_len = np.diff(np.append(self.unit_start, len(legs)))
        self.singles = np.flatnonzero(self.unit_len == 1)
        ms = {n: df[n].dt.epoch("ms").fill_null(0).to_numpy() for n in _TIMES}
        self.time_null = {n: df[n].is_null().to_numpy() for n in _TIMES}
        anchor = ms["start_time"][self.unit_start]
        self.offsets = {n: v - np.repeat(anchor, self.unit_len) for n, v in ms.items()}
        self.unit_tz = df["site_timezone_offset_minutes"].to_numpy()[self.unit_start]
        self.id_index: dict[str, np.ndarray] = {}
        self.id_count: dict[str, int] = {}
        for ns, names in _NAMESPACES.items():
            values = (
                pl.concat([df[c].cast(pl.String) for c in names])
                .drop_nulls()
                .unique(maintain_order=True)
            )
            lookup = dict(zip(values.to_list(), range(len(values)), strict=True))
            self.id_count[ns] = len(values)
            for c in names:
                self.id_index[c] = np.array(
                    [lookup.get(v, -1) if v is not None else -1 for v in df[c].to_list()],
                    dtype=np.int64,
                )
        self.is_go = (
            (df["sub_client_type"].str.to_uppercase() == "MOBILE_NETWORK")
            .fill_null(False)
            .to_numpy()
        )
        user_codes: dict[str, int] = {}
        intervals: list[tuple[int, int, int]] = []
        for dev in devices:
            code = user_codes.setdefault(dev.user.uuid, len(user_codes))
            for a, b in dev.online_intervals():
                end = b or t0 + timedelta(days=days + 3650)
                intervals.append((code, int(a.timestamp() * 1000), int(end.timestamp() * 1000)))
        intervals.sort()
        self.iv = np.array(intervals or [(0, 0, 0)], dtype=np.int64).reshape(-1, 3)
        self.user_code = np.array(
            [user_codes.get(u, -1) if u else -1 for u in df["user_uuid"].to_list()], dtype=np.int64
        )
        self.static = df.drop([*_TIMES, *self.id_index])
        self.df_columns = [name for name, *_ in COLUMNS]


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


def _online(tpl: _Template, user: np.ndarray, t: np.ndarray) -> np.ndarray:
    iv = tpl.iv
    key_iv = iv[:, 0] * (1 << 42) + iv[:, 1]
    pos = np.searchsorted(key_iv, user * (1 << 42) + t, side="right") - 1
    ok = pos >= 0
    pos = np.clip(pos, 0, None)
    return ok & (iv[pos, 0] == user) & (t < iv[pos, 2]) & (user >= 0)


def _batch(
    tpl: _Template,
    rng: np.random.Generator,
    want: int,
    clone0: int,
    seed: int,
    start: date,
    days: int,
) -> tuple[pl.DataFrame, int]:
    units = rng.integers(0, len(tpl.unit_len), size=max(want // 2, 1))
    lens = tpl.unit_len[units]
    keep = np.cumsum(lens) <= want
    units = units[keep]
    short = want - int(tpl.unit_len[units].sum())
    if short:
        units = np.concatenate([units, rng.choice(tpl.singles, size=short)])
    lens = tpl.unit_len[units]
    total = int(lens.sum())
    first = np.repeat(np.cumsum(lens) - lens, lens)
    rows = np.repeat(tpl.unit_start[units], lens) + (np.arange(total) - first)
    clone = np.repeat(np.arange(clone0, clone0 + len(units), dtype=np.int64), lens)
    anchor = np.repeat(_anchors(rng, tpl.unit_tz[units], start, days), lens)
    out = tpl.static[rows]
    new: dict[str, pl.Series] = {}
    for name in _TIMES:
        off = tpl.offsets[name][rows]
        ms = pl.Series(name, anchor + off).cast(pl.Datetime("ms", "UTC"))
        nulls = pl.Series(tpl.time_null[name][rows])
        new[name] = pl.select(pl.when(nulls).then(None).otherwise(ms)).to_series().alias(name)
    for ns, names in _NAMESPACES.items():
        for c in names:
            j = tpl.id_index[c][rows]
            n = clone * tpl.id_count[ns] + j
            ids = _ids(ns, np.where(j >= 0, n, 0), seed * 7919 + len(ns))
            new[c] = pl.select(pl.when(pl.Series(j >= 0)).then(ids)).to_series().alias(c)
    go = tpl.is_go[rows]
    lost = go & ~_online(tpl, tpl.user_code[rows], anchor + tpl.offsets["start_time"][rows])
    iso = ISO_MS_STRFTIME
    space = pl.Series(rng.random(total) < 0.05)
    frame = out.with_columns(
        *[
            s.dt.strftime(iso).alias(k)
            if k != "release_time"
            else pl.when(space)
            .then(s.dt.strftime("%Y-%m-%d %H:%M:%S%.3f"))
            .otherwise(s.dt.strftime(iso))
            .alias(k)
            for k, s in new.items()
            if k in _TIMES
        ],
        *[s for k, s in new.items() if k not in _TIMES],
    )
    lost_s = pl.Series(lost)
    frame = frame.with_columns(
        pl.when(lost_s)
        .then(pl.lit("WXC_CLIENT"))
        .otherwise(pl.col("client_type"))
        .alias("client_type"),
        pl.when(lost_s)
        .then(pl.lit(None))
        .otherwise(pl.col("sub_client_type"))
        .alias("sub_client_type"),
        pl.when(lost_s).then(pl.lit("ios")).otherwise(pl.col("os_type")).alias("os_type"),
        pl.when(lost_s)
        .then(pl.lit("45.8.2.30933"))
        .otherwise(pl.col("client_version"))
        .alias("client_version"),
    )
    frame = frame.select(
        pl.col(c).cast(pl.String).alias(h) for c, h in zip(tpl.df_columns, API_HEADERS, strict=True)
    ).with_columns(pl.col("Answered").str.to_lowercase())
    return frame, len(units)


def write_call_export(
    path: Path,
    *,
    legs: int,
    seed: int,
    start: date,
    days: int,
    bom: bool = True,
    zip_member: bool = False,
) -> int:
    """Stream one DCH CSV export of exactly `legs` call legs to `path`; return the count.

    Memory is bounded by the batch size (50k legs), not by `legs`. With `zip_member` the CSV
    is written as the single member of a ZIP at `path` (keep the name extension-less to mimic
    the Reports API). Same arguments, same bytes.
    """
    tpl = _Template(seed, start, days)
    rng = np.random.default_rng([seed, 0xCDB])
    written, clones = 0, 0
    with _open(path, zip_member) as fh:
        if bom:
            fh.write(BOM.encode())
        while written < legs:
            want = min(BATCH_LEGS, legs - written)
            frame, n_units = _batch(tpl, rng, want, clones, seed, start, days)
            frame.write_csv(
                fh, include_header=written == 0, line_terminator="\r\n", quote_style="necessary"
            )
            written += frame.height
            clones += n_units
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
