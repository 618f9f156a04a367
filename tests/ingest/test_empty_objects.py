"""JSON records with no keys (`{}`), or each with a key of its own: the messages about them
say so, never name the reader's internal placeholder column as if the file had it, and
stay a line long."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdr_pipeline.ingest import ingest_paths
from tests.ingest.helpers import rejects, run_cdr, settings
from tests.ingest.hostile_corpus import records


def test_a_file_of_empty_objects_says_its_records_have_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"[" + b",".join([b"{}"] * 50) + b"]")
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path]).files
    assert f.exit_code == 3
    assert "empty JSON objects" in f.message, f.message
    assert "__" not in f.message


def test_empty_objects_of_a_forced_kind_are_each_quarantined(tmp_path: Path) -> None:
    """docs/limits.md: a file whose first records are all `{}` fails unless `--kind` names
    it. With the kind named it failed as well, `its records' keys (__empty__) name no calls
    column`: the reader's placeholder, and not one record accounted for."""
    path = tmp_path / "empty.jsonl"
    good = b"".join(json.dumps(r).encode() + b"\n" for r in records(3, 93))
    path.write_bytes(b"{}\n" + good)
    limits = settings(tmp_path / "wh", chunk_rows=1, max_reject_rate=0.5)
    (f,) = ingest_paths(limits, [path], kind="calls").files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 4, 3, 1)
    assert rejects(tmp_path / "wh")["reason"].to_list() == ["missing_required"]


def test_records_all_quarantined_before_the_kind_is_told_are_named(tmp_path: Path) -> None:
    """Records that each name a key twice with different values (`duplicate_key`) leave the
    first chunk no keys: the file failed saying its records were empty objects or none. It
    names the reason and the line; with the kind forced each such record is quarantined."""
    path = tmp_path / "twice.jsonl"
    lines = [json.dumps(r)[:-1] + ', "K": "1", "K": "2"}' for r in records(5, 94)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path]).files
    assert (f.status, f.exit_code, f.rows_read) == ("failed", 3, 0)
    assert "line 1: not a recognised export: its first 5 records were quarantined" in f.message
    assert "(duplicate_key (5))" in f.message and "empty JSON objects" not in f.message
    assert "--kind" in f.message
    (g,) = ingest_paths(settings(tmp_path / "wh"), [path], kind="calls").files
    assert (g.status, g.exit_code, g.rows_read, g.rows_rejected) == ("failed", 3, 5, 5)
    assert rejects(tmp_path / "wh")["reason"].unique().to_list() == ["duplicate_key"]


@pytest.mark.parametrize("text", [b"[1, 2]", b'["a", "b"]', b"[[1], [2]]", b'{"items": [1]}'])
def test_records_that_are_no_objects_are_not_called_empty_objects(
    tmp_path: Path, text: bytes
) -> None:
    """An array of numbers, text or arrays failed as 'its first records are empty JSON
    objects ({})': they are not objects at all."""
    path = tmp_path / "values.json"
    path.write_bytes(text)
    (f,) = ingest_paths(settings(tmp_path / "wh"), [path]).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "no objects at all (numbers, text, arrays)" in f.message, f.message


def test_empty_objects_after_good_records_are_no_new_column(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = b"".join(json.dumps(r).encode() + b"\n" for r in records(3, 91))
    path.write_bytes(good + b"{}\n" * 5)
    (f,) = ingest_paths(settings(tmp_path / "wh", chunk_rows=3), [path]).files
    assert f.rows_read == 8 and f.rows_rejected == 5
    assert f.unknown_columns == [], f.unknown_columns


def test_the_new_columns_note_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    """Records each with a key of its own (2,000 chunks of 1,900 such keys named 190,000
    columns: a note of 3.9 MB on stderr). The ledger keeps them all."""
    path = tmp_path / "keys.jsonl"
    recs = records(300, 92)
    for i, r in enumerate(recs):
        r[f"custom_{i}"] = "v"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in recs))
    run = run_cdr("--warehouse", str(tmp_path / "wh"), "ingest", str(path))
    assert run.returncode == 0, run.stderr
    (note,) = [x for x in run.stderr.splitlines() if "new columns kept in 'extra'" in x]
    assert "custom_0, custom_1," in note and "custom_299" not in note
    assert "and 280 more" in note and len(note) < 600, note


def test_a_missing_value_is_named_alike_in_every_chunk(tmp_path: Path) -> None:
    """A chunk of records that all lack a required key named it by its canonical column
    (`correlation_id: required value is missing`), one that holds the key somewhere by the
    file's spelling (`Correlation ID: ...`): one file's rejects split into two reasons."""
    path = tmp_path / "mixed.jsonl"
    good = b"".join(json.dumps(r).encode() + b"\n" for r in records(1, 93))
    path.write_bytes(good + b"{}\n" * 3)
    (f,) = ingest_paths(settings(tmp_path / "wh", chunk_rows=2, max_reject_rate=1.0), [path]).files
    assert f.rows_rejected == 3
    assert f.top_reasons == [("missing_required: Correlation ID", 3)], f.top_reasons
    details = set(rejects(tmp_path / "wh")["detail"])
    assert details == {"Correlation ID: required value is missing"}, details
