"""A JSON file with a syntax error fails whole (there is no record boundary to resume at), and
the error says where: the line and column of the byte the parser stopped at. It used to name
only the record count ("after record 0"), so a user with a 40 MB page had to search for it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_reader import read_json_chunks
from tests.ingest.helpers import load
from tests.ingest.hostile_corpus import records


def _where(data: bytes) -> tuple[int | None, str]:
    with pytest.raises(BadInput) as info:
        for _ in read_json_chunks(io.BytesIO(data), 1000):
            pass
    return info.value.line, info.value.message


def _line_col(data: bytes, at: int) -> tuple[int, int]:
    """Line and column (from 1) of byte `at`, counted by hand."""
    before = data[:at]
    return before.count(b"\n") + 1, at - before.rfind(b"\n")


def _pretty_page(n: int) -> bytes:
    return json.dumps({"trackingId": "t", "items": records(n, 47)}, indent=2).encode()


@pytest.mark.parametrize("layout", ["page", "array", "values"])
def test_a_missing_comma_is_placed_at_its_line_and_column(layout: str) -> None:
    """Pretty-printed, the way curl or an editor saves a page: the second key of record 3
    lost the comma before it; the error points at that key, whatever the layout."""
    recs = records(5, 48)
    if layout == "page":
        text = json.dumps({"trackingId": "t", "items": recs}, indent=2)
    elif layout == "array":
        text = json.dumps(recs, indent=2)
    else:
        text = "\n".join(json.dumps(r, indent=2) for r in recs)
    marker = text.index("\n", text.index('"Report ID": "' + str(recs[2]["Report ID"])))
    data = (text[: marker - 1] + text[marker:]).encode()  # the comma after Report ID's value
    line, message = _where(data)
    comma_line, _ = _line_col(data, marker - 1)
    next_key = data.index(b'"', marker)  # the key the parser met instead of a comma
    key_line, key_column = _line_col(data, next_key)
    assert line == comma_line + 1 == key_line
    # yajl stops inside the key: on its first letter, after the quote
    assert f"near column {key_column + 1}, after record 2 (" in message


def test_an_error_many_blocks_in_on_one_long_line_has_the_right_column() -> None:
    """A minified page of 3,000 records is one line of about 3 MB, read in 64 KiB blocks: the
    column counts from the start of the line, not of the block the parser had."""
    data = json.dumps({"items": records(3000, 49)}).encode()
    bad = data.index(b'"Report ID"', len(data) * 2 // 3)
    data = data[:bad] + b"{" + data[bad + 1 :]  # a key that does not start with a quote
    line, message = _where(data)
    assert line == 1 and bad > 10 * 65536
    assert f"near column {bad + 1:,}, after record " in message


def test_a_file_cut_short_is_placed_at_its_end() -> None:
    data = _pretty_page(4)
    cut = data[: len(data) * 3 // 4]
    line, message = _where(cut)
    assert line == cut.count(b"\n") + 1
    assert "premature EOF" in message


def test_a_broken_start_says_before_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_bytes(b'{"items": [\n  {oops}\n]}')
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_read) == ("failed", 3, 0)
    assert "line 2" in f.message and "near column 4, before the first record" in f.message


@pytest.mark.parametrize("layout", ["page", "array"])
def test_a_nul_byte_in_a_text_is_placed_and_named(layout: str) -> None:
    """yajl's context line is a C string: a NUL byte in the text cut it, so the error was
    placed at the end of what was read (`column 65,537` of a one-line page, the NUL in its
    first record) and the hint spoke of NaN and Infinity."""
    recs = records(300, 49)
    text = json.dumps({"items": recs} if layout == "page" else recs).encode()
    at = text.index(b"c0ffee00") + 3
    data = text[:at] + b"\x00" + text[at:]
    line, message = _where(data)
    assert (line, _line_col(data, at)) == (1, (1, at + 1))
    assert f"near column {at + 1:,}," in message, message
    assert "(right here)" not in message
    with pytest.raises(BadInput) as info:
        for _ in read_json_chunks(io.BytesIO(data), 1000):
            pass
    assert "NUL byte" in (info.value.hint or "") and "NaN" not in (info.value.hint or "")
