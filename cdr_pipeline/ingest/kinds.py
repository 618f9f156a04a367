"""The kind of input a source holds, told from its header or its first records' keys."""

from __future__ import annotations

from collections import Counter

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.chunk import CSV, NO_KEYS, NOT_AN_OBJECT, RawReject
from cdr_pipeline.ingest.sources import Source
from cdr_pipeline.schema import TableSchema, detect_kind


def detect(
    headers: list[str], source: Source, line: int, quarantined: list[RawReject]
) -> TableSchema:
    """The kind the first chunk's header (a JSON file: its records' keys) tells.
    `quarantined`: the records of that chunk that never became rows. When they are all it
    holds and some are objects (each names a key twice with different values), no key is
    left to tell the kind from: the file failed saying its records were empty objects, or
    none."""
    if headers == [NO_KEYS] and any(q.detail != NOT_AN_OBJECT for q in quarantined):
        reasons = ", ".join(
            f"{r} ({n:,})" for r, n in Counter(q.reason for q in quarantined).most_common(3)
        )
        raise InputError(
            f"not a recognised export: its first {len(quarantined):,} records were quarantined "
            f"({reasons}), leaving no keys to tell the kind from: {quarantined[0].detail}",
            path=source.name,
            line=quarantined[0].source_row,
            hint="fix those records, or force the kind with --kind: each such record is then "
            "quarantined and the others load",
        )
    if headers == [NO_KEYS]:
        raise InputError(
            "not a recognised export: its first records are empty JSON objects ({}) or no "
            "objects at all (numbers, text, arrays), with no keys to tell the kind from",
            path=source.name,
            hint="check the file is an export of the Webex APIs; force a kind with --kind",
        )
    return detect_kind(headers, source.name, line, keys=source.fmt != CSV)
