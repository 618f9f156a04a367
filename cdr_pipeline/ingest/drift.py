"""Header drift of one source: the columns it has that the schema does not know (kept in
`extra`) and the schema's columns it lacks (loaded as NULL), logged once per source."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import polars as pl

from cdr_pipeline.ingest.chunk import JOINED, NO_KEYS, BadInput, Chunk, columns_differ
from cdr_pipeline.ingest.guards import guard_note
from cdr_pipeline.render import not_ascii, shorten_middle, visible_short
from cdr_pipeline.schema import HeaderResolution, TableSchema, resolve_headers
from cdr_pipeline.schema.base import NULL_MARKERS
from cdr_pipeline.schema.headers import extra_key

if TYPE_CHECKING:
    from cdr_pipeline.ingest.normalize import NormalizeResult

log = logging.getLogger(__name__)


MISSING_NOTES = {
    ("call_legs", "sub_client_type"): "no 'Sub client type' column: Webex Go legs cannot be "
    "told, every leg of this file loads as not Webex Go (is_webex_go false)",
    ("call_legs", "answered"): "no 'Answered' column: every leg of this file loads as not "
    "answered (answered NULL), so its calls count as unanswered and every one that rang a "
    "person as missed",
    ("call_legs", "duration_seconds"): "no 'Duration' column: every leg of this file loads "
    "without its duration (NULL, not 0), so its calls add no talk time",
    ("call_legs", "report_id"): "no 'Report ID' column: each leg of this file gets a stand-in "
    "id (synth-...) from its Correlation ID, Local call ID, Direction and Start time, so the "
    "same legs loaded from a Control Hub report or the API, which carry their Report ID, are "
    "other rows and count twice: load each period from one of the two only",
    ("entitlements", "valid_to"): "no 'valid_to' column: every row of this file is open-ended, "
    "in force from its valid_from on (an end date under another header, kept in 'extra', is "
    "not read: name it valid_to)",
    ("device_snapshots", "deployment"): "no 'deployment' column: the licence type of this "
    "file's devices (BYOD or Mobile Operator) is unknown unless an event gives it, and their "
    "licences (licence type (none)) reconcile with no entitlement",
    ("device_snapshots", "subscription_id"): "no 'subscription_id' column: this file's devices "
    "name no subscription unless an event does, and their licences (subscription (none)) "
    "reconcile with no entitlement",
}
"""Notes for a header without a column whose absence changes what the views say (a CSV
header only: API records leave out a key they hold no value for)."""


def lacks_required(schema: TableSchema, res: HeaderResolution) -> None:
    """A CSV header without a column every record needs fails the file at once, naming the
    column and the header's unknown ones: `Start time (UTC)`, or `Start time` behind a
    zero-width space, quarantined every record as `missing_required` (a whole export's rows
    under rejects/, 'fix the export' and no word of the header)."""
    lost = [c for c in schema.input_columns if c.required and c.name in res.missing]
    if not lost:
        return
    names = ", ".join(f"'{c.headers[0] if c.headers else c.name}'" for c in lost)
    unknown = [_quoted(u) for u in res.unknown if u != NO_KEYS]
    raise BadInput(
        f"the header has no {names} column, which every record needs"
        + (f"; columns it does not know: {', '.join(unknown[:8])}" if unknown else ""),
        line=None,
        hint="name the column as the export does (a character that does not show, a letter "
        "of another alphabet that looks the same, or text added to the name makes it another "
        "column), or load the export as downloaded",
    )


def _quoted(name: str) -> str:
    """An unknown column's name as a message quotes it: what does not show escaped, and its
    letters that are not ASCII named (`not_ascii`)."""
    return visible_short(name, quote="'") + not_ascii(name)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


MAX_NOTED_VALUES = 5
"""Undocumented values of a `Column.noted` column a note names; the rest are counted."""


class DriftSink(Protocol):
    unknown_columns: list[str]
    missing_columns: list[str]

    def add_note(self, note: str) -> None: ...


class Drift:
    """Resolves each distinct header of a source once (JSON records may differ in their
    keys from chunk to chunk) and accumulates the drift."""

    def __init__(self, schema: TableSchema, source: str, per_record: bool = False) -> None:
        self.schema, self.source = schema, source
        self.per_record = per_record
        """JSON: each record carries its own keys (`records`)."""
        self._resolutions: dict[tuple[str, ...], HeaderResolution] = {}
        self._unknown: dict[str, None] = {}
        self._missing: set[str] | None = None
        self._repeated: dict[str, str] = {}
        """Name a repeated column is kept under in `extra` -> its header."""
        self._lookup: Callable[[str], str | None] | None = None
        self._guarded: dict[str, int] = {}
        """Column -> values read without a spreadsheet's formula guard (`guards.py`)."""
        self._noted = [c for c in schema.input_columns if c.noted]
        self._others: dict[str, dict[str, int]] = {}
        """`Column.noted` column -> its undocumented values and their rows ("": the rest)."""
        self._numbers: dict[str, int] = {}
        """Phone number column -> its values written as JSON integers (`typed`)."""
        self._phones = {*schema.phone_text, "phone_number"}
        self._secrets = 0
        """JSON records that gave a secret two values (`secrets_note`)."""
        self._spelled: dict[str, str] = {}
        """Canonical column -> the source's first spelling of it: a JSON chunk whose records
        all lack a column names it as the file does (`Correlation ID: required value is
        missing`), not by its canonical name, so one file's rejects are one reason."""

    def resolve(self, headers: Sequence[str]) -> HeaderResolution:
        key = tuple(headers)
        res = self._resolutions.get(key)
        if res is None:
            res = self._resolutions[key] = resolve_headers(list(headers), self.schema)
            if not self.per_record:  # a JSON record's keys are its own: told by `kept`
                self._unknown.update(dict.fromkeys(u for u in res.unknown if u != NO_KEYS))
            missing = set(res.missing)
            self._missing = missing if self._missing is None else self._missing & missing
            if not self.per_record:  # a JSON chunk's repeats are told by `records`
                self._repeated.update({kept: res.headers[i] for i, kept in res.repeated})
                lacks_required(self.schema, res)
            for name, header in res.source_header.items():
                self._spelled.setdefault(name, header)
        if self.per_record and self._spelled.keys() - res.source_header.keys():
            return replace(res, source_header={**self._spelled, **res.source_header})
        return res

    def typed(self, chunk: Chunk, res: HeaderResolution) -> None:
        """Count the phone numbers a JSON chunk wrote as integers (`json_numbers`: column
        index -> values), not strings as the APIs write them: a tool that typed the column
        (pandas reads `+15550100000` as the number 15550100000) dropped every `+` in it; and
        its records that gave a secret two values (`secrets_doubled`)."""
        self._secrets += chunk.secrets_doubled
        for i, n in chunk.json_numbers.items():
            name = res.canonical[i]
            if name in self._phones:
                self._numbers[name] = self._numbers.get(name, 0) + n

    def records(
        self, frame: pl.DataFrame, res: HeaderResolution
    ) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
        """The chunk's columns as normalize reads them, and the records that name a column
        two ways with different values (index into `frame`, the detail of their
        `duplicate_key`). A CSV header is every row's; JSON records carry their own keys, and
        a chunk's columns are all its records' keys: a page where one record writes `Device
        MAC` and the next `Device Mac` (keys drift between API versions) has both spellings
        though no record repeats the column. So in a JSON record a later spelling's value
        moves to the column's first spelling when that holds none; a record holding both
        with one value loads it once, and one holding two values is quarantined, as a key
        written twice with two values is (`json_lines`): which one it holds cannot be told.
        (A secret no table stores, the activation code, is never a repeat: `resolve_headers`
        drops its every spelling, and the record loads.)"""
        conflicts: list[tuple[int, str]] = []
        if not self.per_record or not res.repeated:
            return frame, conflicts
        first: dict[str | None, int] = {}
        for i, name in enumerate(res.canonical):
            first.setdefault(name, i)
        for i, _ in res.repeated:
            k = first[res.canonical[i]]
            one, col = pl.col(f"c{k}"), pl.col(f"c{i}")
            held = one.is_not_null() & ~one.is_in(list(NULL_MARKERS))
            other = held & col.is_not_null() & ~col.is_in(list(NULL_MARKERS)) & (one != col)
            detail = two_values_detail(res.headers[k], res.headers[i])
            conflicts += [(int(j), detail) for j in frame.select(other.arg_true()).to_series()]
            frame = frame.with_columns(
                pl.when(held).then(one).otherwise(col).alias(f"c{k}"),
                pl.when(other).then(col).alias(f"c{i}"),
            )
        return frame, sorted(dict(conflicts).items())

    def loaded(self, frame: pl.DataFrame, res: HeaderResolution, out: NormalizeResult) -> None:
        """What a chunk's normalized outcome `out` tells of the file: the columns its loaded
        records hold (`kept`), its values read without a formula guard and its undocumented
        values (`count`)."""
        self.kept(frame, res, out.rejects.get_column("__idx"))
        self.count(out.rows, out.unguarded)

    def kept(self, frame: pl.DataFrame, res: HeaderResolution, rejected: pl.Series) -> None:
        """Note the columns that hold a value in a record of `frame` (from `records`) not
        `rejected` (indexes into it): an unnamed one, and in JSON records an unknown key or
        a repeat. A key only a quarantined record held was named a new column kept in
        `extra` (the note, the ledger), where no loaded row had it."""
        names = [*res.unnamed]
        if self.per_record:
            unknown = enumerate(map(extra_key, res.headers))
            names += [(i, k) for i, k in unknown if k and res.canonical[i] is None]
            names += res.repeated
        seen = {*self._unknown, *self._repeated, NO_KEYS}
        names = [(i, k) for i, k in sorted(names) if k not in seen and f"c{i}" in frame.columns]
        if not names:
            return
        loaded = ~pl.int_range(pl.len()).is_in(rejected.implode())
        held = frame.select(  # one pass over the columns, in the header's order
            (pl.col(f"c{i}").is_not_null() & ~pl.col(f"c{i}").is_in(list(NULL_MARKERS)) & loaded)
            .any()
            .alias(str(n))
            for n, (i, _) in enumerate(names)
        ).row(0)
        for (i, kept), has in zip(names, held, strict=True):
            if has and (i, kept) in res.repeated:
                self._repeated[kept] = res.headers[i]
            elif has:
                self._unknown.setdefault(kept)

    def header_rows(
        self, rejects: pl.DataFrame, frame: pl.DataFrame, res: HeaderResolution, lines: np.ndarray
    ) -> Iterator[tuple[int, str, str]]:
        """The rows `normalize` rejected (index into `frame`, reason, detail), those that are
        the CSV header line again spelled another way now `repeated_header`: exports joined
        with `cat` whose header drifted between releases or tools (`Start time` then
        `start_time`, `startTime`, `Start  Time`). The reader finds a repeat spelled the same
        (`csv_reader._header_lines`) at no cost to the other rows; one spelled otherwise
        fails to parse in every kind (each has a required time or closed value), so only
        rejected rows need this look: their values name the same columns in the same order.
        The same columns in another order fail the file, as the reader's check does."""
        rows = rejects.iter_rows()
        known = [(i, c) for i, c in enumerate(res.canonical) if c is not None]
        if self.per_record or not known:
            yield from rows
            return
        lookup = self._lookup = self._lookup or self.schema.header_lookup()
        first = known[0][0]
        for idx, reason, detail in rows:
            values = frame.row(idx)
            if values[first] is None or lookup(values[first]) is None:  # most: at a glance
                yield idx, reason, detail
                continue
            names = [None if v is None else lookup(v) for v in values]
            if names == list(res.canonical):
                yield (
                    idx,
                    "repeated_header",
                    (
                        f"the header line again, spelled another way ('{values[first]}' for "
                        f"'{res.headers[first]}'), not a record (exports joined into one file?)"
                    ),
                )
            elif sorted(filter(None, names)) == sorted(c for _, c in known):
                raise BadInput(
                    "the header appears again here, spelled another way and with its columns "
                    "in another order: the rows after it would be read into the wrong columns",
                    line=int(lines[idx]),
                    hint=JOINED,
                )
            elif 2 * sum(n is not None for n in names) > len(known):
                raise BadInput(other_layout(values, names, res), line=int(lines[idx]), hint=JOINED)
            else:
                yield idx, reason, detail

    def count(self, rows: pl.DataFrame, guarded: dict[str, int]) -> None:
        """Add a chunk's values read without a formula guard (`NormalizeResult.unguarded`)
        and the undocumented values of its `Column.noted` columns (`rows`: its good rows)."""
        for column, n in guarded.items():
            self._guarded[column] = self._guarded.get(column, 0) + n
        for c in self._noted:
            values = rows[c.name].drop_nulls()
            known = [v.upper() for v in c.values] if c.case_blind else list(c.values)
            probe = values.str.strip_chars().str.to_uppercase() if c.case_blind else values
            others = values.filter(~probe.is_in(known) & (probe != ""))
            if others.len():
                seen = self._others.setdefault(c.name, {})
                for value, n in others.value_counts().iter_rows():
                    if value in seen or len(seen) < MAX_NOTED_VALUES:
                        seen[value] = seen.get(value, 0) + n
                    else:  # more spellings than a note names: counted, not named
                        seen[""] = seen.get("", 0) + n

    def _others_note(self, name: str, seen: dict[str, int]) -> str:
        rest = seen.pop("", 0)
        shown = ", ".join(
            visible_short(v, quote="'") + f" ({_rows(n)})"
            for v, n in sorted(seen.items(), key=lambda vn: (-vn[1], vn[0]))
        )
        more = f" and {_rows(rest)} more" if rest else ""
        return (
            f"{self._spelled.get(name, name)} has values the Control Hub reference does not "
            f"document: {shown}{more}; {self.schema.column(name).noted}"
        )

    def finish(self, result: DriftSink) -> None:
        """Columns unknown in any chunk, and columns missing from every chunk; logged here,
        once for the source (a JSON file's records may each lack other keys)."""
        result.unknown_columns = list(self._unknown)
        result.missing_columns = sorted(self._missing or ())
        if result.unknown_columns or result.missing_columns:
            log.info(
                "%s: unknown columns %s; missing columns %s",
                self.source,
                result.unknown_columns or "none",
                result.missing_columns or "none",
                extra={
                    "file": self.source,
                    "columns_unknown": result.unknown_columns,
                    "columns_missing": result.missing_columns,
                },
            )
        if not self.per_record:
            for (table, column), note in MISSING_NOTES.items():
                if table == self.schema.name and column in result.missing_columns:
                    result.add_note(note)
        if self._guarded:
            result.add_note(guard_note(self._guarded, self._spelled))
        if self._numbers:
            result.add_note(numbers_note(self._numbers, self._spelled))
        for name, seen in self._others.items():
            result.add_note(self._others_note(name, seen))
        if self._secrets:
            result.add_note(secrets_note(self._secrets))
        if self._repeated:
            note = repeated_note(self._repeated)
            result.add_note(note)
            log.info(  # the note is the file's message: the ledger keeps it, ingest prints it
                "%s: %s",
                self.source,
                note,
                extra={"file": self.source, "columns_repeated": list(self._repeated)},
            )


def other_layout(
    values: Sequence[str | None], names: Sequence[str | None], res: HeaderResolution
) -> str:
    """The message for a header line of another export with other columns (as many of them
    as the first header has, or its line would be a ragged row): the rows after it would load
    each value into the first header's column at its place. A newer export's `ELIN` loaded
    into `PSTN Provider ID`, the file `loaded` with its second header quarantined as a bad
    timestamp."""
    first = dict.fromkeys(c for c in res.canonical if c is not None)
    here = dict.fromkeys(n for n in names if n is not None)
    added = [str(v).strip() for v, n in zip(values, names, strict=True) if v and n not in first]
    gone = [
        h.strip() for h, c in zip(res.headers, res.canonical, strict=True) if c and c not in here
    ]
    return (
        f"a header of another export appears here, with other columns "
        f"({columns_differ(added, gone)}): the rows after it would be read into the first "
        "header's columns"
    )


def numbers_note(counts: dict[str, int], headers: dict[str, str]) -> str:
    """The file's note of phone numbers written as JSON integers (`headers`: the file's
    spelling of each column)."""
    shown = ", ".join(f"{n:,} of {headers.get(c, c)}" for c, n in counts.items())
    return (
        f"phone numbers written as JSON numbers, not text ({shown}): a tool that typed the "
        "column (pandas) wrote the file again and dropped the '+' of every international "
        "number (+15550100000 became 15550100000), which loaded as written; load the API's "
        "answer as it came (cdr fetch, or saved unchanged), or write those columns as text "
        "(pandas: dtype=str)"
    )


def secrets_note(records: int) -> str:
    """The note of JSON records that gave the activation code (a secret no table stores) two
    values, its key written twice (`json_lines.Record`)."""
    return (
        f"{records:,} record(s) give the activation code two different values (the key "
        "written twice): they load, as the code is never stored (dropped on read); the tool "
        "that wrote the file may have mixed two records' fields"
    )


def two_values_detail(first: str, second: str) -> str:
    """The detail of a JSON record that names one column two ways, with two values (never
    the values: the column may be a sensitive one)."""
    return (
        f"the record names one column two ways, '{shorten_middle(first.strip(), 60)}' and "
        f"'{shorten_middle(second.strip(), 60)}', with different values: which one it holds "
        "cannot be told (fix the record, keeping one, and load the file again)"
    )


def repeated_note(repeated: dict[str, str]) -> str:
    """The note of a header that names a column more than once (`repeated`: the name each
    repeat is kept under in `extra` -> its header)."""
    headers = ", ".join(dict.fromkeys(visible_short(h.strip()) for h in repeated.values()))
    return (
        f"the header names a column more than once ({headers}): the column loads the first "
        "non-empty value from the left; the repeats' values are also kept in 'extra' as "
        + ", ".join(map(visible_short, repeated))
    )
