"""`Settings`: every option of the pipeline, typed and checked (see `config.keys`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cdr_pipeline.config.fetch import FetchOptions
from cdr_pipeline.config.keys import SETTINGS_KEYS, checked_fields
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.state.layout import Layout


@dataclass(frozen=True)
class Settings:
    warehouse: Path = Path("warehouse")
    inbox: Path | None = None
    chunk_rows: int = 25_000
    max_reject_rate: float = 0.01
    code_expiry_days: int = 90
    reporting_timezone: str = "UTC"
    retain_days: int | None = None
    lock_wait_seconds: float = 0.0
    idle_days: int = 30
    close_after_days: int | None = None
    """The nightly closes the previous month once this many days of the new month have
    passed (None: months are closed by hand with `cdr close`)."""
    excel_csv: bool | None = None
    """CSV with the UTF-8 BOM Excel needs: True on files and stdout, False on neither,
    None (default) on files only."""
    vacuum_grace_hours: int = 24
    """Hours a replaced data file stays on disk for readers of older versions."""
    build_memory_mb: int = 448
    """DuckDB's memory for a build (`cdr build`, the refresh at the end of an ingest or
    fetch), in MiB: past it DuckDB spills to a temporary folder beside `cdr.duckdb`. With
    what the ingest itself holds, 448 keeps a 5M-leg ingest under 1 GiB."""
    merge_memory_mb: int = 512
    """DuckDB's memory for an ingest's partition merges (two at a time share it), in MiB:
    past it DuckDB spills to the run's staging folder. A merge that needs more than it can
    spill fails the run (exit 6, `MergeOutOfMemory`); nothing is committed."""
    fetch: FetchOptions = field(default_factory=FetchOptions)
    """Options of `cdr fetch` (the [fetch] table of cdr.toml)."""
    # ---- input limits (docs/limits.md): past one, the file fails with exit 3 -------------
    max_unpacked_bytes: int = 16 * 1024**3
    """Decompressed bytes of one gzip stream or ZIP member."""
    max_unpacked_ratio: int = 200
    """Decompressed / compressed size of one gzip stream or ZIP member (past 64 MiB)."""
    max_header_bytes: int = 1024 * 1024
    max_columns: int = 2000
    max_record_bytes: int = 16 * 1024 * 1024
    """One CSV record or JSON-lines line; also the longest JSON string."""
    max_value_bytes: int = 64 * 1024
    """One field of a record (and the unknown columns kept in `extra` together): past it the
    row is quarantined (`value_too_long`), not the file failed."""
    max_json_depth: int = 64
    max_json_number_digits: int = 100
    max_zip_members: int = 1000
    """Data members of one ZIP archive (each is loaded and recorded as a source of its own)."""
    max_file_days: int = 400
    """Days of call records (months of device snapshots) one file or ZIP member may span:
    each is a partition staged, merged and refreshed on its own."""
    # ---- personal data at rest ------------------------------------------------------------
    file_mode: int = 0o600
    """Permission bits of the files the pipeline writes (folders get x where files get r):
    0o600 owner only; 0o640 to share the warehouse read-only with a group."""
    privacy_personal_days: int | None = None
    """[privacy] personal_days: call legs older than this keep pseudonyms, not personal
    fields (None: kept as loaded)."""
    privacy_prefix_digits: int = 3
    """[privacy] prefix_digits: national digits after the country code analysts still see."""
    warehouse_source: str = field(default="default", compare=False)
    """Where `warehouse` came from, for error messages: `--warehouse`, `CDR_WAREHOUSE`,
    `cdr.toml (<path>)` or `default`."""

    def __post_init__(self) -> None:
        checked_fields(self, SETTINGS_KEYS, "Settings")
        if not isinstance(self.fetch, FetchOptions):
            raise ConfigError(
                f"Settings: fetch must be FetchOptions, got {type(self.fetch).__name__}",
                hint="build it with FetchOptions(...) or load_settings()",
            )

    @property
    def warehouse_text(self) -> str:
        """The resolved warehouse folder and where it came from, for messages."""
        return f"{self.warehouse.absolute()} (from {self.warehouse_source})"

    @property
    def layout(self) -> Layout:
        """Every path of the warehouse."""
        return Layout(self.warehouse)
