"""The JSON guard's view of nesting and numbers matches the parser's, whatever the strings
hold (brackets, escaped quotes, backslashes, digits) and wherever the blocks are cut."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_guard import JsonGuard
from cdr_pipeline.ingest.json_lines import lines_in_head
from cdr_pipeline.ingest.limits import Limits
from tests.ingest.helpers import load, rejects
from tests.ingest.hostile_corpus import records

TRICKY = st.text(alphabet='[]{}"\\0123456789ab ,:', max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=12,
)


class _Trickle(io.RawIOBase):
    """Hands out `step` bytes per read, so blocks are cut everywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(self._step, len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def digits(value: object) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return 0
    if isinstance(value, int):
        return len(str(abs(value)))
    items = value.values() if isinstance(value, dict) else value
    return max(map(digits, items), default=0)  # type: ignore[arg-type]


def drain(data: bytes, step: int, **limits: int) -> None:
    guard = JsonGuard(_Trickle(data, step), Limits(**limits))  # type: ignore[arg-type]
    while guard.read(4096):
        pass


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(1, 9))
def test_guard_depth_and_digits_match_the_document(value: object, step: int) -> None:
    data = json.dumps(value).encode()
    d, n = depth(value), digits(value)
    drain(data, step, json_depth=max(d, 1), json_number_digits=max(n, 1))
    if d > 1:
        with pytest.raises(BadInput, match="max_json_depth"):
            drain(data, step, json_depth=d - 1, json_number_digits=max(n, 1))
    if n > 1:
        with pytest.raises(BadInput, match="max_json_number_digits"):
            drain(data, step, json_depth=max(d, 1), json_number_digits=n - 1)


def test_a_long_record_is_stopped_but_many_short_ones_pass() -> None:
    line = json.dumps({"a": "x" * 100}).encode() + b"\n"
    drain(line * 1000, 4096, record_bytes=4096)
    with pytest.raises(BadInput, match="max_record_bytes"):
        drain(json.dumps({"a": "x" * 10_000}).encode(), 512, record_bytes=4096)


@pytest.mark.parametrize("step", [1, 7, 4096])
@pytest.mark.parametrize(
    ("bad", "limit"),
    [(b"[" * 100 + b"]" * 100, "max_json_depth"), (b"9" * 200, "max_json_number_digits")],
)
def test_a_limit_crossed_names_its_line(step: int, bad: bytes, limit: str) -> None:
    """A JSON-lines file with one hostile line failed naming a byte only: the user had to
    count the bytes to find the line."""
    good = b"".join(json.dumps({"n": i, "s": "x\ny"}).encode() + b"\n" for i in range(40))
    with pytest.raises(BadInput) as info:
        drain(good + b'{"v": ' + bad + b"}\n" + good, step)
    assert info.value.line == 41 and limit in (info.value.hint or "")


def drain_lines(data: bytes, step: int, **limits: int) -> dict[int, int]:
    """`drain`, the stream told to be JSON lines from its start; the lines it noted as
    nested too deep, each with the byte of the line where it crosses the limit."""
    guard = JsonGuard(_Trickle(data, step), Limits(**limits))  # type: ignore[arg-type]
    guard.read_lines()
    while guard.read(4096):
        pass
    return guard.deep


CUT = (b'{"Report ID": "r1", "n": [1, {"a": 2', b'{"Report ID": "r1", "User": "Ann [{')
"""Lines cut short: inside their object (and a list), or inside a string of brackets."""


@settings(max_examples=40, deadline=None)
@given(JSON, st.integers(1, 9), st.sampled_from(CUT))
def test_each_json_line_is_judged_on_its_own(value: object, step: int, cut: bytes) -> None:
    """A line cut short left its brace (or its string) open for every line after it: 64 cut
    lines among 10,000 failed the file as nested deeper than max_json_depth. A line nested
    too deep is noted, with the byte where it crosses the limit (an opening bracket), for
    the line reader to quarantine: it failed the file."""
    text = json.dumps(value).encode()
    data = (cut + b"\n") * 3 + text + b"\n" + cut
    d, n = depth(value), digits(value)
    deep = drain_lines(
        data, step, json_depth=max(d, 3), json_number_digits=max(n, 1), record_bytes=4096
    )
    assert deep == {}
    if d > 3:
        deep = drain_lines(data, step, json_depth=d - 1, json_number_digits=max(n, 1))
        assert list(deep) == [4] and text[deep[4] - 1 : deep[4]] in (b"[", b"{")
    if n > 1:
        with pytest.raises(BadInput, match="max_json_number_digits"):
            drain_lines(data, step, json_depth=max(d, 3), json_number_digits=n - 1)


def test_json_lines_cut_short_are_quarantined_and_the_others_load(tmp_path: Path) -> None:
    good = [json.dumps(r).encode() for r in records(200, 61)]
    cut = [g[: g.index(b'"Start time"')] for g in good[:70]]  # each cut after a value
    lines = [line for pair in zip(cut, good[70:140], strict=True) for line in pair]
    path = tmp_path / "cut_lines.jsonl"
    path.write_bytes(b"\n".join(lines + good[140:]) + b"\n")
    (f,) = load(tmp_path / "wh", path, max_reject_rate=0.5, max_record_bytes=4096).files
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_rejected, f.rows_loaded) == (200, 70, 130)
    assert dict(f.top_reasons) == {"invalid_json": 70}


@pytest.mark.parametrize("garbage", [b"garbage here ~~", b"}{,", b"{[{[ <html>"])
def test_json_lines_whose_first_two_lines_are_broken_are_still_lines(
    tmp_path: Path, garbage: bytes
) -> None:
    """A line cut short, then a line of garbage: the head was taken for the start of one
    JSON document, so every later cut line held its brace open, and the file failed as
    nested deeper than max_json_depth (or at the garbage, whole). Two lines side by side
    that are each an object tell JSON lines: the broken lines are quarantined, by line."""
    good = [json.dumps(r).encode() for r in records(200, 68)]
    cut = [g[: g.index(b'"Start time"')] for g in good[:70]]
    lines = [line for pair in zip(good[70:140], cut, strict=True) for line in pair]
    path = tmp_path / "broken_head.jsonl"
    path.write_bytes(b"\n".join([cut[0], garbage, *lines, *good[140:]]) + b"\n")
    (f,) = load(tmp_path / "wh", path, max_reject_rate=0.5, max_record_bytes=4096).files
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_rejected, f.rows_loaded) == (202, 72, 130)
    bad = rejects(tmp_path / "wh")["source_row"].sort().to_list()
    assert bad[:3] == [1, 2, 4] and bad[-1] == 142


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":\n' * 100 + b"1" + b"}\n" * 100,  # one deep document over lines
        b'{\n  "calls": [\n    {"a": 1},\n    {"a": 2}\n  ]\n}\n',  # an object alone on a line
    ],
)
def test_one_document_over_lines_is_no_json_lines(text: bytes) -> None:
    """One JSON text never holds two objects side by side: its lines are not told JSON lines
    (a deep one still fails on max_json_depth)."""
    assert not lines_in_head(text)
