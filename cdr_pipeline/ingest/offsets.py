"""Where a stream that changes the bytes it reads (decompression, transcoding) is in the file
behind it: pairs (bytes given, file bytes taken) marked as it reads, and the file offset of
any byte given, in proportion between the two marks around it. Progress counts file bytes:
counted as given, a gzip export reached 100 % at a fraction of its rows, a UTF-16 one
stopped near 50 %."""

from __future__ import annotations

import bisect


class Marks:
    """The last `keep` (to twice as many) marks of a stream, from (0, 0).

    One thread reads the stream and adds marks while another asks for offsets (the prefetch
    thread reads ahead of the stage). A mark is appended in place (a reader's bisect sees the
    list it took, whose first items never change) and the list is cut into a new one only
    every `keep` marks: copying it at each mark cost a copy of `keep` items per read."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._marks = [(0, 0)]

    @property
    def last(self) -> tuple[int, int]:
        return self._marks[-1]

    def add(self, given: int, taken: int) -> None:
        marks = self._marks
        marks.append((given, taken))
        if len(marks) > 2 * self.keep:
            self._marks = marks[-self.keep :]

    def offset(self, given: int, now: tuple[int, int] | None = None) -> int:
        """About how many file bytes the first `given` bytes took (`now`: where the stream
        is, beyond the last mark)."""
        marks = self._marks if now is None else [*self._marks, now]
        i = bisect.bisect_left(marks, given, key=lambda m: m[0])
        if i in (0, len(marks)):
            return marks[min(i, len(marks) - 1)][1]
        (given0, taken0), (given1, taken1) = marks[i - 1], marks[i]
        return taken0 + (given - given0) * (taken1 - taken0) // max(given1 - given0, 1)
