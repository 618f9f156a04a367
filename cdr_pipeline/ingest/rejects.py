"""Quarantine: the rejects table, its streaming writer, and redaction of secrets.

Rejected rows are written per source while it is read, then published under
`<warehouse>/rejects/<table>/` under a name derived from the source (not the run), so a reload
after a crash replaces them instead of doubling them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.ingest.chunk import CSV
from cdr_pipeline.render import visible_text
from cdr_pipeline.schema import HeaderResolution, TableSchema

REJECT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("table_name", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_text", pa.string()),
        ("rejected_at", pa.timestamp("ms", tz="UTC")),
        ("raw_bytes", pa.binary()),
    ]
)
"""`raw_bytes` is the record's bytes exactly as in the file, where `raw_text` cannot hold
them: a record that is not UTF-8 (`invalid_utf8`, or any reject of such a line). `raw_text`
then shows each byte that is not UTF-8 as U+FFFD; NULL for every other record (its
`raw_text` is its bytes). Added after the first releases: a rejects file written before
has no such column (read them with `union_by_name`)."""


def split_raw(raw: str) -> tuple[str, bytes | None]:
    """`raw_text` and `raw_bytes` of a record's text from `chunk.raw_str`: bytes that are not
    UTF-8 come as lone surrogates (U+DC80-U+DCFF), which no Parquet text can hold."""
    if raw.isascii():
        return raw, None
    try:
        raw.encode("utf-8")
        return raw, None
    except UnicodeEncodeError:
        pass
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # half a character of some other origin: shown, not kept
        return raw.encode("utf-8", "backslashreplace").decode("utf-8"), None
    return data.decode("utf-8", "replace"), data


_SECRETS: dict[str, frozenset[str]] = {}


def _secret_columns(schema: TableSchema) -> frozenset[str]:
    """Once per table: a file of many bad records quarantines each, and building the set
    per record took two thirds of the time (a cache keyed by the schema itself hashes
    every column of it per call)."""
    found = _SECRETS.get(schema.name)
    if found is None:
        found = _SECRETS[schema.name] = frozenset(
            c.name for c in schema.input_columns if c.sensitive
        )
    return found


def redact_raw_text(
    text: str, schema: TableSchema, res: HeaderResolution, fmt: str, delimiter: str = ","
) -> str:
    """Raw text of a quarantined record without the values of `sensitive` columns (an
    activation code is never stored, not even in rejects/). A record that cannot be split
    into the file's fields is withheld entirely, since the secret's position is unknown."""
    secret = _secret_columns(schema)
    if not secret:
        return text
    if fmt == CSV:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            rows = []
        if len(rows) == 1 and len(rows[0]) == len(res.canonical):
            fields = [
                "[redacted]" if res.canonical[i] in secret and v else v
                for i, v in enumerate(rows[0])
            ]
            buf = io.StringIO()
            csv.writer(buf, lineterminator="", delimiter=delimiter).writerow(fields)
            return buf.getvalue()
    else:
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict):
            lookup = schema.header_lookup()
            kept = {k: v for k, v in record.items() if lookup(k) not in secret}
            out = json.dumps(kept, ensure_ascii=False, default=str)
            # bytes of the line that are not UTF-8 (`raw_str`) stay bytes (`raw_bytes`)
            errors = "surrogateescape" if split_raw(text)[1] is not None else "strict"
            try:
                out.encode("utf-8", errors)
            except UnicodeEncodeError:  # a lone `\ud800` escape (invalid_utf8) stays one
                out = json.dumps(kept, default=str)
            return out
    return f"[raw text withheld: it may hold {', '.join(sorted(secret))}, which is never stored]"


FLUSH_ROWS = 10_000
FLUSH_BYTES = 32 * 1024 * 1024
"""Rows are written every 10,000 rows or 32 MB of raw text, whichever comes first: raw text is
kept whole, and a quarantined record may be as long as `max_record_bytes`."""


class RejectWriter:
    """Streams one source's rejected rows to a Parquet file (zstd-compressed)."""

    def __init__(self, path: Path, run_id: str, table: str, source: str) -> None:
        self.path, self.run_id, self.table, self.source = path, run_id, table, source
        self.buffer: list[dict[str, object]] = []
        self.writer: pq.ParquetWriter | None = None
        self.now = datetime.now(UTC)
        self.reasons: Counter[str] = Counter()
        """Rows added, by reason."""
        self.buffered_bytes = 0

    def add(self, row: int, reason: str, detail: str, raw: str) -> None:
        # a missing value is counted per column ("missing_required: Duration"): the column is
        # what the person fixing the export needs, and the detail starts with its name
        column = detail.split(":", 1)[0] if reason == "missing_required" and ":" in detail else ""
        self.reasons[f"{reason}: {column}" if column else reason] += 1
        text, data = split_raw(raw)
        detail = visible_text(detail)  # the raw text stays exactly as read
        self.buffer.append(
            {
                "run_id": self.run_id,
                "table_name": self.table,
                "source_file": self.source,
                "source_row": row,
                "reason": reason,
                "detail": detail,
                "raw_text": text,
                "rejected_at": self.now,
                "raw_bytes": data,
            }
        )
        self.buffered_bytes += len(text) + len(data or b"")  # a line not UTF-8: twice
        if len(self.buffer) >= FLUSH_ROWS or self.buffered_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, REJECT_SCHEMA, compression="zstd")
        self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=REJECT_SCHEMA))
        self.buffer, self.buffered_bytes = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def first_example(path: Path, reason: str, groups: int = 4) -> str:
    """`line N: detail` of the first row quarantined for `reason` (a counted key such as
    `missing_required: Duration` names its reason first) in the rejects file `path`, for a
    message that shows what went wrong without opening it; '' when its first `groups` row
    groups hold none. Reads only those groups' line, reason and detail columns."""
    wanted = reason.split(":", 1)[0]
    try:
        rejects = pq.ParquetFile(path)
    except OSError:
        return ""
    for g in range(min(groups, rejects.num_row_groups)):
        table = rejects.read_row_group(g, columns=["source_row", "reason", "detail"])
        for row, why, detail in zip(*(table.column(i).to_pylist() for i in range(3)), strict=True):
            if why == wanted:
                return f"line {row}: {detail}"
    return ""
