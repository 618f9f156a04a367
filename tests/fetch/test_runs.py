"""What `cdr runs` shows of a `cdr fetch` that could not load anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.fetch.conftest import TOKEN
from tests.fetch.fakewebex import FakeWebex


@pytest.mark.parametrize("token", ["expired-" + TOKEN[8:], None], ids=["expired", "missing"])
def test_a_fetch_refused_its_token_is_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    """The night the token expired (HTTP 401 from the first request), or cron lost
    WEBEX_TOKEN, shows in `cdr runs` as a failed fetch (exit 3) with the reason, as an
    unreachable API does; it left no row, so it read as a night no fetch ran."""
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    wh = tmp_path / "wh"
    env = {"WEBEX_TOKEN": token} if token else {}
    with FakeWebex(TOKEN) as server:
        run = CliRunner().invoke(
            cli, ["--warehouse", str(wh), "fetch", "--base-url", server.url], env=env
        )
    assert run.exit_code == 3, run.output
    runs = CliRunner().invoke(cli, ["--warehouse", str(wh), "runs", "--json"])
    assert [r["exit_code"] for r in json.loads(runs.output)] == [3]
    (row,) = Ledger(Layout(wh)).runs().to_dicts()
    assert (row["command"], row["status"], row["exit_code"]) == ("cdr fetch", "failed", 3)
    assert ("HTTP 401" if token else "token") in row["message"]
    assert row["rows_loaded"] == 0
    assert TOKEN[8:] not in runs.output + run.output + row["message"]
