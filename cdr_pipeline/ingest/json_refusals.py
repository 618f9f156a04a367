"""The errors the JSON guard fails a file with once its parser has read past what the guard
noted (`JsonGuard.check_text`): a value the parser would skip, a page naming `"items"`
twice, an escape of half a character. Each names its line and byte."""

from __future__ import annotations

from cdr_pipeline.ingest.chunk import BadInput


def stray_value(at: int, line: int, after_page: bool) -> BadInput:
    """A top-level value that holds no records, after a page or after the array of records."""
    what = (
        "is no page (an object with an items list) but follows a page"
        if after_page
        else "follows the array of records"
    )
    return BadInput(
        f"a JSON value on line {line:,} (byte {at:,}) {what}: the parser would skip "
        "it, and any record in it; none of the file's rows are published",
        line=line,
        hint="the file joins pages or arrays with other JSON (records as JSON lines "
        "after a page?): save each in a file of its own, or the records as JSON lines",
    )


def items_twice(at: int, line: int) -> BadInput:
    """A page naming `"items"` twice, its second list at byte `at`."""
    return BadInput(
        f'a page names "items" twice (the second at byte {at:,}): a JSON parser '
        "keeps one of its lists (most the last, some the first), and no Webex API "
        "writes two, so which records the page holds cannot be told; none of the "
        "file's rows are published",
        line=line,
        hint="fetch the page again; or, when both lists are wanted, save them as two "
        'pages ({"items": [...]}{"items": [...]}) and load that',
    )


def lone_surrogate(at: int, text: str, record: int, line: int) -> BadInput:
    """An escape of half a character (`text`, a lone `\\ud800`) in a page or an array."""
    return BadInput(
        f"the JSON holds half a character (a lone {text} escape) in record {record:,} "
        f"(byte {at:,}): the parser would read other text; none of the file's rows "
        "are published",
        line=line,
        hint="fetch or export the file again; a tool that rewrote it may have split "
        "a character. As JSON lines, such a record is quarantined on its own",
    )
