"""JSON records that are empty objects (`{}`) have no keys: the messages about them say so,
and never name the reader's internal placeholder column as if the file had it."""

from __future__ import annotations

import json
from pathlib import Path

from cdr_pipeline.ingest import ingest_paths
from tests.ingest.helpers import settings
from tests.ingest.hostile_corpus import records


def test_a_file_of_empty_objects_says_its_records_have_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"[" + b",".join([b"{}"] * 50) + b"]")
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path]).files
    assert f.exit_code == 3
    assert "empty JSON objects" in f.message, f.message
    assert "__" not in f.message


def test_empty_objects_after_good_records_are_no_new_column(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = b"".join(json.dumps(r).encode() + b"\n" for r in records(3, 91))
    path.write_bytes(good + b"{}\n" * 5)
    (f,) = ingest_paths(settings(tmp_path / "wh", chunk_rows=3), [path]).files
    assert f.rows_read == 8 and f.rows_rejected == 5
    assert f.unknown_columns == [], f.unknown_columns
