"""The template of the bulk generator: whole call units rendered once as CSV text.

A unit is a session, or two sessions tied by a consultative transfer (they share an
Interaction ID). Every column that does not change from one clone to the next is rendered
here, in the chosen writing style (`writer.py`), into the text *segments* between the
columns that do change (times, identifiers, the client fields of a Webex Go leg). Cloning a
unit is then a gather of segments plus the fresh values in between, joined into lines.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from cdr_pipeline.samples.lifecycle import build_devices
from cdr_pipeline.samples.sessions import Leg, generate_legs
from cdr_pipeline.samples.world import build_world
from cdr_pipeline.samples.writer import COLUMNS, cell

TEMPLATE_LEGS = 12_000
TIMES = ("start_time", "answer_time", "release_time", "report_time", "call_transfer_time")
NAMESPACES: dict[str, tuple[str, ...]] = {
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
ID_NAMESPACE = {c: ns for ns, names in NAMESPACES.items() for c in names}
CLIENT = ("client_type", "client_version", "sub_client_type", "os_type")
"""Adjacent columns a cloned Webex Go leg rewrites when its device is not ONLINE then."""
CLIENT_FALLBACK: Leg = {
    "client_type": "WXC_CLIENT",
    "client_version": "45.8.2.30933",
    "sub_client_type": None,
    "os_type": "ios",
}
_NAMES = [name for name, *_ in COLUMNS]
assert _NAMES[_NAMES.index(CLIENT[0]) : _NAMES.index(CLIENT[0]) + 4] == list(CLIENT)


def csv_field(text: str) -> str:
    """RFC 4180 minimal quoting, as the csv module's QUOTE_MINIMAL does it."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class Template:
    """Template legs of one seeded world, pre-rendered in `style` ("api" or "controlhub").

    `slots` lists, in column order, what goes between the static segments: a time column, an
    identifier column, or "client" (the four client columns). `segments[k]` is the static
    text before slot k (the last one ends the line with CRLF)."""

    def __init__(self, seed: int, start: date, days: int, style: str) -> None:
        world = build_world(seed)
        self.t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.devices = build_devices(world, self.t0, self.t0 + timedelta(days=days))
        legs, _ = generate_legs(
            world, self.devices, legs=TEMPLATE_LEGS, seed=seed, start=start, days=days
        )
        for leg in legs:
            leg["_unit"] = leg.get("interaction_id") or leg["correlation_id"]
        legs.sort(key=lambda leg: (str(leg["_unit"]), leg["start_time"], str(leg["report_id"])))
        self.style = style
        self._units(legs)
        self._render(legs)
        self._identifiers(legs)
        self._webex_go(legs, days)

    def _units(self, legs: list[Leg]) -> None:
        codes = pl.Series([str(leg["_unit"]) for leg in legs]).rle_id().to_numpy()
        unit_of_row = codes.astype(np.int64)
        n_units = int(unit_of_row[-1]) + 1
        self.unit_start = np.searchsorted(unit_of_row, np.arange(n_units))
        self.unit_len = np.diff(np.append(self.unit_start, len(legs)))
        self.singles = np.flatnonzero(self.unit_len == 1)
        anchor = np.array([_ms(legs[i]["start_time"]) for i in self.unit_start], dtype=np.int64)
        self.offsets: dict[str, np.ndarray] = {}
        self.time_null: dict[str, np.ndarray] = {}
        for name in TIMES:
            values = [leg.get(name) for leg in legs]
            self.time_null[name] = np.array([v is None for v in values])
            ms = np.array([_ms(v) if v is not None else 0 for v in values], dtype=np.int64)
            self.offsets[name] = ms - np.repeat(anchor, self.unit_len)
        self.unit_tz = np.array(
            [legs[i]["site_timezone_offset_minutes"] for i in self.unit_start], dtype=np.int64
        )

    def _render(self, legs: list[Leg]) -> None:
        """Static segments per template row; the two renderings of the client columns."""
        self.slots: list[str] = []
        segments: list[list[str]] = []
        current: list[list[str]] = []  # the rendered columns since the last slot
        skip = set(CLIENT[1:])  # rendered with client_type, as one slot
        for i, name in enumerate(_NAMES):
            if name in skip:
                continue
            sep = "," if i else ""
            if name in TIMES or name in ID_NAMESPACE or name == CLIENT[0]:
                segments.append(_joined(current, len(legs), sep))
                current = []
                self.slots.append("client" if name == CLIENT[0] else name)
                continue
            current.append(self._column(name, sep, legs))
        segments.append(_joined(current, len(legs), "\r\n"))
        # a segment the same in every row is kept as one literal, not a column to gather
        self.segments: list[pl.Series | str] = [
            s[0] if len(set(s)) == 1 else pl.Series(s, dtype=pl.String) for s in segments
        ]
        self.null_text = {name: cell(name, None, self.style, False) for name in _NAMES}
        self.client = pl.Series(
            [",".join(csv_field(cell(c, leg.get(c), self.style, False)) for c in CLIENT)
             for leg in legs]
        )  # fmt: skip
        self.client_fallback = ",".join(
            csv_field(cell(c, CLIENT_FALLBACK[c], self.style, False)) for c in CLIENT
        )

    def _column(self, name: str, sep: str, legs: list[Leg]) -> list[str]:
        """`sep` and the CSV text of column `name` of each leg, each distinct value rendered
        once (a column holds few: 12,000 template legs cost 1.5 s rendered one by one)."""
        done: dict[tuple[type, object], str] = {}
        out: list[str] = []
        for leg in legs:
            value = leg.get(name)
            key = (type(value), value)  # True and 1 are equal keys, not equal cells
            text = done.get(key)
            if text is None:
                text = done[key] = sep + csv_field(cell(name, value, self.style, False))
            out.append(text)
        return out

    def _identifiers(self, legs: list[Leg]) -> None:
        """Per identifier column, the index of its value among the namespace's values (-1 for
        null): cloning maps (clone, index) to a fresh value, so links inside a unit survive."""
        self.id_index: dict[str, np.ndarray] = {}
        self.id_count: dict[str, int] = {}
        self.id_tail: dict[str, pl.Series] = {}
        for ns, names in NAMESPACES.items():
            lookup: dict[str, int] = {}
            for c in names:
                for leg in legs:
                    v = leg.get(c)
                    if v:
                        lookup.setdefault(str(v), len(lookup))
            self.id_count[ns] = len(lookup)
            # UUIDs and session ids keep their random tail; the clone rewrites the first 8
            # hex digits (see bulk.py), so a tail must be unique within the namespace
            tails = [v[8:] for v in lookup]
            if ns in ("uuid", "session"):
                assert len(set(tails)) == len(tails)
            self.id_tail[ns] = pl.Series(tails, dtype=pl.String)
            for c in names:
                self.id_index[c] = np.array(
                    [lookup[str(leg[c])] if leg.get(c) else -1 for leg in legs], dtype=np.int64
                )

    def _webex_go(self, legs: list[Leg], days: int) -> None:
        """Which legs are Webex Go, whose, and when each user's device is ONLINE."""
        self.is_go = np.array(
            [str(leg.get("sub_client_type") or "").upper() == "MOBILE_NETWORK" for leg in legs]
        )
        user_codes: dict[str, int] = {}
        intervals: list[tuple[int, int, int]] = []
        for dev in self.devices:
            code = user_codes.setdefault(dev.user.uuid, len(user_codes))
            for a, b in dev.online_intervals():
                end = b or self.t0 + timedelta(days=days + 3650)
                intervals.append((code, _ms(a), _ms(end)))
        intervals.sort()
        self.iv = np.array(intervals or [(0, 0, 0)], dtype=np.int64).reshape(-1, 3)
        self.user_code = np.array(
            [user_codes.get(str(leg.get("user_uuid")), -1) for leg in legs], dtype=np.int64
        )

    def online(self, user: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether each user's device is ONLINE at each instant (epoch ms)."""
        iv = self.iv
        key_iv = iv[:, 0] * (1 << 42) + iv[:, 1]
        pos = np.searchsorted(key_iv, user * (1 << 42) + t, side="right") - 1
        ok = pos >= 0
        pos = np.clip(pos, 0, None)
        return ok & (iv[pos, 0] == user) & (t < iv[pos, 2]) & (user >= 0)


@functools.lru_cache(maxsize=4)
def template(seed: int, start: date, days: int, style: str) -> Template:
    """The `Template` of these arguments, built once per process. A template is only read
    (same arguments, same bytes), and building one costs about a second whatever the size
    of the export (its 12,000 legs): the test suite writes dozens of small exports. Each
    kept template holds about 26 MiB, whatever the size of the exports written from it, so
    the last four are kept."""
    return Template(seed, start, days, style)


def _joined(columns: list[list[str]], rows: int, end: str) -> list[str]:
    """Row by row, the columns' texts joined, then `end`."""
    if not columns:
        return [end] * rows
    frame = pl.DataFrame({str(k): c for k, c in enumerate(columns)})
    text = frame.select(pl.concat_str([pl.all(), pl.lit(end)]).alias("t"))["t"]
    return text.to_list()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(t: object) -> int:
    """Epoch milliseconds, exactly (no float rounding)."""
    assert isinstance(t, datetime)
    return (t - _EPOCH) // timedelta(milliseconds=1)
