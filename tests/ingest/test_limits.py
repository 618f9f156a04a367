"""The records a hostile file holds are all accounted for, rejects keep their whole raw text,
and every input limit is a setting: crossing it fails the file with exit 3 and names the
setting; raising it lets a genuine file through."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import ConfigError
from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, USER, csv_bytes, line, records, rows


def test_a_stray_quote_costs_one_record_not_the_rest_of_the_file(wh: Path, tmp_path: Path) -> None:
    # the issue's case: 1,970 rows, a caller named O"Brien written unquoted on row 101
    body = [line(r) for r in rows(1970, 41)]
    bad = rows(1970, 41)[100]
    bad[USER] = "Ann O'Brien"
    body[100] = line(bad).replace(b"O'Brien", b'O"Brien')
    src = tmp_path / "stray.csv"
    src.write_bytes(csv_bytes(body))
    result = load(wh, src)  # default 1 % gate: one reject in 1,970 passes
    f = result.files[0]
    assert result.exit_code == 0 and f.status == "loaded"
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (1970, 1969, 1)
    rj = rejects(wh)
    assert rj["reason"].to_list() == ["stray_quote"] and rj["source_row"].to_list() == [102]
    assert rj["raw_text"][0].encode() + b"\r\n" == body[100]


def test_a_long_reject_keeps_its_whole_raw_text(wh: Path, tmp_path: Path) -> None:
    body = [line(r) for r in rows(5, 42)]
    body[2] = body[2].rstrip(b"\r\n") + b"," + b"x" * 300_000 + b"\r\n"  # ragged and long
    src = tmp_path / "long_reject.csv"
    src.write_bytes(csv_bytes(body))
    result = load(wh, src, max_reject_rate=1.0)
    assert (result.files[0].rows_read, result.files[0].rows_rejected) == (5, 1)
    raw = rejects(wh)["raw_text"][0]
    assert len(raw) > 300_000 and raw.encode() + b"\r\n" == body[2]


def test_a_json_lines_file_broken_mid_way_keeps_every_other_line(wh: Path, tmp_path: Path) -> None:
    recs = [json.dumps(r) for r in records(8, 43)]
    recs[4] = recs[4][:50]  # cut mid-record
    src = tmp_path / "broken.jsonl"
    src.write_text("\n".join(recs) + "\n")
    f = load(wh, src, max_reject_rate=1.0).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (8, 7, 1)
    rj = rejects(wh)
    assert rj["reason"].to_list() == ["invalid_json"] and rj["source_row"].to_list() == [5]
    assert rj["raw_text"][0] == recs[4]


def test_unpacked_size_limit_is_a_setting(wh: Path, tmp_path: Path) -> None:
    src = tmp_path / "export.csv.gz"
    src.write_bytes(gzip.compress(csv_bytes([line(r) for r in rows(4000, 44)])))
    failed = load(wh, src, max_unpacked_bytes=1024 * 1024)
    assert failed.exit_code == 3
    assert "max_unpacked_bytes" in failed.files[0].message and table(wh).is_empty()
    assert load(wh, src).files[0].rows_loaded == 4000


def test_json_depth_limit_is_a_setting(wh: Path, tmp_path: Path) -> None:
    recs = records(3, 45)
    nested: object = "leaf"
    for _ in range(80):
        nested = [nested]
    recs[1]["Nested"] = nested
    src = tmp_path / "nested.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    failed = load(wh, src)
    assert failed.exit_code == 3 and "max_json_depth (64)" in failed.files[0].message
    assert table(wh).is_empty()
    ok = load(wh, src, max_json_depth=100).files[0]
    assert (ok.status, ok.rows_read, ok.rows_loaded) == ("loaded", 3, 3)


def test_column_and_header_limits_are_settings(wh: Path, tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_bytes(csv_bytes([line(r) for r in rows(3, 46)]))
    narrow = load(wh, src, max_columns=10)
    assert narrow.exit_code == 3 and "max_columns (10)" in narrow.files[0].message
    short = load(wh, src, max_header_bytes=4096, max_columns=len(HEADER))
    assert short.files[0].rows_loaded == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CDR_MAX_JSON_DEPTH": "5000"}, "max_json_depth.*must be between 4 and 1,000"),
        ({"CDR_MAX_RECORD_BYTES": "10"}, "max_record_bytes.*between 4,096 and 1,073,741,824"),
        ({"CDR_MAX_UNPACKED_RATIO": "x"}, "bad value for 'max_unpacked_ratio'"),
        ({"CDR_FILE_MODE": "0666"}, "file_mode.*must give the owner"),
    ],
)
def test_limit_settings_are_range_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_limit_settings_come_from_the_environment() -> None:
    s = load_settings(env={"CDR_MAX_JSON_DEPTH": "200", "CDR_FILE_MODE": "0640"})
    assert (s.max_json_depth, s.file_mode) == (200, 0o640)
