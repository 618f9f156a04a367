from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import FetchOptions, Settings
from cdr_pipeline.fetch import FetchResult, RateLimiter, WebexClient, fetch_records

NOW = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
# looks like a Webex bearer token; generated, not real
TOKEN = "NzY4ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seQ_PF84_3f1c2b7e-9d4a-4c55-8e2b-1a2b3c4d5e6f"


class FakeClock:
    """Monotonic clock whose sleep only moves time forward: nothing really waits."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(
    url: str, clock: FakeClock, *, api_url: str | None = None, **kwargs: object
) -> WebexClient:
    """A client of the server at `url` (and of `api_url` for the other API host: the token
    goes to both origins, and only to them)."""
    opts: dict[str, object] = {"retries": 3, "backoff_seconds": 1.0}
    opts.update(kwargs)
    return WebexClient(
        TOKEN,
        analytics_url=url,
        api_url=api_url or url,
        limiter=RateLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        rng=random.Random(0),
        **opts,  # type: ignore[arg-type]
    )


def settings_for(tmp_path: Path, **fetch: object) -> Settings:
    return Settings(
        warehouse=tmp_path / "wh",
        fetch=FetchOptions(**{"page_size": 20, **fetch}),  # type: ignore[arg-type]
    )


def warehouse_ids(settings: Settings) -> list[str]:
    folder = settings.layout.tables / "call_legs"
    if not folder.exists():
        return []
    df = pl.read_delta(str(folder))  # the current version, not every file on disk
    return df["report_id"].to_list()


def warehouse(settings: Settings) -> pl.DataFrame:
    return pl.read_delta(str(settings.layout.tables / "call_legs"))


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("WEBEX_TOKEN", raising=False)
    yield


def fetch_window(settings: Settings, url: str, clock: FakeClock) -> FetchResult:
    """The feed's window of 21 to 12 hours ago, from the API at `url`."""
    return fetch_records(
        settings,
        "feed",
        NOW - timedelta(hours=21),
        NOW - timedelta(hours=12),
        client=make_client(url, clock),
        now=NOW,
    )
