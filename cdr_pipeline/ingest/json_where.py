"""Where in the file a JSON syntax error is: its line and column.

ijson's C parser (yajl) says what broke and shows the text around it, but not where: its
offset counts from the start of the block it was given. `Placed` is the stream as the parser
reads it, keeping the last block and the line it starts on; `place` finds yajl's context text
in that block and turns the error into a line and column of the file.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

CARET = 40
"""yajl's context line points at this column (its "(right here) ------^" line is fixed)."""


class Placed(io.RawIOBase):
    """`stream`, remembering the last block read and the line and column it starts at. The
    block stays in the reader's own buffer (ijson's bytearray, which it does not refill
    after a parse error): `block` copies it only when asked."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buffer: Any = b""
        self._n = 0
        self.block_line = 1  # the line of the file the last block starts on
        self.block_column = 0  # bytes of its first line before the block
        self._lines = 1
        self._column = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            if not isinstance(buffer, bytearray):  # searched in place below
                buffer = bytes(memoryview(buffer)[:n])
            self.block_line, self.block_column = self._lines, self._column
            self._buffer, self._n = buffer, n
            self._lines += buffer.count(b"\n", 0, n)
            last = buffer.rfind(b"\n", 0, n)
            self._column = n - last - 1 if last >= 0 else self._column + n
        return n or 0

    @property
    def block(self) -> bytes:
        return bytes(self._buffer[: self._n])

    def at(self, at: int, block: bytes) -> tuple[int, int]:
        """Line and column (from 1) of byte `at` of the last `block`."""
        before = block[:at]
        last = before.rfind(b"\n")
        line = self.block_line + before.count(b"\n")
        return line, at - last if last >= 0 else self.block_column + at + 1

    @property
    def end(self) -> tuple[int, int]:
        """Line and column just past the last byte read."""
        block = self.block
        return self.at(len(block), block)


def _rendered(block: bytes, offset: int) -> bytes:
    """yajl's context line for an error at `offset` of `block` (yajl_render_error_string)."""
    start = max(offset - 30, 0)
    spaces = 40 - offset if offset < 30 else 10
    text = block[start : min(offset + 30, len(block))]
    return b" " * spaces + text.replace(b"\n", b" ").replace(b"\r", b" ")


def place(message: object, where: Placed) -> tuple[int, int] | None:
    """(line, column), both from 1, of the byte the parser stopped near, from the context line
    of its `message`; the end of what was read when there is none (an early end of file);
    None when the context is not in the last block."""
    # yajl's message as ijson raised it: text, or bytes when the text near the fault is not
    # UTF-8
    raw = message if isinstance(message, bytes) else str(message).encode("utf-8", "replace")
    lines = raw.splitlines()
    if len(lines) == 2 and b"(right here)" in lines[1]:
        return _at_nul(lines[1], where)
    context = lines[1] if len(lines) > 2 else b""
    snippet = context.lstrip(b" ")
    if not snippet:
        return where.end
    block = where.block
    flat = block.replace(b"\n", b" ").replace(b"\r", b" ")
    indent = len(context) - len(snippet)
    found = flat.find(snippet)
    while found >= 0:
        offset = found + CARET - indent
        if 0 <= offset <= len(flat) and _rendered(block, offset) == context:
            # yajl's offset is at or just past the token that broke (past the quote of a
            # string): its last byte read, or the next token when that is white space
            at = max(offset - 1, 0)
            while at + 1 < len(flat) and flat[at] in b" \t":
                at += 1
            return where.at(at, block)
        found = flat.find(snippet, found + 1)
    return None


def _at_nul(context: bytes, where: Placed) -> tuple[int, int] | None:
    """Where a NUL byte broke the text: yajl's context line is a C string, cut at the NUL
    (its pointer line then follows on the same line), so the NUL is the first one after the
    text the context shows."""
    snippet = context.split(b"(right here)")[0].strip(b" ")
    block = where.block
    found = block.replace(b"\n", b" ").replace(b"\r", b" ").find(snippet) if snippet else -1
    nul = block.find(b"\x00", found + len(snippet)) if found >= 0 else block.find(b"\x00")
    return where.at(nul, block) if nul >= 0 else None
