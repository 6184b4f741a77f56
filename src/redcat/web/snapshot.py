"""Precomputed report snapshots: what the dashboard and API serve, built after ingest or match.

A snapshot is one brand's :class:`ReportData` for one *scope* — every retailer (``all``) or one
retailer — written as Parquet tables plus ``meta.json`` under ``<root>/<brand_id>/<scope>/``.
:func:`refresh` rebuilds every brand's snapshots from the store and swaps each brand's folder in
atomically (readers never see a half-written brand); :func:`load_snapshot` turns a folder back into
the :class:`ReportData` it was made from, sections included, so every renderer works unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd

from redcat.engine.core import Engine
from redcat.engine.store import attach_read_only, connect
from redcat.errors import AccessDenied, PrivacyBudgetExceeded, StoreError
from redcat.match.accounts import authorize
from redcat.privacy.ledger import BudgetLedger
from redcat.report.assemble import build_report
from redcat.report.brand import build_brand_report, open_ledger
from redcat.report.data import FRAME_COLUMNS, ReportData, view_meta, with_view_meta
from redcat.report.section import Section, SectionChart, SectionTable, Text2
from redcat.settings import Settings

ALL = "all"
META = "meta.json"
FORMAT_VERSION = 1
#: Frame fields of ReportData written as ``<name>.parquet`` (``truth`` only when present).
FRAMES: tuple[str, ...] = tuple(FRAME_COLUMNS)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RefreshResult:
    """What one :func:`refresh` wrote: brands, scopes per brand and wall seconds taken.
    ``held``: brand → scopes whose new release the brand's privacy budget refused (brand view):
    the figures released before were kept, or the scope has no snapshot when there were none."""

    brands: tuple[str, ...]
    scopes: Mapping[str, tuple[str, ...]]
    seconds: float
    held: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


#: Timestamped tables of the store and the column a day range cuts them on (inclusive days).
#: Events and spend outside the range are left out; ``notes`` keeps the notes published by the
#: range's last day (a later note did not exist yet); the content platform's shipped aggregates
#: keep their per-day rows in the range (their other levels cannot be cut, see
#: :data:`RANGE_CAVEATS`). Dimension and assignment tables (shops, brand terms, accounts,
#: holdouts) are not events and stay whole.
RANGE_COLUMNS: Mapping[str, str] = {
    "content_events": "ts",
    "cr_content_events": "ts",
    "commerce_events": "ts",
    "cr_commerce_events": "ts",
    "spend": "date",
}


def _range_where(name: str, days: tuple[date, date]) -> str | None:
    """Return the SQL condition restricting table ``name`` to ``days``, None to keep it whole."""
    first, last = days
    after = last + timedelta(days=1)
    if name in RANGE_COLUMNS:
        col = RANGE_COLUMNS[name]
        if col == "date":
            return f"\"{col}\" BETWEEN DATE '{first}' AND DATE '{last}'"
        return f"\"{col}\" >= TIMESTAMP '{first}' AND \"{col}\" < TIMESTAMP '{after}'"
    if name == "notes":
        return f"published_at < TIMESTAMP '{after}'"
    if name == "platform_metrics":
        return f"level <> 'day' OR TRY_CAST(key AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'"
    return None


def _scoped_engine(
    store: Path, retailer_id: str | None = None, days: tuple[date, date] | None = None
) -> Engine:
    """Open an in-memory engine whose tables are views of ``store``, restricted to one retailer
    and/or to an inclusive range of days.

    Every table of the store appears under its own name. With ``retailer_id``, one with a
    ``retailer_id`` column keeps only that retailer's rows, so the unchanged measurement code
    measures that retailer alone. With ``days`` (first, last), the timestamped tables keep only
    the rows of those days (see :data:`RANGE_COLUMNS`): the measurements then see the world as if
    only the events of those days had happened, so look-back windows (attribution, the funnel
    window, 新客's 365 days) do not reach before the first day.
    """
    con = duckdb.connect(":memory:")
    attach_read_only(con, store, "src")
    rows = con.execute(
        "SELECT table_name, bool_or(column_name = 'retailer_id') FROM information_schema.columns "
        "WHERE table_catalog = 'src' AND table_schema = 'main' GROUP BY table_name"
    ).fetchall()
    for name, has_retailer in rows:
        where = []
        if retailer_id is not None and has_retailer:
            where.append(f"retailer_id = '{_sql_str(retailer_id)}'")
        if days is not None and (cut := _range_where(name, days)) is not None:
            where.append(f"({cut})")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM src.main."{name}"{clause}')
    return Engine(ibis=ibis.duckdb.from_connection(con), duck=con, path=store)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _text2(value: Text2 | None) -> dict[str, str] | None:
    return None if value is None else {"zh": value.zh, "en": value.en}


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    # Parquet needs one type per column: object columns mixing str and numbers become strings.
    out = frame.reset_index(drop=True).copy()
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object:
            values = out[col].dropna()
            if not values.map(lambda v: isinstance(v, str)).all():
                out[col] = out[col].map(lambda v: None if v is None else str(v)).astype("string")
    return out


def write_snapshot(data: ReportData, folder: Path, scope: str = ALL) -> Path:
    """Write ``data`` as one snapshot folder (Parquet per frame, ``meta.json``); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    sections: list[dict[str, Any]] = []
    for s_index, section in enumerate(data.sections):
        tables = []
        for t_index, table in enumerate(section.tables):
            file = f"section_{s_index}_{t_index}.parquet"
            _parquet_safe(table.frame).to_parquet(folder / file, index=False)
            tables.append(
                {
                    "key": table.key,
                    "title": _text2(table.title),
                    "file": file,
                    "columns": list(table.columns),
                    "headers": {k: _text2(v) for k, v in table.headers.items()},
                    "kinds": dict(table.kinds),
                    "caption": _text2(table.caption),
                    "highlight": sorted(int(i) for i in table.highlight),
                }
            )
        sections.append(
            {
                "key": section.key,
                "title": _text2(section.title),
                "tables": tables,
                "charts": [
                    {
                        "key": c.key,
                        "title": _text2(c.title),
                        "options": {k: v for k, v in c.options.items()},
                        "height": c.height,
                    }
                    for c in section.charts
                ],
                "notes": [_text2(n) for n in section.notes],
            }
        )
    for name in FRAMES:
        frame = getattr(data, name)
        if frame is not None:
            _parquet_safe(frame).to_parquet(folder / f"{name}.parquet", index=False)
    meta = {
        "format": FORMAT_VERSION,
        "brand_id": data.brand_id,
        "scope": scope,
        "period_start": data.period_start.isoformat(),
        "period_end": data.period_end.isoformat(),
        "retailers": list(data.retailers),
        "generated_at": data.generated_at.isoformat(),
        "windows": dict(data.windows),
        "kpis": {k: (None if v is None else float(v)) for k, v in data.kpis.items()},
        "notes_md": list(data.notes_md),
        "currency_symbol": data.currency_symbol,
        "has_truth": data.truth is not None,
        "sections": sections,
        "view_meta": view_meta(data),
    }
    _write_meta(folder, meta)
    return folder


def _write_meta(folder: Path, meta: Mapping[str, Any]) -> None:
    (folder / META).write_text(
        json.dumps(meta, ensure_ascii=False, default=_json_default), encoding="utf-8"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars in chart options
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def _t2(raw: Mapping[str, str] | None) -> Text2 | None:
    return None if raw is None else Text2(raw["zh"], raw["en"])


def read_meta(folder: Path) -> dict[str, Any]:
    """Return a snapshot folder's ``meta.json``; :class:`StoreError` when absent or unreadable."""
    try:
        meta: dict[str, Any] = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"no readable report snapshot in {folder}") from exc
    return meta


def load_snapshot(folder: Path) -> ReportData:
    """Read a snapshot folder back into the :class:`ReportData` that was written there."""
    meta = read_meta(folder)
    frames = {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in FRAMES
        if (folder / f"{name}.parquet").exists()
    }
    sections = []
    for s in meta["sections"]:
        tables = tuple(
            SectionTable(
                key=t["key"],
                title=Text2(**t["title"]),
                frame=pd.read_parquet(folder / t["file"]),
                columns=tuple(t["columns"]),
                headers={k: Text2(**v) for k, v in t["headers"].items()},
                kinds=t["kinds"],
                caption=_t2(t["caption"]),
                highlight=frozenset(t["highlight"]),
            )
            for t in s["tables"]
        )
        charts = tuple(
            SectionChart(
                key=c["key"], title=Text2(**c["title"]), options=c["options"], height=c["height"]
            )
            for c in s["charts"]
        )
        notes = tuple(Text2(**n) for n in s["notes"])
        sections.append(Section(s["key"], Text2(**s["title"]), tables, charts, notes))
    daily = frames["daily"]
    if "date" in daily.columns:
        daily = daily.assign(date=pd.to_datetime(daily["date"]).dt.date)
    data = ReportData(
        brand_id=meta["brand_id"],
        period_start=date.fromisoformat(meta["period_start"]),
        period_end=date.fromisoformat(meta["period_end"]),
        retailers=tuple(meta["retailers"]),
        generated_at=datetime.fromisoformat(meta["generated_at"]),
        windows=meta["windows"],
        kpis=meta["kpis"],
        funnel=frames["funnel"],
        daily=daily,
        notes=frames["notes"],
        creators=frames["creators"],
        campaigns=frames["campaigns"],
        credits=frames["credits"],
        model_scores=frames["model_scores"],
        truth=frames.get("truth"),
        notes_md=tuple(meta["notes_md"]),
        currency_symbol=meta["currency_symbol"],
        sections=tuple(sections),
    )
    return with_view_meta(data, meta.get("view_meta", {}))


def brand_folder(root: Path, brand_id: str) -> Path:
    """Return the folder of ``brand_id``'s snapshots under ``root``."""
    return root / _safe_name(brand_id)


def scope_folder(root: Path, brand_id: str, scope: str) -> Path:
    """Return the folder of one brand's snapshot for ``scope`` (``all`` or a retailer id)."""
    return brand_folder(root, brand_id) / _safe_name(scope)


def _safe_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise StoreError(f"not a usable brand or retailer id for a folder name: {name!r}")
    return name


def snapshot_brands(root: Path) -> list[str]:
    """Return the brand ids that have a complete ``all`` snapshot under ``root``, sorted."""
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / ALL / META).exists()
    )


def _swap_in(staged: Path, target: Path) -> None:
    # rename is atomic on one file system; the old folder is moved aside first and removed after,
    # so a reader sees the old brand or the new one, never a mix.
    old = target.with_name(f".old-{target.name}-{os.getpid()}")
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _allowed(engine: Engine, brand_id: str) -> bool:
    try:
        authorize(engine, brand_id)
    except AccessDenied:
        return False
    return True


def measure(
    engine: Engine,
    brand_id: str,
    settings: Settings,
    *,
    question: Mapping[str, str],
    ledger: BudgetLedger | None,
    truth: pd.DataFrame | None = None,
) -> ReportData:
    """Return ``brand_id``'s report on ``engine`` as the dashboard serves it.

    ``settings.web.view`` decides whose report it is: ``operator`` — the exact
    :func:`~redcat.report.assemble.build_report` (scored against ``truth`` when given);
    ``brand`` — :func:`~redcat.report.brand.build_brand_report`, one release paid from
    ``brand_id``'s budget in ``ledger`` and keyed by ``question`` (the scope and date range the
    engine was cut to), so asking the same question of the same data again this month returns
    the stored answer and spends nothing. Raises
    :class:`~redcat.errors.PrivacyBudgetExceeded` (nothing spent) when the budget does not
    cover a new release.
    """
    if settings.web.view == "operator":
        return build_report(engine, brand_id, settings, truth=truth)
    return build_brand_report(engine, brand_id, settings, ledger=ledger, scope=question)


#: The caveat a snapshot kept by a budget refusal gains (English, as the report's others).
HELD_CAVEAT = (
    "Privacy budget: the brand's budget for {period} does not cover a new release of these "
    "figures, so they are the ones released on {released} (newer data is not in them); they "
    "renew when the budget does (next month, or when the operator raises it)."
)


def _carry_forward(old: Path, target: Path, period: str) -> bool:
    """Copy the whole-period snapshot ``old`` (already released to the brand, so showing it
    again costs nothing) to ``target`` with :data:`HELD_CAVEAT` added; False when there is none."""
    if not (old / META).exists():
        return False
    shutil.copytree(old, target, ignore=shutil.ignore_patterns(RANGES))
    meta = read_meta(target)
    released = str(meta.get("held_since") or meta["generated_at"])[:10]
    caveat = HELD_CAVEAT.format(period=period, released=released)
    meta["notes_md"] = [n for n in meta["notes_md"] if not n.startswith("Privacy budget: ")]
    meta["notes_md"].append(caveat)
    meta["held_since"] = released
    _write_meta(target, meta)
    return True


def refresh(
    store: Path,
    root: Path,
    settings: Settings | None = None,
    *,
    brands: Sequence[str] | None = None,
    truth: pd.DataFrame | None = None,
    per_retailer: bool = True,
    ledger: BudgetLedger | None = None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Rebuild report snapshots of ``brands`` (default: every brand with notes) from ``store``.

    Writes one ``all`` snapshot per brand and, in the operator view with ``per_retailer``, one
    per retailer (the measurements rerun on that retailer's rows alone, so the retailer filter
    changes every figure consistently), each measured by :func:`measure`. In the brand view
    each snapshot is one release from the brand's budget in ``ledger`` (default: the one
    ``settings.privacy.ledger_url`` names, else an in-memory ledger for this call), so only
    ``all`` is released here and each retailer when the brand first opens it
    (:func:`on_demand_scopes`); a release the budget refuses keeps the figures released before
    (:data:`HELD_CAVEAT`), or leaves the brand out when there were none. Returns what was
    written and the seconds it took (wall clock).
    """
    settings = settings or Settings()
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    opened: list[BudgetLedger] = []  # the ledger this call opens, on first use
    held: dict[str, tuple[str, ...]] = {}

    def book() -> BudgetLedger | None:
        if ledger is not None or settings.web.view == "operator":
            return ledger
        if not opened:
            opened.append(open_ledger(settings))
        return opened[0]

    def snapshot(engine: Engine, brand_id: str, scope: str, stage: Path) -> bool:
        try:
            data = measure(
                engine, brand_id, settings, question={"scope": scope}, ledger=book(), truth=truth
            )
        except PrivacyBudgetExceeded:
            held[brand_id] = (*held.get(brand_id, ()), scope)
            spent_from = book()
            period = spent_from.period() if spent_from is not None else ""
            old = scope_folder(root, brand_id, scope)
            return _carry_forward(old, stage / _safe_name(scope), period)
        write_snapshot(data, stage / _safe_name(scope), scope)
        return True

    try:
        con = connect(store, read_only=True)
        try:
            engine = Engine(ibis=ibis.duckdb.from_connection(con), duck=con, path=store)
            if brands:
                chosen = list(brands)
                for brand_id in chosen:  # an operator naming a brand gets its account checked
                    authorize(engine, brand_id)
            else:  # every brand with notes whose three-party account allows a report
                chosen = [
                    b for b in engine.distinct_values("notes", "brand_id") if _allowed(engine, b)
                ]
            retailers = engine.distinct_values("cr_commerce_events", "retailer_id")
            _write_match_runs(con, root)
            staged: dict[str, Path] = {}
            for brand_id in chosen:
                step(f"{brand_id}: all retailers")
                stage = root / f".stage-{_safe_name(brand_id)}-{os.getpid()}"
                shutil.rmtree(stage, ignore_errors=True)
                stage.mkdir(parents=True)
                snapshot(engine, brand_id, ALL, stage)
                staged[brand_id] = stage
        finally:
            con.close()
        scopes: dict[str, tuple[str, ...]] = {
            b: (ALL,) for b, stage in staged.items() if (stage / ALL / META).exists()
        }
        # The brand view releases a retailer's figures only when the brand opens that retailer
        # (an on-demand snapshot, see :func:`on_demand_scopes`): each release spends budget.
        if per_retailer and len(retailers) > 1 and settings.web.view == "operator":
            for retailer_id in retailers:
                scoped = _scoped_engine(store, retailer_id)
                try:
                    for brand_id in scopes:
                        step(f"{brand_id}: {retailer_id}")
                        if snapshot(scoped, brand_id, retailer_id, staged[brand_id]):
                            scopes[brand_id] = (*scopes[brand_id], retailer_id)
                finally:
                    scoped.close()
    finally:
        for opened_ledger in opened:
            opened_ledger.engine.dispose()
    for brand_id, stage in staged.items():
        if brand_id in scopes:
            _swap_in(stage, brand_folder(root, brand_id))
        else:  # refused, and nothing was released before: the brand has no snapshot yet
            shutil.rmtree(stage, ignore_errors=True)
    return RefreshResult(tuple(scopes), scopes, time.perf_counter() - started, held)


RANGES = "ranges"


class StaleRange(StoreError):
    """A range build whose brand snapshots were refreshed while it ran (its result is dropped;
    building it again measures the new data)."""


#: What a range snapshot's report adds to its caveats (the range semantics, in English as the
#: report's other caveats; the pages say it in zh and en).
RANGE_CAVEATS: tuple[str, ...] = (
    "Date range {start} to {end}: measured as if only the events of those days had happened "
    "(content and commerce events, spend); distinct people, attribution and lift count that "
    "range alone, and look-back windows (attribution, the funnel window, new customers' 365 "
    "days) do not reach before {start}.",
    "Within a range, the ad-link section (operational clicks) and any platform-wide aggregate "
    "the content platform shipped per brand, note, creator or campaign cover the whole period; "
    "model scores against ground truth are left out (the truth is whole-period).",
)


def range_name(days: tuple[date, date]) -> str:
    """Return the folder name of a day range: ``<first>_<last>`` in ISO dates."""
    return f"{days[0].isoformat()}_{days[1].isoformat()}"


def range_folder(root: Path, brand_id: str, scope: str, days: tuple[date, date]) -> Path:
    """Return the folder of one brand's *range snapshot* for ``scope`` and the inclusive
    ``days`` (first, last): ``<root>/<brand>/<scope>/ranges/<first>_<last>/``. It lives inside
    the brand's folder, so a :func:`refresh` (new data) drops every range snapshot with it."""
    return scope_folder(root, brand_id, scope) / RANGES / range_name(days)


def build_range(
    store: Path,
    root: Path,
    brand_id: str,
    scope: str,
    days: tuple[date, date],
    settings: Settings | None = None,
    *,
    ledger: BudgetLedger | None = None,
) -> Path:
    """Measure ``brand_id`` for ``scope`` (``all`` or a retailer id) over the inclusive ``days``
    and write it as a range snapshot (:func:`range_folder`); return its folder.

    The store is read through :func:`_scoped_engine` views (see there for the semantics) and the
    unchanged report (:func:`measure`: in the brand view one release from ``ledger``, keyed by
    scope and days) runs on them; the report's period is the range and its caveats gain
    :data:`RANGE_CAVEATS`. Written under a staging name and renamed into place (readers
    never see half a snapshot); the brand's whole-period snapshot must exist, and if a refresh
    replaced it while this build ran the result is thrown away (:class:`StaleRange`), since it
    may mix old data into the new snapshots. Raises :class:`AccessDenied` for a brand whose
    three-party account does not allow a report (:class:`~redcat.errors.PrivacyBudgetExceeded`
    when the brand's budget does not cover it), :class:`StoreError` when the store cannot be
    read.
    """
    settings = settings or Settings()
    # A refresh replaces the brand's whole folder, so the ``all`` snapshot dates every scope.
    base = scope_folder(root, brand_id, ALL) / META
    if (
        scope != ALL
        and not (scope_folder(root, brand_id, scope) / META).exists()
        and scope not in on_demand_scopes(root, brand_id)
    ):
        raise StoreError(f"no snapshot of brand {brand_id!r} for scope {scope!r}")
    try:
        generation = base.stat().st_mtime_ns
    except OSError as exc:
        raise StoreError(f"no snapshot of brand {brand_id!r} for scope {scope!r}") from exc
    start, end = days
    question = {"scope": scope, "start": start.isoformat(), "end": end.isoformat()}
    engine = _scoped_engine(store, None if scope == ALL else scope, days)
    try:
        authorize(engine, brand_id)
        # ledger None: the brand view opens (and closes) the one the settings name
        data = measure(engine, brand_id, settings, question=question, ledger=ledger)
    finally:
        engine.close()
    whole = read_meta(base.parent)
    period = (date.fromisoformat(whole["period_start"]), date.fromisoformat(whole["period_end"]))
    # an on-demand retailer scope's whole period is no range: no range caveats
    caveats = () if days == period else tuple(c.format(start=start, end=end) for c in RANGE_CAVEATS)
    data = replace(data, period_start=start, period_end=end, notes_md=(*data.notes_md, *caveats))
    target = range_folder(root, brand_id, scope, days)
    stage = root / f".range-{_safe_name(brand_id)}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        write_snapshot(data, stage, scope)
        try:
            unchanged = base.stat().st_mtime_ns == generation
        except OSError:
            unchanged = False
        if not unchanged:
            raise StaleRange(f"the snapshots of {brand_id!r} were refreshed during a range build")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            stage.rename(target)
        except OSError:
            if not (target / META).exists():  # else another process built it first: keep that
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


def range_snapshots(root: Path, brand_id: str) -> list[Path]:
    """Return the folders of ``brand_id``'s range snapshots (every scope), most recently used
    first (a folder's modification time is its last use, see :func:`touch`)."""
    folder = brand_folder(root, brand_id)
    found = [p for p in folder.glob(f"*/{RANGES}/*") if (p / META).exists()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def touch(folder: Path) -> None:
    """Mark a range snapshot as just used (its folder's modification time; meta.json is left
    alone, since readers reload a snapshot whose meta.json changed)."""
    with contextlib.suppress(OSError):  # dropped by a refresh or an eviction meanwhile
        os.utime(folder)


def evict_ranges(root: Path, brand_id: str, keep: int, *, spare: Path | None = None) -> int:
    """Remove ``brand_id``'s least recently used range snapshots beyond ``keep`` (never
    ``spare``, the one just built); return how many were removed."""
    folders = [p for p in range_snapshots(root, brand_id) if p != spare]
    budget = keep - (1 if spare is not None else 0)
    removed = 0
    for old in folders[max(budget, 0) :]:
        shutil.rmtree(old, ignore_errors=True)
        removed += 1
    return removed


MATCH_RUNS = "match_runs.parquet"


def _write_match_runs(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    # Operators see match runs (counts and rates per retailer, no user data) from the snapshot
    # folder, so the web process never competes with ingest or match for the store.
    if not con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'match_runs'"
    ).fetchall():
        return
    frame = con.execute("SELECT * FROM match_runs ORDER BY ran_at DESC, retailer_id").df()
    staged = root / f".{MATCH_RUNS}.{os.getpid()}"
    frame.to_parquet(staged, index=False)
    os.replace(staged, root / MATCH_RUNS)


def read_match_runs(root: Path) -> pd.DataFrame:
    """Return the store's match runs as of the last refresh (empty frame when none)."""
    path = root / MATCH_RUNS
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def scopes_of(root: Path, brand_id: str, on_demand: Sequence[str] | None = None) -> list[str]:
    """Return the scopes ``brand_id`` can be shown: ``all`` first, then retailers sorted — those
    with a snapshot and those measured when first opened (``on_demand``, default
    :func:`on_demand_scopes`; a server passes what its loaded report says)."""
    folder = brand_folder(root, brand_id)
    if not folder.is_dir():
        return []
    found = {p.name for p in folder.iterdir() if (p / META).exists() and p.name != ALL}
    found |= set(on_demand_scopes(root, brand_id) if on_demand is None else on_demand)
    return [ALL, *sorted(found)] if (folder / ALL / META).exists() else sorted(found)


def on_demand_of(view: str, retailers: Sequence[str]) -> list[str]:
    """Return the retailer scopes measured only when first opened, sorted, for an ``all``
    snapshot of ``view`` covering ``retailers``: every retailer of a multi-retailer brand view
    (each snapshot a release from the brand's budget); none in the operator view, which
    refreshes them all."""
    return sorted(str(r) for r in retailers) if view == "brand" and len(retailers) > 1 else []


def on_demand_scopes(root: Path, brand_id: str) -> list[str]:
    """Return the retailer scopes of ``brand_id`` measured only when first opened
    (:func:`on_demand_of` of its ``all`` snapshot on disk). Such a scope's whole period is
    built like a date range (:func:`build_range` over the whole period of ``all``)."""
    try:
        meta = read_meta(scope_folder(root, brand_id, ALL))
    except StoreError:
        return []
    return on_demand_of(meta.get("view_meta", {}).get("view", "operator"), meta["retailers"])


def iter_tables(data: ReportData) -> Iterable[tuple[str, pd.DataFrame]]:
    """Yield (name, raw frame) of every table of a report: the core frames, then each section
    table as ``<section>__<table>``."""
    for name in FRAMES:
        frame = getattr(data, name)
        if frame is not None:
            yield name, frame
    for section in data.sections:
        for table in section.tables:
            yield f"{section.key}__{table.key}", table.frame
