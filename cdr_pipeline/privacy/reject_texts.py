"""Retention of the text of quarantined records (`[privacy] personal_days`).

A rejected record is kept in `rejects/<table>/<source>.parquet` with its raw line
(`raw_text`, and `raw_bytes` for a line that is not UTF-8) and the parse message (`detail`,
which quotes the value that did not parse): names, numbers and e-mails in clear, outside
the tables that retention pseudonymises. Once a record has been quarantined for longer than
`personal_days`, they become NULL; its table, file, line, reason and time stay, so the
quarantine still counts and explains itself. The pass streams each file a row group at a
time and replaces it atomically (the rejects are not a Delta table: no reader holds a
version of them).

Erasure (`cdr forget`) empties them too, whatever their age, for every reject whose raw line
or message names the person (`empty_reject_texts_naming`): the person's values are found
from the tables, so the rest of such a line (a name, a user UUID next to their number) is
theirs or another's that nothing finds, and replacing the values found would leave it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdr_pipeline.state.files import install_file, temp_name
from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)

TEXTS = ("raw_text", "detail")
"""The columns of a reject that can hold personal values, and decide which are emptied."""
EMPTIED = (*TEXTS, "raw_bytes")
"""The columns emptied: `raw_bytes` is the raw line of a record that is not UTF-8, held
beside its `raw_text` (a rejects file written before it was added has no such column)."""


@dataclass(frozen=True)
class ExpiredTexts:
    file: str
    """`<table>/<source>.parquet` under `rejects/`."""
    rows: int
    """Rejects of the file whose texts were (or, in a dry run, would be) emptied."""


def _expired(batch: pa.RecordBatch | pa.Table, before: datetime) -> pa.Array:
    """Rows rejected before `before` that still hold a text."""
    held = pc.or_(pc.is_valid(batch["raw_text"]), pc.is_valid(batch["detail"]))
    return pc.fill_null(pc.and_(pc.less(batch["rejected_at"], before), held), False)


Select = Callable[[pa.RecordBatch | pa.Table], pa.Array]
"""The rows of a batch of rejects whose texts are to be emptied."""


def _naming(pattern: str) -> Select:
    """Rows whose raw line or message matches `pattern` (RE2, as `spellings.text_pattern`)."""

    def select(batch: pa.RecordBatch | pa.Table) -> pa.Array:
        held = [pc.match_substring_regex(batch[name], pattern) for name in TEXTS]
        return pc.fill_null(pc.or_(*held), False)

    return select


def _count(path: Path, select: Select) -> int:
    """Rejects of `path` to empty; reads the three columns that decide it, a row group at a
    time."""
    pf = pq.ParquetFile(path)
    total = 0
    for batch in pf.iter_batches(columns=["rejected_at", *TEXTS]):
        total += int(pc.sum(select(batch)).as_py() or 0)
    return total


def _rewrite(path: Path, select: Select) -> None:
    pf = pq.ParquetFile(path)
    tmp = temp_name(path)
    try:
        with pq.ParquetWriter(tmp, pf.schema_arrow, compression="zstd") as writer:
            for i in range(pf.num_row_groups):
                group = pf.read_row_group(i)
                old = select(group)
                for name in (n for n in EMPTIED if n in group.column_names):
                    column = group[name]
                    empty = pa.nulls(len(group), column.type)
                    at = group.schema.get_field_index(name)
                    group = group.set_column(at, name, pc.if_else(old, empty, column))
                writer.write_table(group)
        install_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def expire_reject_texts(
    layout: Layout, before: datetime, dry_run: bool = False
) -> list[ExpiredTexts]:
    """Empty `raw_text` and `detail` of every reject quarantined before `before`, in every
    rejects file (of every table: device and directory rejects hold names too); returns the
    files changed. A file that cannot be read is named in the log and left as it is; one
    that cannot be written fails the pass."""
    return _empty(layout, lambda batch: _expired(batch, before), "personal retention", dry_run)


def empty_reject_texts_naming(
    layout: Layout, pattern: str | None, dry_run: bool = False
) -> list[ExpiredTexts]:
    """Empty `raw_text` and `detail` of every reject whose raw line or message matches
    `pattern` (one person's values, `spellings.text_pattern`), in every rejects file; returns
    the files changed."""
    if pattern is None:
        return []
    return _empty(layout, _naming(pattern), "forget", dry_run)


def _empty(layout: Layout, select: Select, what: str, dry_run: bool) -> list[ExpiredTexts]:
    out: list[ExpiredTexts] = []
    for path in sorted(layout.rejects.glob("*/*.parquet")):
        name = f"{path.parent.name}/{path.name}"
        try:
            rows = _count(path, select)
        except (OSError, pa.ArrowException, KeyError) as exc:
            log.warning("%s: rejects file %s left as it is: %s", what, name, exc)
            continue
        if not rows:
            continue
        if not dry_run:
            _rewrite(path, select)  # a write that fails (disk full) fails the pass
        out.append(ExpiredTexts(name, rows))
    return out
