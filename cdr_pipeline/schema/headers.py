"""Source headers -> canonical columns, and the input kind a header announces.

Headers are matched after `normalize_header` (BOM stripped, trimmed, whitespace and
underscores collapsed, case-folded) against every spelling a schema lists, else with their
blanks removed as well (camelCase keys: `TableSchema.header_lookup`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cdr_pipeline.errors import InputError
from cdr_pipeline.render import shorten_middle
from cdr_pipeline.schema.base import Column, TableSchema, currency_named
from cdr_pipeline.schema.registry import SCHEMAS
from cdr_pipeline.text import UUID_RE


@dataclass(frozen=True)
class HeaderResolution:
    canonical: tuple[str | None, ...]
    """Canonical column of each source column (None: unknown, kept in `extra`)."""
    unknown: tuple[str, ...]
    missing: tuple[str, ...]
    """Canonical input columns the source does not have (they load as NULL)."""
    source_header: dict[str, str] = field(default_factory=dict)
    """Canonical column -> the source spelling (for messages)."""
    headers: tuple[str, ...] = ()
    """The source headers as spelled, in order."""
    unnamed: tuple[tuple[int, str], ...] = ()
    """Source columns without a name (a blank header cell, a JSON key `""`), not in
    `unknown`, with the name each is kept under in `extra`: `(no header)`, then
    `(no header) 2`... (not its place: a record's content must not change when an export
    only moves its columns, or with the other keys of a JSON page). Such a column is named
    an unknown column only once a record holds a value in it (`Drift.records`): a separator
    at the end of every line makes one that never does."""
    repeated: tuple[tuple[int, str], ...] = ()
    """Source columns that repeat a column met earlier in the header (the same header twice,
    or two spellings of one column), with the name each is also kept under in `extra`: its
    header text and its occurrence (`Answered_2`)."""
    implied: dict[str, str] = field(default_factory=dict)
    """Column -> the value a header gives every row without one: the currency a price's
    header names (`Unit price (USD)`: `{"currency": "USD"}`)."""

    def spelling(self, column: Column) -> str:
        """How messages name `column`: as the source spells it, else by its export header,
        as a record would (a chunk of JSON records that all lack it named it by its
        canonical name: one file's rejects split into two reasons), never by its name."""
        spelled = self.source_header.get(column.name)
        return spelled or (column.headers[0] if column.headers else column.name)

    @property
    def matched(self) -> int:
        return sum(c is not None for c in self.canonical)


def extra_key(header: str) -> str:
    """The name an unknown column is kept under in `extra`, and named by in the ledger's
    `unknown_columns` and the note: its header without a BOM or blanks around it (a
    no-break space too), so `extra->>'...'` finds it by the name the ledger gives."""
    return header.replace("\ufeff", "").strip()


UNNAMED = "(no header)"
"""The name in `extra` of a column without a header name (a column a spreadsheet user
added and left unnamed): its values are kept like any unknown column's, never dropped."""


def resolve_headers(headers: list[str], schema: TableSchema) -> HeaderResolution:
    lookup = schema.header_lookup()
    canonical: list[str | None] = []
    unknown: list[str] = []
    spelled: dict[str, str] = {}
    seen: dict[str, int] = {}
    repeated: list[tuple[int, str]] = []
    unnamed: list[tuple[int, str]] = []
    for i, h in enumerate(headers):
        name = lookup(h)
        canonical.append(name)
        if name is None:
            if extra_key(h):
                unknown.append(extra_key(h))
            else:
                n = len(unnamed) + 1
                unnamed.append((i, UNNAMED if n == 1 else f"{UNNAMED} {n}"))
        else:
            spelled.setdefault(name, h)
            seen[name] = seen.get(name, 0) + 1
            # a sensitive column is never stored: its repeats are dropped like it
            if seen[name] > 1 and not schema.column(name).sensitive:
                repeated.append((i, f"{extra_key(h)}_{seen[name]}"))
    # every spelling of a price counts, not only the first: `Unit price` left empty beside
    # `Unit Price (EUR)` loads the second's values, in euros; two currencies imply none
    codes: dict[str, set[str]] = {}
    for h, name in zip(headers, canonical, strict=True):
        column, named = schema.column(name) if name else None, currency_named(h)
        if column and column.priced_in and named is not None and lookup(named[0]) == name:
            codes.setdefault(column.priced_in, set()).add(named[1])
    implied = {col: code.pop() for col, code in codes.items() if len(code) == 1}
    # a column a header implies is not missing: the rows have its value
    missing = tuple(c.name for c in schema.input_columns if c.name not in {*spelled, *implied})
    return HeaderResolution(
        tuple(canonical),
        tuple(unknown),
        missing,
        spelled,
        tuple(headers),
        tuple(unnamed),
        tuple(repeated),
        implied,
    )


SHOWN_NAME = 40
"""Characters of each header name a 'not a recognised export' message quotes."""


def detect_kind(
    headers: Sequence[str], source: str, line: int = 1, *, keys: bool = False
) -> TableSchema:
    """The input kind a header announces. `keys`: the names are a JSON file's record keys,
    not a CSV line, so no line of it is a record, a title or markup to delete."""
    best: tuple[int, TableSchema] | None = None
    for schema in SCHEMAS.values():
        res = resolve_headers(list(headers), schema)
        present = set(c for c in res.canonical if c)
        score = sum(1 for s in schema.signature if s in present)
        if score >= schema.min_signature and (best is None or score > best[0]):
            best = (score, schema)
    if best is None:
        # each name shortened: the first line of a file that is no CSV can be 64 KiB of text
        shown = ", ".join(shorten_middle(h, SHOWN_NAME) for h in list(headers)[:6])
        shown += " ..." if len(headers) > 6 else ""
        if keys:  # the line diagnoses below told a JSON file to delete a line above its header
            raise InputError(
                f"not a recognised export: its records' keys ({shown}) match none of the input "
                f"kinds ({', '.join(SCHEMAS)})",
                path=source,
                hint="load the cdr_feed / cdr_stream JSON (records keyed by the export's "
                "column names: 'Start time', 'Direction'...) or a device/activation/entitlement "
                "file; force a kind with --kind",
            )
        if (status := _HTTP_STATUS.fullmatch(",".join(headers).strip())) is not None:
            raise _http_answer(status, source, line)
        if any(_DATA_CELL.fullmatch(h.strip()) for h in headers):
            raise _headerless(shown, source, line)
        named = [h.strip() for h in headers if h.strip()]
        if len(named) == 1 and _TITLE.fullmatch(named[0]):  # Excel pads it: `Title,,,`
            raise _titled(shorten_middle(named[0], SHOWN_NAME), source, line)
        if _MARKUP.match(",".join(headers).lstrip("\ufeff \t")):
            raise _web_page(shown, source, line)
        raise InputError(
            f"not a recognised export: the header ({shown}) matches none of the input kinds "
            f"({', '.join(SCHEMAS)})",
            path=source,
            line=line,
            hint="load a Control Hub 'Calling Detailed Call History' CSV, the cdr_feed JSON, "
            "or a device/activation/entitlement file; force a kind with --kind",
        )
    return best[1]


_DATA_CELL = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*"  # a time stamp
    r"|\+\d{6,}"  # an E.164 number
    rf"|{UUID_RE.pattern}"  # a UUID
)
"""A cell no header names a column with: a header line holding one is a record."""


def _headerless(shown: str, source: str, line: int) -> InputError:
    """The first line holds data (a time stamp, an E.164 number, a UUID): the file has no
    header line. The parts after the first of an export cut with `split -l` have none; the
    message quoted the record as a header and suggested --kind, which then failed too."""
    return InputError(
        f"not a recognised export: its first line ({shown}) is a record, not a header (it holds "
        "a time stamp, an E.164 number or a UUID): the file has no header line",
        path=source,
        line=line,
        hint="put the export's header line back at the top (a part of an export split into "
        "pieces: (head -1 first-part.csv; cat this-part.csv) > whole.csv)",
    )


_TITLE = re.compile(r"\w[\w.,:;()&'/-]*( [\w.,:;()&'/-]+)+")
"""Words and the punctuation of a title (`Calling Detailed Call History - October 2026`),
not markup or data (`<worksheet>`, `{"items"`)."""


_MARKUP = re.compile(r"<(?:!doctype|html|\?xml|head|body|error)\b", re.IGNORECASE)
"""The start of an HTML page or an XML document: what a web server answers a download it
refuses (a sign-in page; a storage link's `<Error><Code>AccessDenied</Code>...` once it
expired), saved under the report's name."""


def _web_page(shown: str, source: str, line: int) -> InputError:
    """The file is a web server's answer, not the report: the download failed. The message
    called it an unknown kind of export and suggested --kind, which reads the page as a
    header and its markup as records."""
    return InputError(
        f"not a recognised export: it is an HTML page or XML document ({shown}), what a web "
        "server answers a download it refuses (a sign-in or error page, an expired link)",
        path=source,
        line=line,
        hint="download the report again, signed in (Control Hub, Reports), or with cdr fetch",
    )


_HTTP_STATUS = re.compile(r"\ufeff?(HTTP/\d(?:\.\d)?) +(\d{3})\b.*")
"""An HTTP answer's status line (`HTTP/1.1 200 OK`, `HTTP/2 200`): what `curl -i` or
`curl -D -` writes before the headers and the body, the way to see the feed's `Link` header
that names the next page."""


def _http_answer(status: re.Match[str], source: str, line: int) -> InputError:
    """The file is an API answer saved with its status line and headers: the page is the
    body after them. It failed as 'one field of words, a title' with the hint to delete a
    spreadsheet's caption."""
    code = status.group(2)
    failed = "" if code.startswith("2") else f"; HTTP {code}: the request failed"
    return InputError(
        f"not a recognised export: it is an HTTP answer saved with its status line and "
        f"headers ({status.group(1)} {code}), as curl -i writes it{failed}",
        path=source,
        line=line,
        hint="save the answer's body alone (curl -o page.json; the next page's link is in "
        "the Link header: curl -D headers.txt -o page.json), or let cdr fetch follow the "
        "pages",
    )


def _titled(shown: str, source: str, line: int) -> InputError:
    """The first line is one field of words (`Calling Detailed Call History`, a report's
    name): a title a spreadsheet user typed above the header, or a report tool's caption.
    The message quoted it as a header and suggested --kind, which reads the title as the
    header and every record as data of unknown columns. The same words begin a note or a
    readme (one in a ZIP of exports): the hint says to leave such a file out, which deleting
    its first line would not mend."""
    return InputError(
        f"not a recognised export: its first line ({shown}) is one field of words, a title "
        "rather than a header line",
        path=source,
        line=line,
        hint="delete the line(s) above the export's header line (a title or caption added in "
        "a spreadsheet) and load the file again; a file with no such header line under it (a "
        "note or readme beside the exports, in their folder or ZIP) is no export: leave it out",
    )


def check_forced_kind(
    headers: Sequence[str],
    schema: TableSchema,
    source: str,
    line: int = 1,
    *,
    keys: bool = False,
) -> None:
    """A kind forced by --kind on a header with no column of it, or with a cell that is data
    (a time stamp, an E.164 number, a UUID: a record's `User` user type names a column): the
    file has no header line (the hint of `detect_kind` suggests --kind), and its first
    record, names and numbers, would be taken for column names and kept as the ledger's
    unknown columns, which `cdr runs`, notebook 04 and the logs show. `keys`: the names are
    a JSON file's record keys, never a record's values, so only a column of the kind counts:
    a key spelled like a UUID or a time next to the kind's keys failed a page that loads
    without --kind, as 'the line read as its header names no calls column'."""
    named = any(resolve_headers(list(headers), schema).canonical)
    if keys:
        if named:
            return
        shown = ", ".join(shorten_middle(h, SHOWN_NAME) for h in list(headers)[:6])
        raise InputError(
            f"not a {schema.kind} export: its records' keys ({shown}) name no {schema.kind} column",
            path=source,
            hint="load the file without --kind, or force the kind its records are",
        )
    data = any(_DATA_CELL.fullmatch(h.strip()) for h in headers)
    if not data and named:
        return
    raise InputError(
        f"not a {schema.kind} export: the line read as its header names no {schema.kind} column "
        "(a file without its header line?)",
        path=source,
        line=line,
        hint=f"put the header line of {schema.kind} back at the top of the file",
    )
