"""A byte-stream filter in front of the JSON parser that enforces the JSON limits.

The C parser (ijson's yajl2_c backend) crashes on a number of thousands of digits and builds
any nesting it is given (100,000 levels took 22 GB); a record or string of gigabytes would be
held whole. The guard scans each block the parser reads with numpy (a few array passes, no
Python loop per byte) and stops the file, with exit 3, before the parser sees: nesting deeper
than `max_json_depth`, a run of more than `max_json_number_digits` digits outside a string,
or one record (or top-level string) longer than `max_record_bytes`. In JSON lines, which
Python's json parses a line at a time, a line nested too deep is noted instead (`deep`), to be
quarantined alone. It also notes the first text escape of half a character (a lone
`\\ud800`): the C parser reads one as `?`, or joins it with the next character into another,
so a reader of pages and arrays fails the file on it (`lone_surrogate`) rather than load
other text. And, reading pages or an array, the first top-level value that holds no records
(records after a page: `stray`), which the parser would skip without a word.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from cdr_pipeline.ingest.chunk import BadInput
from cdr_pipeline.ingest.json_refusals import items_twice, lone_surrogate, stray_value
from cdr_pipeline.ingest.limits import Limits

QUOTE, BACKSLASH = 34, 92
OPEN = (123, 91)  # { [
CLOSE = (125, 93)  # } ]
SURROGATE = re.compile(rb"(\\+)u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""A `\\uD800`-`\\uDFFF` escape (when its run of backslashes is odd: `\\\\ud800` is text)."""
NO_BLOCK = np.empty(0, dtype=np.uint8)
HIGH, LOW = (
    re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}"),
    re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"),
)


class JsonGuard(io.RawIOBase):
    """Pass `raw`'s bytes through, checking them. `base` is the nesting depth at which
    records sit (0: top-level values, 1: items of a top-level array, 2: `{"items": [...]}`)."""

    def __init__(
        self, raw: BinaryIO, limits: Limits, base: int = 0, per_line: bool = False
    ) -> None:
        self._raw, self._limits, self._base = raw, limits, base
        self._depth = 0
        self._in_string = False
        self._backslashes = 0  # trailing backslashes of the last block, inside a string
        self._digits = 0  # trailing digit run of the last block, outside strings
        self._span = 0  # bytes since the stream was last between records
        self.offset = 0
        self._tail = b""  # the last bytes read, for an escape or pair cut between blocks
        self._checked = 0  # escapes starting before this offset are checked
        self.lone_surrogate: tuple[int, str] | None = None
        """Byte offset and text of the first escape of half a character, once seen."""
        self._lone_at = (0, 0)  # its record and line
        self._ended, self._ends = 0, NO_BLOCK.astype(np.int64)  # records ended: before, where
        self._lines = 0  # line breaks before the block being scanned
        self._arr = NO_BLOCK
        self._value: list[Any] = [0, 1, True]
        """Byte offset and line of the top-level value being read, whether it holds records."""
        self._object = False  # whether that value is an object
        self._boms = NO_BLOCK.astype(np.int64)  # top-level byte order marks of the block
        self._held = b""  # the start of a byte order mark a block's end cut (`_fill`)
        self.stray: tuple[int, int] | None = None
        """Byte offset and line of the first top-level value that holds no records (a
        record after a page, anything after an array), which the parser would skip."""
        self._lists = 0  # arrays under an "items" key of the page being read
        self._per_line = per_line  # JSON lines: nesting and strings start afresh per line
        self.deep: dict[int, int] = {}
        """JSON lines: line -> the byte of that line (from 1) where it first nests deeper than
        max_json_depth, for lines scanned and not yet read: the line reader quarantines each
        (`json_lines`), as Python's json parses a line on its own."""
        self._line_at = 0  # the stream offset where the line being scanned began
        self.doubled: tuple[int, int] | None = None
        """Byte offset and line of the first page's second "items" key: the parser reads
        both arrays, where a JSON parser keeps one (`check_text`)."""

    def readable(self) -> bool:
        return True

    def read_lines(self) -> None:
        """The stream is JSON lines (told from its first lines): a line break ends every
        record, since none can be inside a JSON text, so nesting and strings start afresh on
        each line. Read as one text, a line cut short inside its object left its brace open
        for every line after it: 64 such lines among 10,000 failed the file as nested
        deeper than max_json_depth, and one failed it as a record longer than
        max_record_bytes 16 MiB later (the line reader bounds each line itself)."""
        if not self._per_line:  # told before its first read, or once the layout is known
            self._per_line, self._depth, self._in_string, self._span = True, 0, False, 0

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as whole, whole.cast("B") as bytes_view:
            n = self._fill(bytes_view)
        if n:
            with memoryview(buffer) as view:
                self._scan(np.frombuffer(view[:n], dtype=np.uint8))
                self._arr = NO_BLOCK  # no reference kept to the reader's buffer
                for at in self._boms:  # whitespace to the parser, as before the first value
                    view[at : at + 3] = b"   "
                block = bytes(view[:n])
                if self.lone_surrogate is None:
                    self._surrogates(block, end=False)
                self._lines += block.count(b"\n")
                if (last := block.rfind(b"\n")) >= 0:
                    self._line_at = self.offset + last + 1
            self.offset += n
        elif self.lone_surrogate is None:
            self._surrogates(b"", end=True)
        return n or 0

    def _fill(self, view: memoryview) -> int:
        """Read into `view`, after the bytes held back by the last read: its last one or two
        when they may start a byte order mark (EF, EF BB) that the next read ends. A mark cut
        by a block's end was not blanked, and the pages joined after it failed the file."""
        n = min(len(self._held), len(view))
        view[:n], self._held = self._held[:n], self._held[n:]
        while n < len(view):
            got = self._raw.readinto(view[n:]) or 0  # type: ignore[attr-defined]
            if not got:
                break
            n += got
            cut = 1 if view[n - 1] == 0xEF else 2 if view[n - 2 : n] == b"\xef\xbb" else 0
            if not cut:
                break
            if n > cut:  # some to scan now; the rest after the next read
                self._held = bytes(view[n - cut : n]) + self._held
                return n - cut
        return n

    def check_text(self) -> None:
        """Fail the file on an escape of half a character seen (a lone `\\ud800`): the
        parser reads it as `?` or as another character joined with the next, silently; or on
        a top-level value the parser would skip (`stray`)."""
        if self.stray is not None:
            raise stray_value(*self.stray, after_page=self._base == 2)
        if self.doubled is not None:
            raise items_twice(*self.doubled)
        if self.lone_surrogate is not None:
            raise lone_surrogate(*self.lone_surrogate, *self._lone_at)

    def _surrogates(self, block: bytes, end: bool) -> None:
        """Note the first lone surrogate escape: a high one not followed by a low one, or a
        low one not preceded by a high one. A high one in the last bytes waits for the next
        block (or the end) to see what follows it."""
        data = self._tail + block
        start = self.offset - len(self._tail)  # the stream offset of data[0]
        checked = start + max(len(data) - 5, 0)  # an escape is 6 bytes: later ones may be cut
        found = b"\\ud" in data or b"\\uD" in data  # a fast search first: most blocks hold none
        for m in SURROGATE.finditer(data) if found else ():
            at = m.end(1) - 1  # the escape's backslash
            if start + at < self._checked or len(m.group(1)) % 2 == 0:
                continue
            if HIGH.match(data, at):
                if at + 12 > len(data) and not end:
                    checked = min(checked, start + at)  # what follows it is not read yet
                    break
                lone = not LOW.match(data, at + 6)
            else:
                lone = at < 6 or not HIGH.match(data, at - 6)
            if lone:
                self.lone_surrogate = (start + at, data[at : at + 6].decode("ascii"))
                # the parser is a block behind: the record is told by the records ended before
                ended = self._ended + int(np.count_nonzero(self._ends < start + at))
                line = self._lines - self._tail.count(b"\n") + data.count(b"\n", 0, at) + 1
                self._lone_at = (ended + 1, line)
                return
        self._checked = max(self._checked, checked)
        self._tail = data[-24:]

    def _scan(self, arr: np.ndarray) -> None:
        if self._per_line:
            self._scan_lines(arr)
            return
        n, self._arr = len(arr), arr  # the block, for the line of a failure in it
        quotes = self._unescaped_quotes(arr)
        start_in = self._in_string
        brackets = np.flatnonzero(
            (arr == OPEN[0]) | (arr == OPEN[1]) | (arr == CLOSE[0]) | (arr == CLOSE[1])
        )
        if len(brackets):
            inside = (np.searchsorted(quotes, brackets) + start_in) % 2 == 1
            brackets = brackets[~inside]
        self._boms = self._top_level_boms(arr, quotes, start_in, brackets)
        low = -1
        if len(brackets):
            step = np.where((arr[brackets] == OPEN[0]) | (arr[brackets] == OPEN[1]), 1, -1)
            depth = self._depth + np.cumsum(step)
            self._check_depth(brackets, depth)
            self._depth = int(depth[-1])
            self._note_ends(brackets[(step == -1) & (depth == self._base)])
            if self._base:
                self._top_level(arr, brackets, step, depth)
            lows = np.flatnonzero(depth <= self._base)
            low = int(brackets[lows[-1]]) if len(lows) else -1
        self._in_string = bool((len(quotes) + start_in) % 2)
        self._check_digits(arr, lambda at: (np.searchsorted(quotes, at) + start_in) % 2 == 1)
        if self._depth > self._base or self._in_string:
            self._span = n - low - 1 if low >= 0 else self._span + n
            if self._span > self._limits.record_bytes:
                raise self._fail(
                    f"one JSON record is longer than max_record_bytes "
                    f"({self._limits.record_bytes:,} bytes)",
                    n - 1,
                    "max_record_bytes",
                )
        else:
            self._span = 0

    def _note_ends(self, ends: np.ndarray) -> None:
        """Note where records ended in the block (`ends`, offsets in it), for the record of
        an escape of half a character: the one found may lie in the last block's tail."""
        kept = self._ends >= self.offset - len(self._tail)
        self._ended += int(np.count_nonzero(~kept))
        self._ends = np.concatenate((self._ends[kept], ends.astype(np.int64) + self.offset))

    def _check_depth(self, brackets: np.ndarray, depth: np.ndarray) -> None:
        """Fail at the first bracket whose nesting (`depth`, after it) passes the limit."""
        if int(depth.max()) > self._limits.json_depth:
            at = int(brackets[int(np.argmax(depth > self._limits.json_depth))])
            raise self._fail(
                f"JSON nested deeper than max_json_depth ({self._limits.json_depth})",
                at,
                "max_json_depth",
            )

    def _scan_lines(self, arr: np.ndarray) -> None:
        """`_scan` for JSON lines: a string or a nesting ends at the line's end."""
        self._arr, self._span = arr, 0
        quotes, breaks = self._unescaped_quotes(arr), np.flatnonzero(arr == 10)
        start_in, carried = self._in_string, self._depth

        def line_of(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The line (0: the one the last block ended in) and line start of each byte."""
            line = np.searchsorted(breaks, at)
            if not len(breaks):
                return line, np.zeros_like(at)
            return line, np.where(line > 0, breaks[np.maximum(line - 1, 0)] + 1, 0)

        def inside(at: np.ndarray) -> np.ndarray:
            line, begins = line_of(at)
            count = np.searchsorted(quotes, at) - np.searchsorted(quotes, begins)
            return (count + np.where(line == 0, int(start_in), 0)) % 2 == 1

        marks = (arr == OPEN[0]) | (arr == OPEN[1]) | (arr == CLOSE[0]) | (arr == CLOSE[1])
        brackets = np.flatnonzero(marks)
        brackets = brackets[~inside(brackets)] if len(brackets) else brackets
        step = np.where((arr[brackets] == OPEN[0]) | (arr[brackets] == OPEN[1]), 1, -1)
        cum = np.concatenate(([0], np.cumsum(step)))  # cum[i]: the steps before bracket i

        def depth_at(at: np.ndarray) -> np.ndarray:
            """Nesting just before each byte, counted from its line's start."""
            line, begins = line_of(at)
            now, then = cum[np.searchsorted(brackets, at)], cum[np.searchsorted(brackets, begins)]
            return now - then + np.where(line == 0, carried, 0)

        over = brackets[depth_at(brackets) + step > self._limits.json_depth]  # after each
        if len(over):  # noted, not failed: the line is quarantined alone
            line, first = np.unique(np.searchsorted(breaks, over), return_index=True)
            starts = np.concatenate(([self._line_at - self.offset], breaks + 1))[line]
            for n, at in zip(line.tolist(), (over[first] - starts + 1).tolist(), strict=True):
                self.deep.setdefault(self._lines + n + 1, at)  # the byte of its line, from 1
        end = np.array([len(arr)])
        self._depth = int(depth_at(end)[0])
        self._in_string = bool(inside(end)[0])
        lead = np.flatnonzero(arr[:-2] == 0xEF)  # a byte order mark between records
        lead = lead[(arr[lead + 1] == 0xBB) & (arr[lead + 2] == 0xBF)]
        self._boms = lead[~inside(lead) & (depth_at(lead) == 0)] if len(lead) else lead
        self._check_digits(arr, inside)

    def _top_level(
        self, arr: np.ndarray, brackets: np.ndarray, step: np.ndarray, depth: np.ndarray
    ) -> None:
        """Note the first top-level value that holds no records, which the parser would skip
        without a word: among pages (`base` 2) anything but an object with an array in it (a
        record), after an array of records (`base` 1) anything but an array. Looks at the
        brackets of depth 2 or less only: a page's start, its `items` array and its end."""
        kinds = arr[brackets]
        start = (step == 1) & (depth == 1)
        inner = (step == 1) & (depth == 2) & (kinds == OPEN[1])
        end = (step == -1) & (depth == 0)
        for i in np.flatnonzero(start | inner | end) if self.stray is None else ():
            at = int(brackets[i])
            if start[i]:
                line = self._lines + int(np.count_nonzero(arr[:at] == 10)) + 1
                self._value = [self.offset + at, line, self._base == 1 and kinds[i] == OPEN[1]]
                self._object, self._lists = kinds[i] == OPEN[0], 0
            elif inner[i]:
                self._value[2] = self._value[2] or self._object
                if self._base == 2 and self._object and self._items_key(arr, at):
                    self._lists += 1
                    if self._lists == 2 and self.doubled is None:
                        line = self._lines + int(np.count_nonzero(arr[:at] == 10)) + 1
                        self.doubled = (self.offset + at, line)
            elif not self._value[2]:
                self.stray = (self._value[0], self._value[1])
                return

    def _items_key(self, arr: np.ndarray, at: int) -> bool:
        """Whether the array opening at `at` is the value of an `"items"` key (the key within
        the 64 bytes before it, the last block's tail included)."""
        before = bytes(arr[max(at - 64, 0) : at])
        if at < 64:
            before = self._tail + before
        before = before.rstrip(b" \t\r\n")
        return before.endswith(b":") and before[:-1].rstrip(b" \t\r\n").endswith(b'"items"')

    def _top_level_boms(
        self, arr: np.ndarray, quotes: np.ndarray, start_in: bool, brackets: np.ndarray
    ) -> np.ndarray:
        """Where the block holds a UTF-8 byte order mark between top-level values: pages
        saved one by one with a BOM each (PowerShell 5.1's `-Encoding UTF8`) and joined with
        `cat` or `type` hold one before every page but the first, which the reader drops;
        the parser failed the file there, 'damaged or incomplete'. One inside a string is
        text, one inside a value no JSON (left to fail). A mark cut by a block's end is
        whole in the next block (`_fill`)."""
        lead = np.flatnonzero(arr[:-2] == 0xEF)
        if not len(lead):
            return lead
        lead = lead[(arr[lead + 1] == 0xBB) & (arr[lead + 2] == 0xBF)]
        lead = lead[(np.searchsorted(quotes, lead) + start_in) % 2 == 0]
        if not len(lead) or not len(brackets):
            return lead if self._depth == 0 else lead[:0]
        kinds = arr[brackets]
        step = np.where((kinds == OPEN[0]) | (kinds == OPEN[1]), 1, -1)
        depth = (
            self._depth + np.concatenate(([0], np.cumsum(step)))[np.searchsorted(brackets, lead)]
        )
        return lead[depth == 0]

    def _unescaped_quotes(self, arr: np.ndarray) -> np.ndarray:
        quotes = np.flatnonzero(arr == QUOTE)
        backslash = arr == BACKSLASH
        carry = self._backslashes
        if backslash.any():
            plain = np.flatnonzero(~backslash)  # every quote is in here
            k = np.searchsorted(plain, quotes) - 1
            prev = np.where(k >= 0, plain[np.maximum(k, 0)], -1)
            run = quotes - prev - 1 + np.where(prev < 0, carry, 0)
            quotes = quotes[run % 2 == 0]
            tail = len(arr) - 1 - (int(plain[-1]) if len(plain) else -1)
            self._backslashes = tail + (carry if tail == len(arr) else 0)
        else:
            if carry % 2 and len(quotes) and quotes[0] == 0:
                quotes = quotes[1:]
            self._backslashes = 0
        return quotes

    def _check_digits(self, arr: np.ndarray, inside: Callable[[np.ndarray], np.ndarray]) -> None:
        digit = ((arr >= 48) & (arr <= 57)).view(np.int8)
        edges = np.diff(digit, prepend=np.int8(0), append=np.int8(0))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - starts
        if len(lengths) and starts[0] == 0:
            lengths[0] += self._digits
        limit = self._limits.json_number_digits
        long_runs = np.flatnonzero(lengths > limit)
        if len(long_runs):
            at = starts[long_runs]
            outside = ~inside(at)
            if outside.any():
                raise self._fail(
                    f"a JSON number of more than max_json_number_digits ({limit}) digits",
                    int(at[outside][0]),
                    "max_json_number_digits",
                )
        ends_in_digit = len(ends) and ends[-1] == len(arr)
        self._digits = int(lengths[-1]) if ends_in_digit and not self._in_string else 0

    def _fail(self, what: str, at: int, setting: str) -> BadInput:
        line = self._lines + int(np.count_nonzero(self._arr[:at] == 10)) + 1
        return BadInput(
            f"{what}, at byte {self.offset + at:,}",
            line=line,
            hint=f"check the file is an export of the Webex APIs; raise {setting} in "
            "cdr.toml if this is genuine",
        )
