"""A symbolic link to nothing in the nightly's inbox (an export moved or deleted from under
its link): the walk passed over it without a word, and once the walk listed it the
ingest stage failed as a whole, since the nightly names each file of its inbox and a link
so named stopped the run. It fails alone: the other files load and are archived, the link
stays in the inbox, and the night exits 3 naming it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from tests.ingest.helpers import fixture, table


def test_a_link_to_nothing_in_the_inbox_fails_alone(tmp_path: Path) -> None:
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    (inbox / "moved.csv").symlink_to(tmp_path / "exports" / "moved.csv")
    settings = Settings(warehouse=tmp_path / "wh")  # type: ignore[call-arg]
    night = run_nightly(settings, inbox, archive=archive, run_date=date(2026, 10, 8), fetch=False)
    assert night.exit_code == 3
    assert night.ingest is not None
    by_name = {Path(f.source).name: f for f in night.ingest.files}
    assert by_name["good.csv"].status == "loaded"
    assert by_name["moved.csv"].status == "failed"
    assert "a symbolic link that leads nowhere" in by_name["moved.csv"].message
    assert table(settings.warehouse).height == by_name["good.csv"].rows_loaded > 0
    assert (archive / "good.csv").is_file() and (inbox / "moved.csv").is_symlink()
