"""What the web face computes per request, all from snapshots in memory: table pages, date-range
totals, chart options and exports. Nothing here touches the analytics store.

Filters: ``scope`` (all retailers or one retailer) and the date range (``start`` / ``end``,
inclusive days) both select the snapshot, so each changes every figure, chart, table and export.
The whole period is the snapshot :func:`redcat.web.snapshot.refresh` precomputed; any other
range is a *range snapshot*, measured as if only the events of those days had happened (see
:func:`redcat.web.snapshot._scoped_engine`) and built on demand by
:class:`redcat.web.ranges.RangeBuilder`. :func:`open_report` returns the report, or the state of
its build while it is prepared.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import weakref
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar, cast

import pandas as pd

from redcat.errors import StoreError
from redcat.report.charts import build_charts, trend_option
from redcat.report.data import ReportData, is_missing
from redcat.report.fmt import MISSING, Kind, format_column, format_value
from redcat.report.html import render_html_bundle
from redcat.report.labels import Lang, metric_label, model_label, note_type_label, stage_label
from redcat.report.tables import neutralize_formulas
from redcat.web.ranges import RangeBuilder, RangeKey, RangeState
from redcat.web.snapshot import (
    ALL,
    META,
    iter_tables,
    load_snapshot,
    on_demand_of,
    range_folder,
    scope_folder,
    scopes_of,
    snapshot_brands,
    touch,
)

T = TypeVar("T")

#: Text columns a table's ``q`` search looks in (those a table has).
SEARCH_COLUMNS: tuple[str, ...] = ("note_id", "title", "creator_id", "campaign_id", "model")
#: Columns a table can be filtered on by exact value (those a table has).
FILTER_COLUMNS: tuple[str, ...] = ("note_type", "creator_id", "campaign_id", "model")
#: Daily columns that add up over days exactly (events and money); user columns summed over days
#: are person-days, shown as such.
ADDITIVE_DAILY: tuple[str, ...] = (
    "impressions",
    "reads",
    "interactions",
    "orders",
    "gmv",
    "spend",
)
PERSON_DAY_DAILY: tuple[str, ...] = ("reach", "back_search_users", "visitors")


class NotFound(LookupError):
    """A brand, scope, table or chart without a snapshot (the API answers 404)."""


class BadQuery(ValueError):
    """A query parameter that names no column or an empty range (the API answers 400)."""


@dataclass(frozen=True)
class Page:
    """One page of a table: total rows after filters, the page's rows and its columns."""

    total: int
    page: int
    page_size: int
    columns: tuple[str, ...]
    rows: pd.DataFrame


class Reports:
    """Snapshots under ``root`` loaded on first use and reloaded when ``refresh`` replaced them.

    A reload is noticed by the ``meta.json`` change time, a single ``stat`` per request. Range
    snapshots are kept in memory too, the :data:`RANGES_IN_MEMORY` most recently used.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[int, ReportData]] = {}
        self._ranges: OrderedDict[tuple[str, str, date, date], tuple[int, ReportData]] = (
            OrderedDict()
        )

    def brands(self) -> list[str]:
        """Return the brands with a snapshot, sorted."""
        return snapshot_brands(self.root)

    def scopes(self, brand_id: str) -> list[str]:
        """Return ``brand_id``'s scopes (``all`` first, then retailer ids)."""
        return scopes_of(self.root, brand_id, self._on_demand(brand_id))

    def _on_demand(self, brand_id: str) -> list[str]:
        # from the loaded ``all`` report: no meta.json read on every page
        try:
            whole = self.get(brand_id, ALL)
        except NotFound:
            return []
        return on_demand_of(whole.view, whole.retailers)

    def frame(self, brand_id: str, scope: str) -> tuple[ReportData, tuple[date, date] | None]:
        """Return the whole-period report that frames ``scope`` and, for a scope measured on
        first use (:func:`~redcat.web.snapshot.on_demand_of`), the days of its whole period
        (it is built like a date range): ``(get(brand_id, scope), None)`` otherwise.
        :class:`NotFound` for a scope the brand does not have."""
        try:
            return self.get(brand_id, scope), None
        except NotFound:
            if scope == ALL or scope not in self._on_demand(brand_id):
                raise
        whole = self.get(brand_id, ALL)
        return whole, (whole.period_start, whole.period_end)

    def get(self, brand_id: str, scope: str = ALL) -> ReportData:
        """Return the whole-period report of ``brand_id`` for ``scope``; :class:`NotFound`
        without one."""
        try:
            meta = scope_folder(self.root, brand_id, scope) / META
            stamp = meta.stat().st_mtime_ns
        except (OSError, ValueError, StoreError) as exc:
            raise NotFound(f"no report for brand {brand_id!r} and scope {scope!r}") from exc
        key = (brand_id, scope)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        data = load_snapshot(meta.parent)
        with self._lock:
            self._cache[key] = (stamp, data)
        return data

    def get_range(self, brand_id: str, scope: str, days: tuple[date, date]) -> ReportData:
        """Return the range snapshot of ``brand_id`` for ``scope`` and the inclusive ``days``;
        :class:`NotFound` while it is not built (or was dropped by a refresh or an eviction)."""
        try:
            folder = range_folder(self.root, brand_id, scope, days)
            stamp = (folder / META).stat().st_mtime_ns
        except (OSError, ValueError, StoreError) as exc:
            raise NotFound(f"no range snapshot for brand {brand_id!r} and {days}") from exc
        touch(folder)
        key = (brand_id, scope, *days)
        with self._lock:
            hit = self._ranges.get(key)
            if hit is not None and hit[0] == stamp:
                self._ranges.move_to_end(key)
                return hit[1]
        data = load_snapshot(folder)
        with self._lock:
            self._ranges[key] = (stamp, data)
            self._ranges.move_to_end(key)
            while len(self._ranges) > RANGES_IN_MEMORY:
                self._ranges.popitem(last=False)
        return data


#: Range snapshots a server process keeps loaded (most recently used).
RANGES_IN_MEMORY = 8


def resolve_range(
    data: ReportData, start: date | None, end: date | None
) -> tuple[date, date] | None:
    """Return the inclusive (first, last) days a request asks of ``data``'s whole-period
    report, or None for the whole period (no dates, or dates equal to the period). A missing
    end is the period's; raises :class:`BadQuery` for a range that ends before it starts or
    leaves the data period."""
    if start is None and end is None:
        return None
    first = start or data.period_start
    last = end or data.period_end
    if last < first:
        raise BadQuery("the date range ends before it starts")
    if first < data.period_start or last > data.period_end:
        raise BadQuery(
            f"the date range must lie within the data period, {data.period_start.isoformat()} "
            f"to {data.period_end.isoformat()}"
        )
    if (first, last) == (data.period_start, data.period_end):
        return None
    return (first, last)


def open_report(
    reports: Reports,
    builder: RangeBuilder,
    brand_id: str,
    scope: str,
    start: date | None,
    end: date | None,
) -> ReportData | RangeState:
    """Return ``brand_id``'s report for ``scope`` and the date range: the whole-period snapshot,
    a built range snapshot, or — while the range is prepared — the :class:`RangeState` of its
    build (asking the builder for it; a retailer measured on first use, see
    :meth:`Reports.frame`, is built over its whole period like a range). Raises
    :class:`NotFound` without a whole-period snapshot and :class:`BadQuery` for an invalid
    range (see :func:`resolve_range`). The caller checks the brand scope first."""
    whole, on_demand = reports.frame(brand_id, scope)
    days = resolve_range(whole, start, end) or on_demand
    if days is None:
        return whole
    try:
        return reports.get_range(brand_id, scope, days)
    except NotFound:
        pass
    state = builder.request(RangeKey(brand_id, scope, *days))
    if state.status == "ready":
        return reports.get_range(brand_id, scope, days)
    return state


_MEMO: weakref.WeakKeyDictionary[ReportData, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()
MEMO_ENTRIES = 512  # per report: chart options and views for the languages and ranges asked


def memo(data: ReportData, key: Hashable, build: Callable[[], T]) -> T:
    """Return ``build()`` computed once per report snapshot and ``key`` (chart options, views).

    Snapshots are immutable and a refresh loads a new :class:`ReportData`, so entries die with
    the report they describe; each report keeps at most :data:`MEMO_ENTRIES` (oldest dropped).
    """
    with _MEMO_LOCK:
        table = _MEMO.setdefault(data, {})
        if key in table:
            return cast(T, table[key])
    value = build()
    with _MEMO_LOCK:
        if len(table) >= MEMO_ENTRIES:
            table.pop(next(iter(table)))
        table[key] = value
    return value


def tables_of(data: ReportData) -> dict[str, pd.DataFrame]:
    """Return every table of a report by name: core frames and ``<section>__<table>``."""
    return dict(iter_tables(data))


def get_table(data: ReportData, name: str) -> pd.DataFrame:
    """Return the table ``name`` of ``data`` (``kpis`` is the KPI mapping as rows)."""
    if name == "kpis":
        return pd.DataFrame({"metric": list(data.kpis), "value": list(data.kpis.values())})
    tables = tables_of(data)
    if name not in tables:
        raise NotFound(f"no table {name!r}")
    return tables[name]


def table_names(data: ReportData) -> list[str]:
    """Return the names of every table of ``data``, ``kpis`` first."""
    return ["kpis", *tables_of(data)]


def query_table(
    frame: pd.DataFrame,
    *,
    q: str | None = None,
    filters: Mapping[str, str | None] | None = None,
    sort: str | None = None,
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """Search, filter, sort and cut one page out of ``frame``.

    ``q`` matches case-insensitively inside the :data:`SEARCH_COLUMNS` the table has; each filter
    keeps rows whose column equals the value; ``sort`` orders by a column (missing values last).
    Pages count from 1. Raises :class:`BadQuery` for a sort or filter column the table lacks.
    """
    out = frame
    if q:
        mask = pd.Series(False, index=out.index)
        for col in SEARCH_COLUMNS:
            if col in out.columns:
                mask |= (
                    out[col].astype("string").str.contains(q, case=False, regex=False).fillna(False)
                )
        out = out[mask]
    for col, value in (filters or {}).items():
        if value is None or value == "":
            continue
        if col not in out.columns:
            raise BadQuery(f"this table has no column {col!r} to filter on")
        out = out[out[col].astype("string") == value]
    if sort:
        if sort not in out.columns:
            raise BadQuery(f"this table has no column {sort!r} to sort by")
        out = out.sort_values(sort, ascending=not descending, na_position="last", kind="stable")
    total = len(out)
    start = (page - 1) * page_size
    return Page(
        total, page, page_size, tuple(map(str, frame.columns)), out.iloc[start : start + page_size]
    )


def daily_in_range(data: ReportData, start: date | None, end: date | None) -> pd.DataFrame:
    """Return the daily rows from ``start`` to ``end`` (inclusive days; None: open end)."""
    if start is not None and end is not None and end < start:
        raise BadQuery("the date range ends before it starts")
    days = pd.to_datetime(data.daily["date"]).dt.date
    keep = pd.Series(True, index=data.daily.index)
    if start is not None:
        keep &= days >= start
    if end is not None:
        keep &= days <= end
    return data.daily[keep].reset_index(drop=True)


def range_totals(daily: pd.DataFrame) -> dict[str, float | None]:
    """Sum the daily rows: totals of events and money (:data:`ADDITIVE_DAILY`) and person-days
    of the user columns (:data:`PERSON_DAY_DAILY`, keys suffixed ``_person_days``); ``days``:
    the number of rows. A column with a missing day (withheld in the brand view: fewer than k
    people) has no total (None): the sum of the released days alone would understate it."""

    def total(col: str) -> float | None:
        values = daily[col]
        return None if values.isna().any() else float(values.sum())

    out = {col: total(col) for col in ADDITIVE_DAILY if col in daily.columns}
    for col in PERSON_DAY_DAILY:
        if col in daily.columns:
            out[f"{col}_person_days"] = total(col)
    out["days"] = float(len(daily))
    return out


#: Bookkeeping columns of the brand view's released tables (which cells were withheld, which
#: row is the pooled "other" one): kept in exports, left out of tables shown to people, where
#: a withheld cell shows as "—".
BOOKKEEPING_PREFIXES: tuple[str, ...] = ("suppressed_", "is_other")


def visible_columns(frame: pd.DataFrame) -> list[str]:
    """Return ``frame``'s columns to show people: all but :data:`BOOKKEEPING_PREFIXES`."""
    return [str(c) for c in frame.columns if not str(c).startswith(BOOKKEEPING_PREFIXES)]


def chart_names(data: ReportData) -> list[str]:
    """Return every chart id of ``data``: the core charts, then ``<section>__<chart>``."""
    core = ["funnel", "trend", "notes", "models", "wape" if data.has_scores else "model_totals"]
    return core + [f"{s.key}__{c.key}" for s in data.sections for c in s.charts]


def chart_option(
    data: ReportData, name: str, lang: Lang, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Return the ECharts option of chart ``name``; the trend obeys the date range. Computed
    once per report, chart, language and range (see :func:`memo`); callers must not mutate it."""
    return memo(
        data, ("chart", name, lang, start, end), lambda: _chart_option(data, name, lang, start, end)
    )


def _chart_option(
    data: ReportData, name: str, lang: Lang, start: date | None, end: date | None
) -> dict[str, Any]:
    if name == "trend":
        ranged = dataclasses.replace(data, daily=daily_in_range(data, start, end))
        return trend_option(ranged, lang)
    if "__" in name:
        skey, ckey = name.split("__", 1)
        for section in data.sections:
            for chart in section.charts:
                if section.key == skey and chart.key == ckey:
                    return dict(chart.options[lang])
        raise NotFound(f"no chart {name!r}")
    charts = memo(data, ("charts", lang), lambda: build_charts(data, lang))
    if name not in charts:
        raise NotFound(f"no chart {name!r}")
    return charts[name]


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Return ``frame`` as UTF-8 CSV with a byte-order mark (Excel reads Chinese correctly) and
    formula-like text cells neutralised."""
    return neutralize_formulas(frame).to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(sheets: Sequence[tuple[str, pd.DataFrame]]) -> bytes:
    """Return an Excel workbook with one sheet per (name, frame); names cut to Excel's 31."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        used: set[str] = set()
        for name, frame in sheets:
            sheet = name[:31]
            n = 1
            while sheet in used:
                n += 1
                sheet = f"{name[:28]}~{n}"
            used.add(sheet)
            _excel_ready(neutralize_formulas(frame)).to_excel(writer, sheet_name=sheet, index=False)
    return buffer.getvalue()


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    # openpyxl rejects timezone-aware datetimes and pandas extension NA; plain objects pass.
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
        elif pd.api.types.is_extension_array_dtype(out[col].dtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def html_zip(data: ReportData) -> bytes:
    """Return a zip of the HTML report bundle (zh and en pages plus the ECharts assets)."""
    buffer = io.BytesIO()
    with TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        render_html_bundle(data, Path(tmp))
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tmp).as_posix())
    return buffer.getvalue()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of ``frame`` as JSON-ready dicts (NaN and NA become null, dates ISO)."""
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return out


def display_rows(
    frame: pd.DataFrame,
    lang: Lang,
    symbol: str = "¥",
    kinds: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """Return ``frame``'s cells formatted for people in ``lang`` (report.fmt rules; note types and
    models by their labels; ``kinds`` overrides a column's format kind)."""
    kinds = kinds or {}
    columns = [str(c) for c in frame.columns]
    out = []
    for record in frame.itertuples(index=False, name=None):
        out.append(
            [
                _display(col, value, lang, symbol, kinds)
                for col, value in zip(columns, record, strict=True)
            ]
        )
    return out


def format_cell(
    column: str, value: Any, lang: Lang, symbol: str = "¥", kinds: Mapping[str, str] | None = None
) -> str:
    """Format one value of ``column`` for people in ``lang`` (see :func:`display_rows`)."""
    return _display(column, value, lang, symbol, kinds or {})


def _display(column: str, value: Any, lang: Lang, symbol: str, kinds: Mapping[str, str]) -> str:
    if is_missing(value):
        return MISSING
    if column in kinds:
        return format_value(value, cast(Kind, kinds[column]), lang, symbol)
    if column == "note_type":
        return note_type_label(str(value), lang)
    if column == "model":
        return model_label(str(value), lang)
    if column == "stage":
        return stage_label(str(value), lang)
    if column.startswith("orders_"):
        return format_value(value, "decimal", lang, symbol)
    if column.startswith("touched_"):
        return format_column(column.removeprefix("touched_"), value, lang, symbol)
    return format_column(column, value, lang, symbol)


def header_label(column: str, lang: Lang) -> str:
    """Return a column's header in ``lang`` (``orders_<model>``: the model's name)."""
    if column.startswith("orders_"):
        return model_label(column.removeprefix("orders_"), lang)
    return metric_label(column, lang)
