"""A JSON record with a NUL character (`\\u0000`) in a key or text value is quarantined as
`nul_bytes`, as a CSV record holding NUL bytes is: no Webex record holds one. It loaded,
NUL and all, into the tables (and the views, and every export of them)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cdr_pipeline.ingest.json_reader import read_json_chunks
from tests.ingest.helpers import Blocks, load, rejects, table
from tests.ingest.hostile_corpus import records

USER = "User"


def _damaged(tag: int) -> list[dict[str, object]]:
    recs = records(300, tag)
    recs[3][USER] = "Ann\u0000Lee"  # a value
    recs[7]["Loc\u0000ation"] = recs[7].pop("Location")  # a key
    recs[11]["nested"] = {"list": ["a", "b\u0000"]}  # deep in a nested value
    recs[20][USER] = "C:\\u0000"  # an escaped backslash: text, no NUL
    return recs


@pytest.mark.parametrize("layout", ["lines", "page", "array", "objects"])
def test_a_json_record_with_a_nul_is_quarantined_in_every_layout(wh: Path, layout: str) -> None:
    recs = _damaged(51)
    text = {
        "lines": "\n".join(json.dumps(r) for r in recs) + "\n",
        "page": json.dumps({"items": recs}),
        "array": json.dumps(recs),
        "objects": "".join(json.dumps(r, indent=1) for r in recs),
    }[layout]
    assert "\u0000" not in text and "\\u0000" in text  # escapes in the file, as JSON writes
    path = wh.parent / f"nul-{layout}.json"
    path.write_text(text)
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 300, 297, 3)
    bad = rejects(wh)
    assert bad["source_row"].to_list() == [4, 8, 12]  # its line, or its item number
    assert bad["reason"].unique().to_list() == ["nul_bytes"]
    assert "\\u0000" in bad["detail"][0]
    # the raw text keeps each NUL as its escape, losing nothing
    assert [json.loads(t) for t in bad["raw_text"]] == [recs[3], recs[7], recs[11]]
    legs = table(wh)
    assert legs.height == 297
    assert not legs["user_name"].str.contains("\x00", literal=True).any()
    assert "C:\\u0000" in legs["user_name"].to_list()


@pytest.mark.parametrize("block", [1, 3, 6, 7, 4096])
def test_an_escape_cut_between_blocks_is_still_seen(block: int) -> None:
    recs = records(5, 52)
    recs[2][USER] = "x\u0000"
    data = ("\n".join(json.dumps(r) for r in recs) + "\n").encode()
    (chunk,) = read_json_chunks(io.BufferedReader(Blocks(data, block)), 100)  # type: ignore[arg-type]
    assert [(r.source_row, r.reason) for r in chunk.rejects] == [(3, "nul_bytes")]
    assert chunk.frame.height == 4
