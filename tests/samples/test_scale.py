"""The bulk set of `cdr samples` (scale tests): deterministic, realistic against the small
generator of the same world, consistent with its device files, with progress."""

from __future__ import annotations

import csv
import hashlib
import os
import pty
import re
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.samples import GenerationProgress, ScaleResult, bulk, generate_scale_samples
from cdr_pipeline.samples.lifecycle import build_devices
from cdr_pipeline.samples.sessions import generate_legs
from cdr_pipeline.samples.world import build_world
from cdr_pipeline.samples.writer import CONTROLHUB_HEADERS

ROOT = Path(__file__).resolve().parents[2]
LEGS = 200_000
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScaleResult, pl.DataFrame]:
    out = tmp_path_factory.mktemp("scale") / "set"
    res = generate_scale_samples(out, legs=LEGS, seed=7, start=date(2026, 9, 1), days=61)
    legs = pl.concat(
        [
            pl.read_csv(f, infer_schema=False)
            .fill_null("")
            .with_columns(pl.lit(f.name).alias("_file"))
            for f in res.files
            if f.name.startswith("calling_detailed_call_history_")
        ]
    )
    return res, legs


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # small batches, so that several are rendered on the two threads and written in order
    monkeypatch.setattr(bulk, "BATCH_LEGS", 700)
    runner = CliRunner()
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        args = ["-q", "samples", "--rows", "6000", "--bulk", "--seed", str(seed)]
        result = runner.invoke(cli, [*args, "--days", "40", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert ".labels.json" in a and len(a) == 7  # two monthly exports, four device files
    assert a == b
    assert a != c


def test_header_and_formats_are_control_hub(scale: tuple[ScaleResult, pl.DataFrame]) -> None:
    res, legs = scale
    with zipfile.ZipFile(next((ROOT / "data" / "samples").glob("calling_detailed_*"))) as zf:
        bundled = zf.read(zf.namelist()[0]).decode("utf-8-sig").splitlines()[0]
    for f in res.files:
        if f.name.startswith("calling_detailed_call_history_"):
            with f.open("rb") as fh:
                first = fh.readline()
            assert first.startswith(b"\xef\xbb\xbf") and first.endswith(b"\r\n")
            assert first.decode("utf-8-sig").rstrip("\r\n") == bundled
            assert bundled.split(",") == list(CONTROLHUB_HEADERS)
    assert legs.height == res.legs == LEGS
    assert legs["Report ID"].n_unique() == LEGS
    assert set(legs["Answered"].unique()) == {"TRUE", "FALSE"}
    unanswered = legs.filter(pl.col("Answered") == "FALSE")
    assert set(unanswered["Answer time"].unique()) == {"NA"}
    for column in ("Start time", "Report time"):
        assert legs[column].str.contains(ISO.pattern).all()
    enterprise = legs.filter(pl.col("Call type") == "SIP_ENTERPRISE")
    by_local = dict(zip(legs["Local call ID"], legs["Correlation ID"], strict=True))
    for remote, corr in enterprise.select("Remote call ID", "Correlation ID").head(5000).rows():
        assert by_local[remote] == corr, "an internal leg's peer is in the same call"


def test_legs_per_call_and_webex_go_share_match_the_small_generator(
    scale: tuple[ScaleResult, pl.DataFrame],
) -> None:
    res, legs = scale
    world = build_world(7)
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    devices = build_devices(world, t0, t0 + timedelta(days=61))
    small, _ = generate_legs(world, devices, legs=8000, seed=7, start=date(2026, 9, 1), days=61)
    small_sizes = Counter(Counter(leg["correlation_id"] for leg in small).values())
    big_sizes = Counter(Counter(legs["Correlation ID"].to_list()).values())
    n_small, n_big = sum(small_sizes.values()), sum(big_sizes.values())
    assert set(big_sizes) == set(small_sizes)
    for size in small_sizes:
        assert abs(big_sizes[size] / n_big - small_sizes[size] / n_small) < 0.03, size
    go = legs["Sub client type"].str.to_uppercase() == "MOBILE_NETWORK"
    small_share = sum(
        str(leg.get("sub_client_type") or "").upper() == "MOBILE_NETWORK" for leg in small
    ) / len(small)
    assert 0.03 < go.mean() < 0.15  # type: ignore[operator]
    assert abs(go.mean() - small_share) < 0.02  # type: ignore[operator]
    assert res.webex_go_legs == go.sum()


def test_every_webex_go_leg_has_an_active_device(scale: tuple[ScaleResult, pl.DataFrame]) -> None:
    res, legs = scale
    out = res.files[0].parent
    with (out / "activation_events.csv").open(encoding="utf-8", newline="") as fh:
        events = list(csv.DictReader(fh))
    activated: dict[str, str] = {}
    deleted: dict[str, str] = {}
    for e in events:
        if e["event_type"] == "ACTIVATED":
            activated[e["user_uuid"]] = min(activated.get(e["user_uuid"], "9"), e["event_time"])
        elif e["event_type"] == "DELETED":
            deleted[e["user_uuid"]] = e["event_time"]
    go = legs.filter(pl.col("Sub client type").str.to_uppercase() == "MOBILE_NETWORK")
    assert go.height > 1000
    for user, start in go.select("User UUID", "Start time").rows():
        assert user in activated, "a Webex Go leg's user has a device"
        assert activated[user] <= start < deleted.get(user, "9"), (user, start)
    assert res.devices == len({e["device_id"] for e in events}) - 1  # one unknown device


def test_days_interleave_inside_each_monthly_export(
    scale: tuple[ScaleResult, pl.DataFrame],
) -> None:
    _, legs = scale
    names = sorted(legs["_file"].unique())
    assert names == [
        "calling_detailed_call_history_2026-09-01_2026-10-01.csv",  # end exclusive
        "calling_detailed_call_history_2026-10-01_2026-11-01.csv",
    ]
    for name in names:
        days = legs.filter(pl.col("_file") == name)["Start time"].str.slice(0, 10)
        assert days.n_unique() >= 28
        changed = int((days != days.shift(1)).sum())
        went_back = int((days < days.shift(1)).sum())
        # calls of random days follow each other: about half the changes of day go back
        assert changed > 0.25 * len(days)
        assert 0.4 < went_back / changed < 0.6, "days interleaved, not one after another"
        month = name.split("_")[4][:7]
        assert int((days.str.slice(0, 7) != month).sum()) < 0.01 * len(days)


def test_progress_reaches_the_row_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "BATCH_LEGS", 1000)
    seen: list[GenerationProgress] = []
    generate_scale_samples(tmp_path / "p", legs=4500, seed=3, days=10, progress=seen.append)
    rows = [p.rows_written for p in seen]
    assert rows == [1000, 2000, 3000, 4000, 4500, 4500]
    assert [p.done for p in seen] == [False] * 5 + [True]
    assert all(p.rows_total == 4500 for p in seen)
    assert seen[-1].bytes_written > 4500 * 500


def test_cli_progress_on_a_terminal_and_quiet(tmp_path: Path) -> None:
    cdr = [sys.executable, "-m", "cdr_pipeline"]
    args = ["samples", "--rows", "120000", "--days", "10"]
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [*cdr, *args, "--out", str(tmp_path / "tty")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    ) as proc:
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait() == 0
    os.close(primary)
    screen = b"".join(chunks).decode()
    ticks = re.findall(r"\r\x1b\[K([^\r\n]*)", screen)
    assert ticks, screen
    assert re.fullmatch(r"tty: 120,000 rows, [\d,]+ rows/s 100%", ticks[-1]), ticks[-1]
    assert "120,000 legs" in screen and ".labels.json" in screen
    assert (tmp_path / "tty" / ".labels.json").is_file()
    quiet = subprocess.run(
        [*cdr, "-q", *args, "--out", str(tmp_path / "q")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "rows/s" not in quiet.stderr


def test_the_latest_event_time_is_that_of_the_events_written(
    scale: tuple[ScaleResult, pl.DataFrame],
) -> None:
    """`cdr samples` warns from `last_event_time` when a device's return ONLINE falls after
    now (the bulk set's events can run days past its last day, as the small set's can)."""
    res, _ = scale
    events = next(f for f in res.files if f.name == "activation_events.csv")
    with events.open(encoding="utf-8", newline="") as fh:
        written = max(row["event_time"] for row in csv.DictReader(fh))
    assert res.last_event_time == written
    assert written > "2026-10-31"  # past the set's last day, the case the warning is for
