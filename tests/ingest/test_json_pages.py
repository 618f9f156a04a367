"""A cdr_feed page is a top-level object with an `items` array, whatever other keys it has
and in whatever order (`{"trackingId": ..., "items": [...]}`, `{"totalCount": 5, "items":
[...], "links": {...}}`): its items are the records, the other keys are ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdr_pipeline.ingest import ingest_paths
from tests.ingest.helpers import Blocks, load, settings, table
from tests.ingest.hostile_corpus import records

BOM = "\ufeff".encode()


def _page(**keys: object) -> bytes:
    return json.dumps(keys).encode()


@pytest.mark.parametrize(
    ("name", "data", "rows"),
    [
        ("tracking_first", _page(trackingId="abc", items=records(4, 41)), 4),
        (
            "count_first_links_after",
            _page(totalCount=5, items=records(5, 42), links={"next": None, "l": [1, {"a": []}]}),
            5,
        ),
        (
            # saved pages one after another, each with its own other keys
            "pages_concatenated",
            _page(trackingId="a", items=records(3, 43))
            + b"\n"
            + _page(items=records(2, 44), trackingId="b", totalCount=2),
            5,
        ),
        ("empty_page", _page(trackingId="abc", totalCount=0, items=[]), 0),
        (
            # pages saved with a BOM each (PowerShell 5.1's -Encoding UTF8), joined by `cat`
            "pages_with_a_bom_each",
            BOM + _page(items=records(3, 46)) + b"\r\n" + BOM + _page(items=records(2, 47)),
            5,
        ),
    ],
)
def test_a_page_is_read_whatever_its_other_keys(
    tmp_path: Path, name: str, data: bytes, rows: int
) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(data)
    for kind in (None, "calls"):  # sniffed, and forced: never the page as one record
        wh = tmp_path / f"wh-{kind}"
        (f,) = ingest_paths(settings(wh), [path], kind=kind).files
        assert f.exit_code == 0, f.message
        assert f.rows_read == rows and f.rows_rejected == 0
        if rows:
            assert f.status == "loaded" and f.kind == "calls"
            assert table(wh).height == rows
            assert f.unknown_columns == []  # trackingId, totalCount are not columns


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_page(trackingId="abc", items={"Report ID": "x"}), '"items" is not a list'),
        (_page(totalCount=1, items=None), '"items" is not a list'),
        # the layout is told from the first 64 KiB
        (_page(trackingId="x" * 70_000, items=records(2, 45)), '"items" key begins after'),
        # a limit crossed by a key before "items" still fails the file
        (b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b', "items": []}', "max_json_depth"),
    ],
)
def test_a_page_that_cannot_be_read_fails_with_why(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "page.json"
    path.write_bytes(data)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert words in f.message and "page.json" in f.message, f.message


NO_CDRS = {
    "message": "No CDRs for requested time range and filters",
    "errors": [{"description": "No CDRs for requested time range and filters"}],
    "trackingId": "ROUTER_2",
}


@pytest.mark.parametrize("kind", [None, "calls"])
def test_the_empty_window_answer_saved_as_a_page_holds_no_records(
    tmp_path: Path, kind: str | None
) -> None:
    """docs/webex-dch.md#http-status-codes: the feed answers a window without records with
    HTTP 404 and this body, not an empty list. Saved as it came (curl -o), it is a page of no
    records, as `cdr fetch` takes it: the file loads empty, not 'not a recognised export'
    (exit 3, which would fail the nightly for a quiet night)."""
    path = tmp_path / "cdr_feed_2026-10-03T00.json"
    path.write_bytes(json.dumps(NO_CDRS).encode())
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path], kind=kind).files
    assert (f.status, f.exit_code, f.rows_read) == ("empty", 0, 0), f.message


def test_another_error_answer_saved_as_a_page_still_fails(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_bytes(json.dumps({**NO_CDRS, "message": "Target user not authorized"}).encode())
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("failed", 3)


@pytest.mark.parametrize("kind", [None, "calls"])
def test_an_error_answer_saved_as_a_page_fails_quoting_its_message(
    tmp_path: Path, kind: str | None
) -> None:
    """A 451 (wrong region) or 401 body saved with curl -o failed as 'not a recognised
    export: the header (message, errors, trackingId) ...', with the hint to force a kind;
    forced, its one record was quarantined. The API's own message (the region's host to use,
    a missing scope) is what the user needs."""
    message = "Requested region is not valid. Use analytics-calling-eu.webexapis.com"
    path = tmp_path / "page.json"
    path.write_bytes(json.dumps({**NO_CDRS, "message": message}).encode())
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path], kind=kind).files
    assert (f.status, f.exit_code, f.rows_read) == ("failed", 3, 0)
    assert f"an error answer of the Webex API, not records: '{message}'" in f.message
    assert "cdr fetch" in f.message


def test_records_powershell_wrote_as_text_fail_saying_how_to_save_them(tmp_path: Path) -> None:
    """`Invoke-RestMethod ... | ConvertTo-Json` stops at its default -Depth 2: each record of
    a page becomes the text '@{Start time=...; ...}'. The file failed saying its first records
    were empty JSON objects ({}), which they are not."""
    text = "@{Start time=2026-10-01T14:03:27.412Z; Correlation ID=c1; Direction=ORIGINATING}"
    path = tmp_path / "page.json"
    path.write_bytes(_page(items=[text, text.replace("c1", "c2")]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "PowerShell's text of a record" in f.message
    assert "ConvertTo-Json -Depth" in f.message and "{}" not in f.message


def test_an_array_of_pages_fails_saying_how_to_save_them(tmp_path: Path) -> None:
    """A script that keeps each page it fetched and dumps the list (`json.dump(pages, f)`)
    writes an array of pages. It failed as 'not a recognised export: the header (items)'
    with the hint to force a kind, which cannot help."""
    path = tmp_path / "pages.json"
    path.write_text(json.dumps([{"items": records(2, 45)}, {"items": [], "totalCount": 0}]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "an array of pages" in f.message
    assert "one after another" in f.message


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b'"' + b"a" * 600 + b'"', "a string"),  # longer than the head the format is told from
        (b'"abc"\n', "a string"),
        (b"42", "a number"),
        (b"\xef\xbb\xbf -1.5e3\r\n", "a number"),
        (b"null", "null"),
        (b"true\n", "true"),
    ],
)
def test_a_json_document_of_one_scalar_fails_saying_it_holds_no_record(
    tmp_path: Path, data: bytes, what: str
) -> None:
    """A `.json` file holding one JSON string, number, boolean or null (a script that saved
    a field of the answer, not the answer) was read as a CSV and failed with 'no header line
    ... no line break found' or 'the header (abc) matches none of the input kinds'."""
    path = tmp_path / "answer.json"
    path.write_bytes(data)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_read) == ("failed", 3, 0)
    assert f"a JSON document holding {what} and no record or page" in f.message, f.message
    assert "header" not in f.message


def test_a_csv_whose_header_starts_quoted_is_still_read_as_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes(b'"' + b"x" * 30 + b'","y"\r\n"1","2"\r\n')
    (f,) = load(tmp_path / "wh", path).files
    assert f.exit_code == 3 and "the header (" + "x" * 30 + ", y)" in f.message, f.message


@pytest.mark.parametrize("kind", [None, "device_snapshots"])
def test_the_person_devices_api_answer_fails_saying_how_to_write_it(
    tmp_path: Path, kind: str | None
) -> None:
    """The person-devices API answer `{"devices": [...], "maxDeviceCount": 35}`, saved with
    each device's snapshotTime and orgId added, failed as 'not a recognised export: its
    records' keys (devices, maxDeviceCount)' with the hint to force a kind, which failed too.
    Its devices are the API's objects (the person under owner.id), not snapshot records."""
    device = {"id": "d1", "owner": {"id": "p1"}, "snapshotTime": "2026-09-01T06:00:00Z"}
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": [{**device, "orgId": "o1"}], "maxDeviceCount": 35}))
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path], kind=kind).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "a Webex devices API answer" in f.message, f.message
    assert "docs/inputs-devices.md" in f.message and "--kind" not in f.message


@pytest.mark.parametrize(
    ("key", "data", "limit"),
    [
        ("data", _page(data=records(3, 48)), None),
        ("records", _page(trackingId="abc", records=records(3, 49), totalCount=3), None),
        # larger than one record may be: told from its head, not read as one record
        ("data", _page(data=records(400, 50)), 4096),
    ],
)
@pytest.mark.parametrize("kind", [None, "calls"])
def test_a_page_with_its_records_under_another_key_says_where_they_are(
    tmp_path: Path, key: str, data: bytes, limit: int | None, kind: str | None
) -> None:
    """A page a script wrapped its own way (`{"data": [...]}`) was refused, rightly, as
    'its records' keys (data) match none of the input kinds': true of the wrapper, silent on
    the records in it. The message says which key holds them, where the API puts them,
    and how to rewrite the file."""
    path = tmp_path / "wrapped.json"
    path.write_bytes(data)
    more = {"max_record_bytes": limit} if limit else {}
    (f,) = ingest_paths(settings(tmp_path / "wh", **more), [path], kind=kind).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert f'records found under key "{key}"; the Webex API puts them under "items"' in (
        f.message
    ), f.message
    assert f"jq '{{items: .[\"{key}\"]}}' FILE > FILE.items.json" in f.message, f.message


def test_a_record_holding_an_array_of_records_is_still_a_record(tmp_path: Path) -> None:
    """Only a value that is no record of its own is taken for a wrapper of records."""
    first, second = records(2, 51)
    path = tmp_path / "records.json"
    path.write_text(json.dumps({**first, "Legs": [second]}) + "\n" + json.dumps(second) + "\n")
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_loaded) == ("loaded", 2), f.message


def _camel(header: str) -> str:
    """A header as wxc_sdk's `space_separated_to_camel` writes it (`Answer time` ->
    `answerTime`, `Local SessionID` -> `localSessionid`): its CDR model dumped by alias."""
    words = "".join(w.lower().capitalize() for w in header.split())
    return words[0].lower() + words[1:]


def test_a_page_keyed_in_camel_case_loads_every_column(wh: Path) -> None:
    """Records dumped from wxc_sdk's CDR model by alias carry camelCase keys: each one failed
    to match, and the page failed as no export (`startTime, answerTime ...`)."""
    from cdr_pipeline.schema.calls import CALL_LEGS

    value = {"string": "v", "timestamp": "2026-10-01T10:00:00.000Z", "integer": 3}
    value |= {"smallint": -300, "boolean": "true", "double": 4.5}
    record = {c.headers[0]: value[c.dtype] for c in CALL_LEGS.input_columns if c.headers}
    record |= {"Report ID": "r-1", "Direction": "ORIGINATING"}
    spelled = wh.parent / "spelled.json"
    spelled.write_bytes(_page(items=[record]))
    camel = wh.parent / "camel.json"
    camel.write_bytes(_page(items=[{_camel(k): v for k, v in record.items()}]))
    other = wh.parent / "other"
    assert load(other, spelled).files[0].rows_loaded == 1
    (f,) = load(wh, camel).files
    assert (f.status, f.rows_loaded, f.unknown_columns) == ("loaded", 1, [])
    assert table(wh).equals(table(other))


def test_no_two_columns_share_a_spelling_without_blanks() -> None:
    """The camelCase match would leave such a spelling unmatched: none exists."""
    from cdr_pipeline.schema.registry import SCHEMAS

    for schema in SCHEMAS.values():
        lookup = schema.header_lookup()
        for col in schema.input_columns:
            for spelling in (col.name, *col.headers):
                assert lookup(spelling.replace(" ", "").replace("_", "")) == col.name, spelling


def test_a_page_with_bytes_that_are_not_utf8_says_so_on_one_line(tmp_path: Path) -> None:
    """A page with a byte that is not UTF-8 inside a string (a tool that re-encoded it as
    Latin-1): the parser's message came as Python bytes, `(b'lexical error: ...\\n  ...')`,
    its line breaks as `\\n`. It reads as the other parse errors do, on one line."""
    page = json.dumps({"items": records(3, 95)}).encode()
    at = page.index(b'"User": "') + len(b'"User": "')
    path = tmp_path / "latin1.json"
    path.write_bytes(page[:at] + b"M\xfcller " + page[at:])
    (f,) = load(tmp_path / "wh", path).files
    assert f.status == "failed"
    assert "lexical error: invalid bytes in UTF8 string. near '" in f.message
    assert "b'" not in f.message and "\\n" not in f.message
    assert "its text is not UTF-8" in f.message


@pytest.mark.parametrize("layout", ["lines", "objects"])
def test_a_page_among_records_gives_its_items(tmp_path: Path, layout: str) -> None:
    """A saved page appended to JSON lines (or to concatenated records): the file failed
    whole, saying the page's "items" key began after the first 64 KiB. Its items are
    records of its line (or value), as a file of pages gives them; the rest loads."""
    values: list[object] = list(records(200, 46))
    values[10] = {"trackingId": "t", "items": records(3, 47)}
    values[20] = {"items": []}
    indent = None if layout == "lines" else 1
    path = tmp_path / "mixed.json"
    path.write_text("\n".join(json.dumps(v, indent=indent) for v in values) + "\n")
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 201, 201, 0)
    legs = table(tmp_path / "wh", lineage=True)
    from_page = legs.filter(legs["report_id"].str.contains("-0047-"))
    assert from_page["source_row"].to_list() == [11, 11, 11]  # the page's line or value
    assert sorted(legs["source_row"].unique().to_list()) == [n for n in range(1, 201) if n != 21]


def _lines(values: list[object]) -> bytes:
    return ("\n".join(json.dumps(v) for v in values) + "\n").encode()


@pytest.mark.parametrize(
    ("data", "line"),
    [
        # a page, then records as JSON lines (`cat page.json records.jsonl`)
        (_lines([{"items": records(3, 48)}, *records(40, 49)]), 2),
        # an array of records, then more records
        (json.dumps(records(3, 50)).encode() + b"\n" + _lines(records(40, 51)), 2),
        # pages, then an array of records
        (_lines([{"items": records(3, 52)}, {"items": []}, records(40, 53)]), 3),
        # a page, then a record spread over lines
        (_lines([{"items": records(3, 54)}]) + json.dumps(records(1, 55)[0], indent=1).encode(), 2),
    ],
    ids=["page+lines", "array+lines", "pages+array", "page+object"],
)
def test_records_after_a_page_or_an_array_fail_the_file_instead_of_vanishing(
    tmp_path: Path, data: bytes, line: int
) -> None:
    """The parser reads the records of pages (or of an array) and skipped every other
    top-level value without a word: 3 rows read and loaded of 43, the file `loaded`."""
    path = tmp_path / "joined.json"
    path.write_bytes(data)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert f"line {line}" in f.message and "would skip it" in f.message, f.message


@pytest.mark.parametrize("block", [1, 2, 5, 64, 8192])
def test_the_guard_finds_a_value_after_a_page_however_the_blocks_fall(block: int) -> None:

    from cdr_pipeline.ingest.json_guard import JsonGuard
    from cdr_pipeline.ingest.limits import Limits

    def stray(data: bytes) -> tuple[int, int] | None:
        guard = JsonGuard(Blocks(data, block), Limits(), 2)  # type: ignore[arg-type]
        while guard.read(100):
            pass
        return guard.stray

    page = b'{"links": {"a": [1]}, "items": [{"x": [1, "]"]}, {"y": "{"}]}\n'
    assert stray(page + b'{"items": []}\n' + page) is None
    assert stray(page + b'\n{"items": 5}\n') == (len(page) + 1, 3)
    assert stray(page + page + b'{"x": {"y": []}}') == (2 * len(page), 3)


def test_the_guard_blanks_a_byte_order_mark_between_values_only() -> None:
    """A BOM between top-level values (pages joined with `cat`, each saved with one) failed
    the file as 'damaged or incomplete': the parser sees it as blanks. One inside a string
    is text and stays; so does one inside a page (no JSON: the parser still fails there)."""
    from cdr_pipeline.ingest.json_guard import JsonGuard
    from cdr_pipeline.ingest.limits import Limits

    inner = '{"items": [{"User": "Ann\ufeff"}]' + "\ufeff" + "}"
    data = ('{"items": []}\n\ufeff' + inner + "\ufeff\n").encode()
    guard = JsonGuard(Blocks(data, 8192), Limits(), 2)  # type: ignore[arg-type]
    out = guard.read()
    assert out == ('{"items": []}\n   ' + inner + "   \n").encode()


def test_the_guard_blanks_a_byte_order_mark_a_block_end_cuts() -> None:
    """A BOM cut in two by the end of a read (one or two of its bytes in one block, the
    rest in the next) was not blanked, and the pages joined after it failed the file.
    Wherever the reads end, the parser sees the same bytes: the marks as blanks, and a
    lead byte of one that is not a whole mark untouched (left to fail)."""
    from cdr_pipeline.ingest.json_guard import JsonGuard
    from cdr_pipeline.ingest.limits import Limits

    data = b'{"items": []}\r\n' + BOM + b'{"items": [{"User": "\xc3\xa9"}]}' + BOM
    stray = b'{"items": []}\xef\xbb{"items": []}'
    for block in range(1, len(data) + 1):
        guard = JsonGuard(Blocks(data, block), Limits(), 2)  # type: ignore[arg-type]
        assert guard.read() == data.replace(BOM, b"   "), block
        guard = JsonGuard(Blocks(stray, block), Limits(), 2)  # type: ignore[arg-type]
        assert guard.read() == stray, block


def _two_lists(first: list[dict[str, object]], second: list[dict[str, object]]) -> bytes:
    one, two = json.dumps(first), json.dumps(second)
    return f'{{"trackingId": "t", "items": {one},\n "items"  :  {two}}}'.encode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # a page: both lists were read, 5 records where a JSON parser sees 2 or 3
        ("page", _two_lists(records(3, 51), records(2, 52))),
        # the second key after the first page of several
        ("second_page", _page(items=records(2, 53)) + b"\n" + _two_lists(records(1, 54), [])),
        # a page among JSON lines: the second list was dropped without a word
        (
            "page_among_lines",
            b"\n".join(
                [json.dumps(r).encode() for r in records(2, 55)]
                + [_two_lists(records(2, 56), records(2, 57)).replace(b"\n", b"")]
            ),
        ),
    ],
)
def test_a_page_naming_items_twice_fails_the_file(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(data)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("failed", 3), f.message
    assert 'names "items" twice' in f.message and "line " in f.message
    assert "fetch the page again" in f.message
