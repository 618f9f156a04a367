"""`cdr forget --dry-run` and `cdr keys rotate` from the command line: exit codes, counts,
and the key in no output, log line or ledger record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.state import tables
from cdr_pipeline.warehouse import build_warehouse
from tests.batch.helpers import cdr_here
from tests.ingest.helpers import run_cdr
from tests.privacy.helpers import scan_files


def _a_pseudonym(settings: Settings) -> str:
    from cdr_pipeline.warehouse import connect

    con = connect(settings, tier="analyst")
    try:
        return str(
            con.execute(
                "select user_uuid from fct_call_legs where user_uuid is not null "
                "order by report_id limit 1"
            ).fetchall()[0][0]
        )
    finally:
        con.close()


def test_keys_rotate_changes_pseudonyms_and_never_shows_the_key(
    sample_wh: Settings, tmp_path: Path
) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)  # its views list this folder's files
    key_file = settings.layout.pseudonym_key
    old_key = key_file.read_text().strip()
    before = _a_pseudonym(settings)
    wh = str(settings.warehouse)
    done = run_cdr("--warehouse", wh, "-v", "--log-json", "keys", "rotate", "--json")
    assert done.returncode == 0, done.stderr
    new_key = key_file.read_text().strip()
    assert new_key != old_key and key_file.stat().st_mode & 0o777 == 0o600
    rotation = json.loads(done.stdout)
    assert rotation["old_key_id"] != rotation["new_key_id"]
    assert _a_pseudonym(settings) != before
    for text in (done.stdout, done.stderr):
        assert old_key not in text and new_key not in text
    found = scan_files(settings.warehouse, {old_key, new_key})
    assert found == {"state/privacy/key": {new_key}}


def test_forget_dry_run_from_the_command_line(sample_wh: Settings, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)  # forget reads the tables, no view
    wh = str(settings.warehouse)
    out = cdr_here("--warehouse", wh, "forget", "--number", "+13125550115", "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["dry_run"] and result["rows"] > 0 and result["data_files"] > 0
    assert "+13125550115" not in out.stdout  # counts, never the values
    # a number written with dots finds the same person, as --help says
    dotted = cdr_here(
        "--warehouse", wh, "forget", "--number", "+1.312.555.0115", "--dry-run", "--json"
    )
    assert dotted.exit_code == 0 and json.loads(dotted.stdout)["rows"] == result["rows"]
    assert "brackets, dots, dashes" in " ".join(cdr_here("forget", "--help").stdout.split())
    # naming no one or two people is a usage error (exit 2, as click gives a missing
    # option), not bad input: nothing was looked up
    both = cdr_here("--warehouse", wh, "forget", "--number", "+1", "--email", "a@b", "--dry-run")
    assert both.exit_code == 2 and "exactly one" in both.stderr
    nobody = cdr_here("--warehouse", wh, "forget", "--dry-run")
    assert nobody.exit_code == 2 and "exactly one" in nobody.stderr
    missing = cdr_here("--warehouse", str(tmp_path / "nowhere"), "forget", "--user", "u")
    assert missing.exit_code == 3


def test_a_lost_key_is_an_error_and_keys_rotate_replaces_it(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """A build must not quietly make a new key for a warehouse that had one (every
    pseudonym would change unannounced); `cdr keys rotate`, the way out the message names,
    must work on a missing, damaged or exposed key instead of failing on it."""
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)  # its views list this folder's files
    wh = str(settings.warehouse)
    key_file = settings.layout.pseudonym_key
    key_file.unlink()
    lost = cdr_here("--warehouse", wh, "build")
    assert lost.exit_code == 3, lost.stderr
    assert "pseudonym key" in lost.stderr and "missing" in lost.stderr
    assert "cdr keys rotate" in lost.stderr
    assert not key_file.exists()
    rotated = cdr_here("--warehouse", wh, "keys", "rotate", "--json")
    assert rotated.exit_code == 0, rotated.stderr
    assert json.loads(rotated.stdout)["old_key_id"] == "missing"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.write_text("not a key\n")
    damaged = cdr_here("--warehouse", wh, "build")
    assert damaged.exit_code == 3 and "not a pseudonym key" in damaged.stderr
    again = cdr_here("--warehouse", wh, "keys", "rotate", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["old_key_id"] == "unreadable"
    key_file.chmod(0o644)
    exposed = cdr_here("--warehouse", wh, "keys", "rotate")
    assert exposed.exit_code == 0, exposed.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert cdr_here("--warehouse", wh, "build").exit_code == 0


def test_a_new_warehouse_still_gets_its_key(tmp_path: Path) -> None:
    from cdr_pipeline.state.secret import load_key

    settings = Settings(warehouse=tmp_path / "wh")
    assert len(load_key(settings.layout)) == 32
    assert settings.layout.pseudonym_key.stat().st_mode & 0o777 == 0o600


def test_forget_says_what_the_grace_period_keeps(sample_wh: Settings, tmp_path: Path) -> None:
    """Within `vacuum_grace_hours` the replaced data files (and older pseudonym maps) still
    hold the person for readers of older versions: an erasure must say so, and how to
    finish it, not end as if nothing of the person were left. Once vacuumed, `--as-of` a
    version from before says it can no longer be read. The erasure runs as a process of
    its own (what it writes to stderr); the vacuum, reports and rerun need none, and the
    erasure builds the views the reports read (no build of the copy before it)."""
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)  # forget reads the tables
    wh = str(settings.warehouse)
    before = str(tables.version_at(settings.layout.table("call_legs")))
    done = run_cdr("--warehouse", wh, "forget", "--number", "+13125550115")
    assert done.returncode == 0, done.stderr
    assert "+13125550115" not in done.stdout + done.stderr
    assert "still hold the person's values" in done.stderr
    assert "--as-of" in done.stderr and "cdr vacuum --grace-hours 0" in done.stderr
    assert "stay erased if delivered again" in done.stderr and "new record" in done.stderr
    assert cdr_here("--warehouse", wh, "vacuum", "--grace-hours", "0").exit_code == 0
    # the version before the erasure is gone, and says so: not a bug report (exit 1)
    old = cdr_here("--warehouse", wh, "report", "anomalies", "--as-of", before)
    assert old.exit_code == 3, old.stderr
    assert "can no longer be read" in old.stderr and "cdr vacuum" in old.stderr
    now = str(tables.version_at(settings.layout.table("call_legs")))
    assert cdr_here("--warehouse", wh, "report", "anomalies", "--as-of", now).exit_code == 0
    again = cdr_here("--warehouse", wh, "forget", "--number", "+13125550115")
    assert again.exit_code == 3 and "nothing was erased" in again.stderr
