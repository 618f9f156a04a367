"""`cdr keys rotate`: a new pseudonym key, and the views rebuilt under it.

After a rotation every pseudonym of the analyst tier changes: exports and notebooks' results
made before no longer join to those made after (that is the point: a leaked export cannot
be linked to new data). Values already replaced in place by retention keep the
pseudonyms of the old key, in the analyst tier too (an export made before still joins to
those old legs), which no longer match the new pseudonyms of the same person's
newer rows (values `cdr forget` erased are keyed by no stored key at all). The old key is
overwritten; the ledger table `key_rotations` records the rotation by key fingerprints
(`state/secret.py`), never by the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import new_run_id
from cdr_pipeline.state.files import apply_file_mode
from cdr_pipeline.state.ledger import TS, Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.secret import current_key_id, key_id, rotate_key
from cdr_pipeline.warehouse import build_warehouse

log = logging.getLogger(__name__)

ROTATIONS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("old_key_id", pa.string()),
        ("new_key_id", pa.string()),
        ("rotated_at", TS),
    ]
)


@dataclass
class Rotation:
    run_id: str
    old_key_id: str
    new_key_id: str


def rotate_keys(settings: Settings) -> Rotation:
    """Replace the warehouse's pseudonym key and rebuild the views (and the pseudonym map).

    The old key need not be usable: rotating is how a lost, damaged or exposed key is
    replaced (`old_key_id` then says `missing` or `unreadable`)."""
    layout = settings.layout
    apply_file_mode(settings.file_mode)
    run_id = new_run_id(datetime.now(UTC))
    with writer_lock(layout, "cdr keys rotate", settings.lock_wait_seconds):
        old = current_key_id(layout)
        new = key_id(rotate_key(layout))
        Ledger(layout).write(
            "key_rotations",
            run_id,
            [
                {
                    "run_id": run_id,
                    "old_key_id": old,
                    "new_key_id": new,
                    "rotated_at": datetime.now(UTC),
                }
            ],
            ROTATIONS_SCHEMA,
        )
    log.info("pseudonym key %s replaced by %s; rebuilding the views", old, new)
    build_warehouse(settings)
    return Rotation(run_id, old, new)
