"""What every analyst notebook needs, so a notebook's setup is one import.

`open_notebook(month=..., location=..., department=...)` checks the parameters, finds the
warehouse and opens it read-only; the returned `Notebook` runs SQL against the public views
with the parameters bound (`$month`, `$location`, `$department`) and builds the small pieces
the notebooks show (a "No data" note, short file names). The chart helpers keep count axes
to whole numbers from zero and legends off the bars. IPython and matplotlib are imported
inside the functions that need them, so importing `cdr_pipeline` never requires them.
See docs/notebooks.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from cdr_pipeline.config import Settings, load_settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.text import UUID_RE
from cdr_pipeline.warehouse import connect, resolve_tier
from cdr_pipeline.warehouse.signature import build_record

if TYPE_CHECKING:
    from IPython.display import Markdown
    from matplotlib.axes import Axes

MONTH_ENV = "CDR_NOTEBOOK_MONTH"
WAREHOUSE_ENV = "CDR_WAREHOUSE"

_MONTH = re.compile(r"(\d{4})-(\d{2})")
# the parameters a query may name; each is bound only when the SQL uses it, because DuckDB
# refuses a named parameter the statement does not contain
_PARAMETER = re.compile(r"\$(month|location|department)\b")


class NotebookParameterError(ConfigError):
    """A notebook parameter (MONTH, LOCATION, DEPARTMENT) has an unusable value."""


class StaleNotebookError(ConfigError):
    """The build a notebook opened was replaced, and `cdr vacuum` deleted files it read."""


def parse_month(value: str | None) -> str | None:
    """`'YYYY-MM'` checked, or None (all months) for None or an empty text.

    Raises NotebookParameterError naming the expected form and an example, so a typo in the
    parameters cell or in `CDR_NOTEBOOK_MONTH` stops the notebook with a clear message
    instead of a SQL error further down."""
    text = _text(value)
    if not text:
        return None
    match = _MONTH.fullmatch(text)
    # year 0000 is no calendar year: it passed here and `$month` failed in a later cell
    # with Python's bare "year 0 is out of range"
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise NotebookParameterError(
            f"MONTH must be a month in the form YYYY-MM (from 0001-01), e.g. 2026-10; got {text!r}",
            hint=f"set MONTH in the parameters cell or {MONTH_ENV}; leave it empty for all months",
        )
    return text


def _optional_text(value: str | None) -> str | None:
    return _text(value) or None


def parse_department(value: str | None) -> str | None:
    """A `department_id` as the warehouse stores it, or None (all departments): a UUID in
    lower case, as `cdr ingest` stores every Department ID that is one, so the upper-case
    spelling of an HR export or a database (D2BA37C1-...) selects the department instead
    of a **No data** in every section. Another id keeps its case."""
    text = _text(value)
    return text.lower() if UUID_RE.fullmatch(text) else text or None


def _text(value: object) -> str:
    """A parameter as text: papermill gives `-p DEPARTMENT 42` as the int 42."""
    return "" if value is None else str(value).strip()


def find_warehouse(start: Path | None = None) -> Path:
    """The warehouse folder: `CDR_WAREHOUSE` when set, else `warehouse/` at the root of the
    checkout, found by walking up from `start` (default: the current folder). Jupyter starts
    a kernel in the notebook's own folder; walking up also works when it started elsewhere in
    the checkout."""
    explicit = os.environ.get(WAREHOUSE_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "warehouse"
    return here / "warehouse"


@dataclass
class Notebook:
    """An open warehouse and the notebook's parameters. Close it with `close()` (or let the
    kernel end); the connection is read-only, so it never blocks `cdr ingest` or `cdr build`."""

    settings: Settings
    con: duckdb.DuckDBPyConnection
    month: str | None = None
    location: str | None = None
    department: str | None = None
    tier: str = "analyst"
    """The tier `con` reads (`analyst` unless `CDR_TIER=full`, for the owner only)."""
    opened: int | None = None
    """The inode of the `cdr.duckdb` `con` opened: a build replaces the file by a rename."""
    _closed: bool = field(default=False, repr=False)

    @property
    def warehouse(self) -> Path:
        return self.settings.warehouse

    @property
    def month_start(self) -> date | None:
        """The first day of the selected month (what `$month` binds), None for all months."""
        return date.fromisoformat(self.month + "-01") if self.month else None

    @property
    def period(self) -> str:
        """`month 2026-10` or `all months`, for titles and notes."""
        return f"month {self.month}" if self.month else "all months"

    @property
    def scope(self) -> str:
        """The period plus the location and department filters in force, for titles."""
        return self.scope_of(monthly=True, placed=True)

    def scope_of(self, monthly: bool, placed: bool) -> str:
        """The filters in force of those a section applies: the period (`monthly`), the
        location and department (`placed`); empty when none does."""
        parts = [self.period] if monthly else []
        if placed and self.location:
            parts.append(f"location {self.location}")
        if placed and self.department:
            parts.append(f"department {self.department}")
        return ", ".join(parts)

    def summary(self) -> Markdown:
        """What this notebook reads: the warehouse and the parameters in force."""
        from IPython.display import Markdown

        return Markdown(f"Warehouse `{self.warehouse}` · {self.scope}")

    def query(self, sql: str, **params: object) -> pl.DataFrame:
        """Run SQL against the public views. `$month` (first day of the month, NULL = all),
        `$location` and `$department` (NULL = all) are bound when the SQL names them."""
        bound: dict[str, object] = {
            "month": self.month_start,
            "location": self.location,
            "department": self.department,
        }
        for name in self._named(sql) & bound.keys():
            params.setdefault(name, bound[name])
        try:
            return self.con.sql(sql, params=params or None).pl()
        except duckdb.IOException as exc:
            if (
                self.opened is None
                or _inode(self.settings.layout.duckdb) == self.opened
                or f"{self.warehouse}{os.sep}" not in str(exc)
            ):
                raise  # the build it opened is current, or not a file of the warehouse
            built = build_record(self.con)
            raise StaleNotebookError(
                f"this notebook reads the build of {built.get('built_at', 'an earlier time')} "
                f"({built.get('table_versions') or 'no table'}); cdr.duckdb has been built "
                "again since, and `cdr vacuum` deleted data files that build read: "
                f"{str(exc).splitlines()[0]}",
                hint="run the setup cell again (open_notebook) to read the latest build; "
                "replaced files are kept vacuum_grace_hours (24 by default), so a notebook "
                "open longer than that must be reopened",
            ) from exc

    def _named(self, sql: str) -> set[str]:
        """The named parameters the SQL's statements hold, from DuckDB's parser: not those
        in a comment (a filter commented out) or a text literal, which DuckDB would refuse
        to bind. SQL that does not parse: those the text names (running it says why)."""
        try:
            return {n for s in self.con.extract_statements(sql) for n in s.named_parameters}
        except duckdb.Error:
            return set(_PARAMETER.findall(sql))

    def where(
        self,
        month: str | None = None,
        location: str | None = None,
        department: str | None = None,
    ) -> str:
        """A SQL predicate applying the notebook's filters to the named columns, e.g.
        `nb.where(month="report_month", location="location_name")`; true when a parameter is
        unset. A column not given is not filtered."""
        terms = ["true"]
        if month:
            terms.append(f"($month::date is null or {month} = $month::date)")
        if location:
            terms.append(f"($location::varchar is null or {location} = $location)")
        if department:
            terms.append(f"($department::varchar is null or {department} = $department)")
        return " and ".join(terms)

    def no_data(self, what: str, monthly: bool = True, placed: bool | None = None) -> Markdown:
        """A note for a section with nothing to show, instead of failing on an empty result
        or drawing empty axes, naming the filters that apply to it: the month unless
        `monthly=False`, the location and department when `placed` (default: as `monthly`;
        a section no filter applies to passes `monthly=False`)."""
        from IPython.display import Markdown

        filters = self.scope_of(monthly, monthly if placed is None else placed)
        scope = f" ({filters})" if filters else ""
        return Markdown(f"**No data** for {what}{scope} in `{self.warehouse}`.")

    def validations(self) -> pl.DataFrame:
        """The validation summaries (one row per suite per `cdr validate` run); not a view,
        so they are read from the warehouse's state through the library."""
        from cdr_pipeline.state.ledger import Ledger

        return Ledger(self.settings.layout).read("validations")

    def reject_files(self) -> list[Path]:
        """The Parquet files of quarantined rows, `<warehouse>/rejects/<table>/*.parquet`."""
        return sorted(self.settings.layout.rejects.glob("*/*.parquet"))

    def reject_examples(self, rejects: pl.DataFrame, n: int = 10) -> pl.DataFrame:
        """The first `n` quarantined rows of `rejects` (the rejects Parquet files) to look
        at: reason, file and line, and on the full tier only the detail and the start of the
        raw text. A rejected row's raw text is the export's line as it arrived, with every
        personal field in clear (names, numbers, e-mails), and a detail quotes the value it
        could not parse: the analyst tier never shows personal values, so there the file
        and line say where to look for whoever may read the rejects, the file named as the
        analyst tier names it (`warehouse/analyst_files.py`: an export named after a person
        shows their pseudonym)."""
        columns: list[str | pl.Expr] = ["reason", file_name("source_file"), "source_row"]
        if self.tier == "full":
            columns[1:1] = ["detail"]
            columns.append(pl.col("raw_text").str.slice(0, 80))
        else:
            hidden = self.con.execute(
                "select value, pseudonym from analyst_base.pseudonym_map where kind = 'file'"
            ).fetchall()
            rejects = rejects.with_columns(pl.col("source_file").replace(dict(hidden)))
        ordered = rejects.sort("rejected_at", "source_file", "source_row")
        return ordered.select(columns).head(n)

    def close(self) -> None:
        if not self._closed:
            self.con.close()
            self._closed = True


def open_notebook(
    month: str | None = None,
    location: str | None = None,
    department: str | None = None,
    warehouse: Path | str | None = None,
) -> Notebook:
    """Check the parameters, open the warehouse read-only and set the display defaults.

    `month` is `'YYYY-MM'` or empty/None for all months (a bad value raises
    NotebookParameterError); `location` (a `location_name`) and `department` (a
    `department_id`) are empty/None for all. `warehouse` defaults to `find_warehouse()`."""
    checked = parse_month(month)
    folder = Path(warehouse).expanduser().resolve() if warehouse else find_warehouse()
    # the settings the CLI reads from here (cdr.toml, CDR_*), the folder as found: with the
    # defaults, a warehouse of its own reporting_timezone or idle_days read as built 'with
    # other settings' in every notebook
    settings = load_settings(overrides={"warehouse": folder})
    _require_warehouse(settings, "warehouse=" if warehouse else None)
    # timestamps in UTC whatever the machine's zone; the pseudonymised analyst tier unless
    # CDR_TIER=full (docs/privacy.md)
    tier = resolve_tier("analyst", warehouse=folder)
    con = connect(settings, tier=tier)
    opened = _inode(settings.layout.duckdb)
    pl.Config(tbl_rows=25, fmt_str_lengths=60, tbl_width_chars=160)
    _style_charts()
    return Notebook(
        settings=settings,
        con=con,
        month=checked,
        location=_optional_text(location),
        department=parse_department(department),
        tier=tier,
        opened=opened,
    )


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _require_warehouse(settings: Settings, given: str | None) -> None:
    """Refuse a folder no cdr command wrote (a typo, a folder of exports, `cdr.duckdb`
    itself), as `cdr report` does, instead of "cdr.duckdb does not exist; run cdr build",
    which `cdr build` would refuse too."""
    layout = settings.layout
    if layout.is_warehouse():
        return
    if given is None:
        given = WAREHOUSE_ENV if os.environ.get(WAREHOUSE_ENV) else "the default"
    if layout.root.is_file() and Layout(layout.root.parent).is_warehouse():
        hint = f"the warehouse is the folder holding it, {layout.root.parent}"
    else:
        hint = (
            f"set {WAREHOUSE_ENV} or pass warehouse= the folder `cdr ingest` and `cdr build` "
            "wrote (it holds cdr.duckdb, tables/ and state/)"
        )
    raise ConfigError(
        f"{layout.root} is not a warehouse (from {given}): no state/, tables/ or cdr.duckdb in it",
        hint=hint,
    )


def _style_charts() -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # charts are optional: the notebooks extra installs matplotlib
        return
    plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def file_name(column: str) -> pl.Expr:
    """The last part of a path column, so long folders do not push the table off screen."""
    return pl.col(column).str.split("/").list.last().alias(column)


def count_axis(ax: Axes, axis: str = "y") -> None:
    """Make `axis` a count axis: whole-number ticks only (never 2.5 licences) and starting
    at zero (a flat line of zeros must not show a negative count)."""
    from matplotlib.ticker import MaxNLocator

    # call after plotting: the upper limit is the autoscaled one (at least 1)
    if axis == "y":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0, max(ax.get_xlim()[1], 1.0))


def legend_outside(ax: Axes, title: str | None = None) -> None:
    """A legend right of the axes, where it cannot cover a bar."""
    ax.legend(title=title, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def grouped_bars(
    ax: Axes,
    table: pl.DataFrame,
    category: str,
    group: str,
    value: str,
    *,
    counts: bool = False,
) -> None:
    """One bar per (category, group): categories along x, the groups side by side, the
    legend outside the axes. `counts=True` gives the value axis whole-number ticks."""
    cats: Sequence[Any] = table[category].unique(maintain_order=True).to_list()
    groups: Sequence[Any] = table[group].unique(maintain_order=True).to_list()
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups):
        part = dict(table.filter(pl.col(group) == g).select(category, value).iter_rows())
        xs = [x + i * width for x in range(len(cats))]
        ax.bar(xs, [part.get(c) or 0 for c in cats], width, label=str(g))
    ticks = [x + width * (len(groups) - 1) / 2 for x in range(len(cats))]
    ax.set_xticks(ticks, [str(c) for c in cats], rotation=30, ha="right")
    if counts:
        count_axis(ax)
    legend_outside(ax, title=group)
