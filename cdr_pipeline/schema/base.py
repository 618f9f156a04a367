"""Schema building blocks shared by every input kind.

A `TableSchema` describes one warehouse table: its canonical columns (name, type, nullability,
every known source-header spelling), its natural key, the column that orders versions of one
record, and how it is partitioned. Readers, normalize, the writer, the quality suites and the
docs all read these objects; nothing else keeps a column list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

# Logical types; each engine maps them in one place (`POLARS_TYPES` in ingest/normalize.py,
# `DUCKDB_TYPES` below).
STRING = "string"
TIMESTAMP = "timestamp"  # UTC, microsecond precision (Control Hub writes milliseconds)
INTEGER = "integer"
SMALLINT = "smallint"
BOOLEAN = "boolean"
DOUBLE = "double"
DATE = "date"

DUCKDB_TYPES = {
    STRING: "VARCHAR",
    TIMESTAMP: "TIMESTAMPTZ",
    INTEGER: "BIGINT",
    SMALLINT: "SMALLINT",
    BOOLEAN: "BOOLEAN",
    DOUBLE: "DOUBLE",
    DATE: "DATE",
}

ARROW_TYPES = {
    # one Arrow type per logical type in every written file: plain `string`, never
    # `string_view` or `large_string` (some readers, e.g. pyiceberg, fail on views)
    STRING: pa.string(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    INTEGER: pa.int64(),
    SMALLINT: pa.int16(),
    BOOLEAN: pa.bool_(),
    DOUBLE: pa.float64(),
    DATE: pa.date32(),
}

NULL_MARKERS = ("", "NA", "na")
NULL_WORDS = ("null", "(null)", "n/a", "none", "nil", "nan", "#n/a")
"""Words other tools write for an empty value (lower case): not read as empty (a text column
may hold them as data), but named as the likely cause when a typed value is one."""

EXCEL_TRUE = "WAHR VRAI VERDADERO VERO VERDADEIRO WAAR SANT SAND SANN TOSI PRAWDA PRAVDA ИСТИНА"
EXCEL_FALSE = "FALSCH FAUX FALSO ONWAAR FALSKT FALSK USANN EPÄTOSI FAŁSZ NEPRAVDA ЛОЖЬ"
"""TRUE and FALSE as Excel writes them in German, French, Spanish, Italian, Portuguese,
Dutch, Swedish, Danish, Norwegian, Finnish, Polish, Czech and Russian: re-saving an export
there (with `;` and decimal commas), it writes `Answered` as `WAHR` / `FALSCH`. No word is
another language's opposite."""
TRUE_WORDS = ("true", "t", "yes", "y", "1", *EXCEL_TRUE.lower().split())
FALSE_WORDS = ("false", "f", "no", "n", "0", *EXCEL_FALSE.lower().split())
"""The words of a boolean value, lower case (they are compared so)."""

_WS = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_REMARK = re.compile(r"\([^)]*\)$")
"""A remark in brackets at the end of a header (`Network provider code (Android)`)."""
_CURRENCY = re.compile(r"(.+?) ?[(\[]([a-z]{3})[)\]]")
"""A header naming its currency in brackets (`Unit price (USD)`, `Price [EUR]`), normalized."""


_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"""
ISO_4217 = frozenset(_ISO_4217.split())
"""The currency codes of ISO 4217 in use (funds, metals and test codes left out): what a
header's remark must be to name a currency (`(net)` is no currency)."""


def currency_named(raw: str) -> tuple[str, str] | None:
    """(the header without its currency, the ISO code upper case) of a header that names
    an ISO 4217 currency in brackets (`Unit price (USD)`), else None."""
    found = _CURRENCY.fullmatch(normalize_header(raw))
    if found is None or found.group(2).upper() not in ISO_4217:
        return None
    return found.group(1), found.group(2).upper()


_SECRET_ENDING = 6
"""A secret's header form at least this long (`qrcode`) is also recognised at the end of a
longer header."""


def _secret_form(text: str) -> str:
    """A normalized header as a sensitive column is recognised: without a closing remark in
    brackets, and every character but letters and digits (`QR-Code` -> `qrcode`)."""
    return _NOT_ALNUM.sub("", _REMARK.sub("", text))


def normalize_header(raw: str) -> str:
    """Canonical matching form of a source header: BOM stripped, trimmed, whitespace and
    underscores collapsed to one space, case-folded. `"\\ufeffStart  time "`, `"start_time"`
    and `"START TIME"` all become `"start time"`."""
    text = raw.replace("\ufeff", "").replace("_", " ")
    return _WS.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    headers: tuple[str, ...] = ()
    nullable: bool = True
    required: bool = False
    """A row whose value is missing or unparseable is rejected (quarantined)."""
    derived: bool = False
    """Computed by normalize, never read from input."""
    values: tuple[str, ...] = ()
    """Documented values. Open enums (Cisco adds values) only warn on others."""
    closed: bool = False
    """Values outside `values` are an error, not a warning."""
    case_blind: bool = False
    """`values` match in any case, as the pipeline reads the column (`Sub client type`:
    `mobile_network` tags a Webex Go leg too), so another case is no new value."""
    noted: str = ""
    """What a value outside `values` means, for the file's note at ingest, which names such
    values (not only `cdr validate`): another spelling leaves its row without a derived tag
    (`Sub client type` `Mobile Network` is no Webex Go leg), which the views would otherwise
    lose without a word."""
    sensitive: bool = False
    """Dropped on read and never stored (e.g. an activation code)."""
    priced_in: str | None = None
    """The column holding the currency of this amount: a header naming one (`Unit price
    (USD)`) is this column, its code the currency of rows that give none."""
    clock: bool = False
    """Whole seconds that a report tool or a spreadsheet may write as a clock duration,
    `0:01:23` or `00:01:23` (83): read as those seconds (`numerals.respell`)."""
    end_of_day: bool = False
    """A timestamp that may be written as a date alone (`2026-12-30`: an expiry a spreadsheet
    shows as a date): the end of that day in UTC, the first instant after it (valid through
    the day written, as a licence's `valid_to` is inclusive). Read by
    `timestamps.fill_end_of_day`; in any other timestamp column a date alone is no time."""
    exact: bool = False
    """A figure finance reads to the unit (units bought, a unit price): a value in scientific
    notation (`1.2346E+06`, as a spreadsheet saves a number too wide for its column) is
    quarantined (`spreadsheet_number`), never loaded as the rounded figure it shows. Exact
    ones (`1E+03`) too: the notation says the cell was shown rounded, not what it held."""
    doc: str = ""


def string_column(name: str, *headers: str, **kw: Any) -> Column:
    """A STRING `Column`; header spellings are positional. Shorthand for the column tables."""
    return Column(name, STRING, headers, **kw)


def timestamp_column(name: str, *headers: str, **kw: Any) -> Column:
    return Column(name, TIMESTAMP, headers, **kw)


def integer_column(name: str, *headers: str, **kw: Any) -> Column:
    return Column(name, INTEGER, headers, **kw)


@dataclass(frozen=True)
class TableSchema:
    name: str
    """Table name: the folder under `<warehouse>/tables/`."""
    kind: str
    """Input kind that feeds it (what `--kind` names)."""
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Natural key: one current row per key value."""
    version_by: tuple[str, ...]
    """Columns ordering versions of one record; the greatest wins, then the later load."""
    partition_by: str | None
    """Derived Hive partition column, or None for a single-file table."""
    signature: tuple[str, ...]
    """Canonical column names whose headers identify this kind of input."""
    min_signature: int
    lineage: tuple[Column, ...] = field(default=())
    partition_from: tuple[str, str] | None = None
    """(timestamp column, strftime format) the partition value is derived from, in UTC:
    validation checks that each row is in its partition (another writer's may not be)."""
    per_row: tuple[str, ...] = ()
    """Text columns whose values are (nearly) all distinct, like leg and session ids: stored
    without a Parquet dictionary, which for them costs time and grows the file."""
    cluster_by: str | None = None
    """A boolean column whose rows of each value are written in row groups of their own, so
    that a filter on it skips the others (`ingest/rowgroups.py`)."""
    trim_text: bool = False
    """Text values lose leading and trailing blanks (then count as NULL when a null marker
    is left): for the inputs people type or edit in spreadsheets (devices, entitlements,
    the directory), where `"Sub-1 "` would otherwise be another subscription. Not for the
    call legs: Control Hub writes them, and trimming their many columns cost more than all
    the typed parsing."""
    trimmed: tuple[str, ...] = ()
    """Text columns that lose leading and trailing blanks though `trim_text` is off: the
    call legs' columns that key, link, join or classify a leg, which Control Hub never pads
    but a hand edit, a formula or a script writing `", "` between fields does (`" c1"` and
    `"c1"` were two calls). Names and other free text stay as delivered."""
    phone_text: tuple[str, ...] = ()
    """Text columns of phone numbers and dialled digits: one guarded by a spreadsheet's `'`
    (`'+14155550100`) is read without it (`ingest/guards.py`)."""
    any_case: tuple[str, ...] = ()
    """Key columns one value in any case: a subscription id typed `SUB-1` in a sheet is the
    devices' `Sub-1` (the reconciliation matches them so); ingest compares them so when it
    finds conflicting lines and amended rows."""
    seconds_written: bool = False
    """Every time of this kind is written with its seconds (Control Hub and the APIs write
    milliseconds): one that stops at the minute (`2026-10-01 14:05`) was saved again by a
    spreadsheet in an ISO-date locale, which dropped the seconds, and is quarantined as
    `spreadsheet_date` (`ingest/spreadsheet.py`). The inputs people type (devices,
    entitlements) take a time to the minute."""
    key_spans_partitions: bool = False
    """The partition is not a function of the key (a record's start time can move to
    another day): a new version of a record may have to replace one in another partition,
    found through the table's key index (`ingest/keyindex.py`)."""

    def __post_init__(self) -> None:
        # the partition merge classifies a re-delivered record by one version column
        if len(self.version_by) > 1:
            raise ValueError(f"{self.name}: at most one version_by column is supported")
        if self.key_spans_partitions and len(self.key) != 1:
            raise ValueError(f"{self.name}: a key spanning partitions must be one column")

    @property
    def input_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.derived)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.lineage

    def column(self, name: str) -> Column:
        for col in self.all_columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def header_map(self) -> dict[str, str]:
        """normalized source header -> canonical column name (canonical names included)."""
        mapping: dict[str, str] = {}
        for col in self.input_columns:
            for spelling in (col.name, *col.headers):
                mapping[normalize_header(spelling)] = col.name
        return mapping

    def header_lookup(self) -> Callable[[str], str | None]:
        """A source header -> its canonical column (None: unknown). Matched by
        `normalize_header`, else with its blanks removed too, so the camelCase keys of
        records dumped from wxc_sdk's CDR model (`answerTime`, `localSessionid`; its
        `space_separated_to_camel`) find their columns: a squeezed form two columns share
        matches neither."""
        mapping = self.header_map()
        priced = {c.name for c in self.input_columns if c.priced_in}
        squeezed: dict[str, str | None] = {}
        for spelling, name in mapping.items():
            key = spelling.replace(" ", "")
            squeezed[key] = name if squeezed.get(key, name) == name else None

        # a secret is never stored: a header that spells a sensitive column with dashes, a
        # remark in brackets or a plural (`QR-Code`, `Activation code(s)`) is that column,
        # not an unknown one kept in `extra`
        secret = {
            _secret_form(normalize_header(spelling)): col.name
            for col in self.input_columns
            if col.sensitive
            for spelling in (col.name, *col.headers)
        }

        # ... or after a word of its own (`eSIM activation code`, `eSIM QR code`): a header
        # ending in a secret's name of several words is that secret (never `code` alone,
        # which ends `Country code`)
        endings = [(form, name) for form, name in secret.items() if len(form) >= _SECRET_ENDING]

        def lookup(raw: str) -> str | None:
            text = normalize_header(raw)
            found = mapping.get(text) or squeezed.get(text.replace(" ", ""))
            named = currency_named(raw) if found is None else None
            if named is not None and (amount := mapping.get(named[0])) in priced:
                found = amount
            if found is None and secret:
                bare = _secret_form(text)
                one = bare.removesuffix("s")
                found = secret.get(bare) or secret.get(one)
                found = found or next((n for f, n in endings if one.endswith(f)), None)
            return found

        return lookup

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Columns written to Parquet (the partition column lives in the path)."""
        return tuple(c for c in self.all_columns if c.name != self.partition_by and not c.sensitive)

    def stored_arrow_schema(self) -> pa.Schema:
        """The Arrow schema of every data file of the table (partition column excluded)."""
        return pa.schema([(c.name, ARROW_TYPES[c.dtype]) for c in self.stored_columns])

    def table_arrow_schema(self) -> pa.Schema:
        """The table's schema as its Delta log records it: stored columns, then the
        partition column."""
        schema = self.stored_arrow_schema()
        if self.partition_by is not None:
            col = self.column(self.partition_by)
            schema = schema.append(pa.field(col.name, ARROW_TYPES[col.dtype]))
        return schema


def lineage_columns(extra: bool = True) -> tuple[Column, ...]:
    cols = [
        Column(
            "source_kind",
            STRING,
            nullable=False,
            derived=True,
            doc="csv_report, api_json, api_feed, api_stream, report, synthetic",
        ),
        Column(
            "source_file",
            STRING,
            nullable=False,
            derived=True,
            doc="Input file (and ZIP member after '!') the row came from",
        ),
        Column(
            "source_row",
            INTEGER,
            nullable=False,
            derived=True,
            doc="Physical line of the record in the file (CSV) or item number (JSON; the line "
            "in JSON lines, and the items of a page among JSON lines share its line)",
        ),
        Column("run_id", STRING, nullable=False, derived=True, doc="Ingest run that loaded it"),
        Column("ingested_at", TIMESTAMP, nullable=False, derived=True, doc="When it was loaded"),
        Column(
            "load_seq",
            INTEGER,
            nullable=False,
            derived=True,
            doc="Monotonic load order (run start in microseconds * 1e3 + file index * "
            "`max_zip_members` + ZIP member index); breaks ties between versions",
        ),
    ]
    if extra:
        cols.insert(
            0,
            Column(
                "extra",
                STRING,
                derived=True,
                doc="JSON object of source columns this schema does not know",
            ),
        )
    return tuple(cols)
