"""Messages name the record and line that hold the fault, wherever it sits in the file (the
first record, one in the middle, the last) and however the reads fall."""

from __future__ import annotations

import json

import pytest

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_reader import read_json_chunks
from tests.ingest.helpers import Blocks
from tests.ingest.hostile_corpus import records

HALF = {"middle": "Ann \\ud800 X", "end": "Ann \\ud83d"}
"""A lone escape inside a value, and a high one ending the value, just before the record's
closing brace (the guard waits for the next read to see what follows it)."""


def layout(texts: list[str], kind: str) -> bytes:
    if kind == "page":
        body = '{"items": [' + ", ".join(texts) + "]}"
    elif kind == "array":
        body = "[\n" + ",\n".join(texts) + "\n]"
    elif kind == "pages":  # pages of 4 records, one a line
        body = "".join('{"items": [' + ", ".join(texts[k : k + 4]) + "]}\n" for k in (0, 4, 8))
    else:  # concatenated records, each over several lines
        body = "".join("\n".join(json.dumps(json.loads(t), indent=1).split("\n")) for t in texts)
    return body.encode()


@pytest.mark.parametrize("kind", ["page", "array", "pages", "concatenated"])
@pytest.mark.parametrize("block", [7, 64, 1 << 16])
def test_half_a_character_names_its_record(kind: str, block: int) -> None:
    """It named the record after the one the parser had just read ('near record 2' for the
    first record, and for the last of a small file): the guard reads a block ahead."""
    for index in (0, 5, 11):
        for where, text in HALF.items():
            recs = records(12, 69)
            texts = [json.dumps(r) for r in recs]
            texts[index] = texts[index].replace(json.dumps(recs[index]["User"]), f'"{text}"')
            if where == "end":  # the value last, so its closing brace follows the escape
                texts[index] = texts[index].replace(f'"User": "{text}", ', "")
                texts[index] = texts[index][:-1] + f', "User": "{text}"}}'
            assert text in texts[index]
            data = layout(texts, kind).replace(b"\\\\u", b"\\u")
            with pytest.raises(BadInput, match="half a character") as info:
                list(read_json_chunks(Blocks(data, block), chunk_rows=25_000))  # type: ignore[arg-type]
            message = str(info.value)
            assert f"in record {index + 1} (byte" in message, (where, message)
            at = data.index(text.encode())
            assert info.value.line == data.count(b"\n", 0, at) + 1, (where, message)


@pytest.mark.parametrize("block", [7, 1 << 16])
def test_half_a_character_in_json_lines_is_quarantined_under_its_line(block: int) -> None:
    """The first, a middle and the last record, after a byte order mark and blank lines."""
    recs = records(12, 70)
    for index in (0, 5, 11):
        lines = [json.dumps(r) for r in recs]
        lines[index] = lines[index].replace(json.dumps(recs[index]["User"]), '"Ann \\ud800 X"')
        assert "\\ud800" in lines[index]
        data = ("\ufeff\n" + "\n\n".join(lines) + "\n").encode()
        chunks = list(read_json_chunks(Blocks(data, block), chunk_rows=25_000))  # type: ignore[arg-type]
        bad = [(r.source_row, r.reason) for c in chunks for r in c.rejects]
        assert bad == [(2 * index + 2, "invalid_utf8")]


def test_a_broken_json_line_is_placed_by_its_column_not_a_line_of_its_own() -> None:
    """Its detail quoted json's 'line 1 column 9 (char 8)' under source_row 11: two line
    numbers for one line. It says the column on the file's line, blanks before it counted."""
    texts = [json.dumps(r) for r in records(12, 71)]
    texts[10] = '  {"a": 1 "b": 2, ' + texts[10][1:]  # no comma before "b": column 11
    data = ("\n".join(texts) + "\n").encode()
    (chunk,) = list(read_json_chunks(Blocks(data, 1 << 16), chunk_rows=25_000))  # type: ignore[arg-type]
    (bad,) = chunk.rejects
    assert (bad.source_row, bad.reason) == (11, "invalid_json")
    assert "line 1" not in bad.detail and bad.detail.endswith("at column 11"), bad.detail
