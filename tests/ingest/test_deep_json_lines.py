"""A JSON line nested deeper than `max_json_depth` costs that line, not the file: each line
is parsed on its own by Python's json, within `max_record_bytes`, so it is quarantined
(`too_deep`) with its line and the rest loads. One record holding 70 nested objects failed
the whole file. A page nested too deep still fails, on one line or over many."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import records


def _deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def _deep_line(text: str, limit: int) -> int:
    """The line of `text` (JSON without brackets in its strings) nesting past `limit`."""
    level = 0
    for at, char in enumerate(text):
        level += {"{": 1, "[": 1, "}": -1, "]": -1}.get(char, 0)
        if level > limit:
            return text.count("\n", 0, at) + 1
    raise AssertionError("not that deep")


def test_a_json_line_nested_too_deep_is_quarantined_and_the_others_load(tmp_path: Path) -> None:
    """Line 50 holds 70 nested objects, line 120 100,000 nested lists (200 KB, which the
    parser would build into 22 GB-deep recursion were it a page): both quarantined with
    their line, the byte where they cross the limit and what to try; 198 records load."""
    lines = [json.dumps(r) for r in records(200, 83)]
    lines[49] = lines[49][:-1] + f', "Note": {_deep(70)}}}'
    lines[119] = lines[119][:-1] + ', "Note": ' + "[" * 100_000 + "]" * 100_000 + "}"
    src = tmp_path / "deep.jsonl"
    src.write_text("\n".join(lines) + "\n")
    wh = tmp_path / "wh"
    (f,) = load(wh, src).files  # the default 1 % gate: 2 of 200 pass
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (200, 198, 2)
    assert table(wh).height == 198
    bad = rejects(wh)
    assert bad["source_row"].to_list() == [50, 120]
    assert set(bad["reason"]) == {"too_deep"}
    # the record is level 1: the limit is crossed at the Note's 64th brace (bytes from 1)
    at = lines[49].encode().index(b'{"a"') + 63 * len('{"a": ') + 1
    assert bad["detail"][0] == (
        f"nested deeper than max_json_depth (64) from byte {at:,} of the line: raise "
        "max_json_depth in cdr.toml if records this deep are genuine"
    )
    assert bad["raw_text"].to_list() == [lines[49], lines[119]]


@pytest.mark.parametrize(
    "layout", ["one line", "one line, no line break", "among JSON lines", "indented"]
)
def test_a_page_nested_too_deep_still_fails_the_file(tmp_path: Path, layout: str) -> None:
    """A page is read whole or not at all: one line of it quarantined would hide how many
    records it held. On a line of its own (as `jq -c` writes it), among JSON lines, or
    indented over many lines, it fails the file on depth, naming its line."""
    recs = records(3, 85)
    page = {"items": [recs[0], {**recs[1], "Note": json.loads(_deep(70))}]}
    text = {
        "one line": json.dumps(page) + "\n",
        "one line, no line break": json.dumps(page),
        "among JSON lines": json.dumps(recs[2]) + "\n" + json.dumps(page) + "\n",
        "indented": json.dumps(page, indent=1),
    }[layout]
    src = tmp_path / "page.json"
    src.write_text(text)
    wh = tmp_path / "wh"
    result = load(wh, src)
    (f,) = result.files
    assert (result.exit_code, f.status, f.rows_loaded) == (3, "failed", 0)
    line = {"among JSON lines": 2, "indented": _deep_line(text, 64)}.get(layout, 1)
    assert f"page.json line {line}: " in f.message
    assert "nested deeper than max_json_depth (64)" in f.message
    assert table(wh).is_empty()
