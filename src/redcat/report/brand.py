"""The brand view of a report: every figure from matched people released through the privacy layer.

The operator's report (:func:`redcat.report.assemble.build_report`) shows exact figures and is for
the clean-room operator only. A brand receives :func:`build_brand_report` instead:

- **Content figures exact.** Impressions, reach, reads, interactions, their rates and spend are
  the content platform's own data about the brand's own notes, shown to its customer: one owner,
  exact mode (:mod:`redcat.privacy.release`), labelled so.
- **Matched figures released.** Matched reach, back-search users, visitors, carts, orders, GMV,
  new customers and the funnel stages are computed from the engine with each person's
  contribution bounded (:func:`redcat.privacy.funnel.bounded_outcomes`), thresholded per cell on
  distinct matched people (k = the strictest of ``settings.privacy.k`` and every party's,
  :func:`redcat.privacy.funnel.threshold_funnel_table`: withheld cells released together in one
  ``(other)`` row, complementary suppression) and given OpenDP Laplace noise. Rates are computed
  from the released parts afterwards.
- **One release per report.** The whole report is one question paid once from the brand's budget
  (``settings.privacy.release_epsilon["report"]``, split over its tables by
  :data:`PART_WEIGHTS` and within a table evenly over its measures), keyed by brand, scope, data
  version, windows, threshold and bounds (:func:`redcat.privacy.bundle.release_bundle`): asking
  the identical report again in the same month returns the stored noisy answer and spends
  nothing; a report the budget does not cover is refused
  (:class:`~redcat.errors.PrivacyBudgetExceeded`) and spends nothing.
- **Withheld.** The attribution model comparison (data-driven models redistribute every order,
  so one person's effect on a note's credit is not bounded) and the sections not yet released
  through the privacy layer are left out, and the report says so. Nothing exact about matched
  people is ever placed in the brand view.

Orders and GMV per note, creator and campaign in the brand view are *touched* figures (an order
counts for every note touched within the funnel window before it), not model credits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from redcat.engine.core import Engine
from redcat.errors import ConfigError, StoreError
from redcat.funnel.metrics import (
    STAGES,
    FunnelSources,
    daily_table,
    funnel_sources,
    level_table,
)
from redcat.privacy.bounds import ContributionBounds
from redcat.privacy.bundle import BundlePart, BundleRelease, ReleasedPart, release_bundle
from redcat.privacy.funnel import bounded_outcomes, threshold_funnel_table
from redcat.privacy.ledger import BudgetLedger, BudgetStatus
from redcat.privacy.lift import CELL, ArmSums, arm_sums, lift_from_sums
from redcat.privacy.noise import noisy_rate
from redcat.privacy.notes import release_sources
from redcat.privacy.thresholds import OTHER, below_k_label, strictest_k
from redcat.report.brand_lift import brand_lift_section, no_lift_section
from redcat.report.data import KPI_KEYS, MODELS, ReportData
from redcat.report.section import Section, SectionTable, Text2
from redcat.report.sections.privacy import budget_table
from redcat.settings import Settings

#: The question's name in the budget ledger.
BRAND_REPORT = "report.brand"
#: The release kind a brand report spends (``settings.privacy.release_epsilon[REPORT_KIND]``).
REPORT_KIND = "report"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Level:
    """One released table of the brand view: bundle ``part`` name, ``key`` column, the funnel
    ``level`` its content figures come from (None: the daily table), the outcome columns
    computed (``compute``: people columns thresholded on, with what is released with them),
    those ``released`` (people columns only thresholded on are not released, saving ε), the
    table's ``weight`` in the report's ε and the cells one person may count in (None: the
    setting's ``max_cells_per_user``)."""

    part: str
    key: str
    level: str | None
    compute: tuple[str, ...]
    released: tuple[str, ...]
    weight: float
    cells: int | None = None


_STAGE_PEOPLE: tuple[str, ...] = (
    "matched_reach",
    "matched_read_users",
    "matched_interaction_users",
    "back_search_users",
    "visitors",
    "cart_users",
    "buyers",
)
_BRAND_ALL: tuple[str, ...] = (*_STAGE_PEOPLE, "carts", "orders", "gmv", "new_customers")
_LEVEL_OUT: tuple[str, ...] = ("back_search_users", "visitors", "orders", "gmv")

#: The brand view's released tables. Weights: the headline totals and the notes table carry the
#: most figures a brand reads, so they get the larger shares of the report's ε.
LEVELS: tuple[Level, ...] = (
    Level("brand", "brand_id", "brand", _BRAND_ALL, _BRAND_ALL, 2.0, cells=1),
    Level(
        "notes",
        "note_id",
        "note",
        ("matched_reach", "back_search_users", "visitors", "carts", "orders", "new_customers"),
        (
            "matched_reach",
            "back_search_users",
            "visitors",
            "carts",
            "orders",
            "gmv",
            "new_customers",
        ),
        2.0,
    ),
    Level("daily", "date", None, ("back_search_users", "visitors", "orders"), _LEVEL_OUT, 1.0),
    Level(
        "creators",
        "creator_id",
        "creator",
        ("back_search_users", "visitors", "orders"),
        _LEVEL_OUT,
        1.0,
    ),
    Level(
        "campaigns",
        "campaign_id",
        "campaign",
        ("back_search_users", "visitors", "orders"),
        _LEVEL_OUT,
        1.0,
    ),
)
#: The holdout lift's table and its weight (present only for brands with holdout campaigns).
LIFT_PART = "lift"
LIFT_WEIGHT = 1.0
#: Share of the report's ε per table (part name → weight), as :data:`LEVELS` sets them.
PART_WEIGHTS: Mapping[str, float] = {
    **{lv.part: lv.weight for lv in LEVELS},
    LIFT_PART: LIFT_WEIGHT,
}

#: Content platform's own figures (single owner, exact) kept from the funnel's tables.
CONTENT_COLUMNS: tuple[str, ...] = (
    "title",
    "creator_id",
    "note_type",
    "campaign_id",
    "notes",
    "impressions",
    "reach",
    "reads",
    "ctr",
    "interactions",
    "interaction_rate",
    "spend",
)
#: Sections the brand view leaves out, by key (they are not yet released through the privacy
#: layer); the privacy section states it.
WITHHELD_SECTIONS: Mapping[str, Text2] = {
    "assets": Text2("人群资产（AIPS）", "audience assets (AIPS)"),
    "links": Text2("种草直达链接", "种草直达 links"),
    "calibration": Text2("校准归因", "calibrated credits"),
    "roi": Text2("决策周期 ROI", "decision-cycle ROI(T+x)"),
}
#: Withheld from the brand view: the attribution model comparison.
WITHHELD_MODELS = Text2(
    "归因模型对比不在品牌视图中：数据驱动模型（马尔可夫、Shapley）会重新分配所有订单，"
    "单个用户对一篇笔记归因值的影响没有上限，尚未通过隐私层发布。",
    "The attribution model comparison is withheld from the brand view: data-driven models "
    "(Markov, Shapley) redistribute every order, so one person's effect on a note's credit has "
    "no bound; it is not yet released through the privacy layer.",
)


def data_version(engine: Engine) -> str:
    """Return a short fingerprint of the store's data (row counts and latest timestamps of the
    notes, spend and clean-room tables): a new load changes it, so a report asked after new data
    arrived is a new question."""
    parts: list[list[str]] = []
    for name in ("notes", "spend", "cr_content_events", "cr_commerce_events"):
        if not engine.has_table(name):
            parts.append([name, "absent"])
            continue
        t = engine.table(name)
        stamp = "ts" if "ts" in t.columns else ("date" if "date" in t.columns else None)
        expr = t.aggregate(n=t.count(), last=t[stamp].max()) if stamp else t.aggregate(n=t.count())
        row = engine.execute(expr).iloc[0]
        parts.append([name, *(str(v) for v in row.tolist())])
    canonical = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def open_ledger(settings: Settings) -> BudgetLedger:
    """Return the budget ledger ``settings.privacy.ledger_url`` names, or a fresh in-memory one
    (this run only; the report says so) when it names none."""
    url = settings.privacy.ledger_url
    if url:
        return BudgetLedger.open(url, settings.privacy)
    return BudgetLedger.in_memory(settings.privacy)


@dataclass(frozen=True, eq=False)
class _Prepared:
    content: dict[str, pd.DataFrame]
    thresholded: dict[str, pd.DataFrame]
    parts: list[BundlePart]
    lift: ArmSums | None = None


def _bounds(settings: Settings, cells: int | None) -> ContributionBounds:
    base = ContributionBounds.from_settings(settings.privacy)
    if cells is None:
        return base
    return ContributionBounds(cells, base.max_events_per_cell, base.value_bound)


def _content_table(
    engine: Engine, brand_id: str, sources: FunnelSources, level: Level
) -> pd.DataFrame:
    table = (
        daily_table(engine, brand_id, sources)
        if level.level is None
        else level_table(engine, brand_id, sources, level.level)  # type: ignore[arg-type]
    )
    keep = [level.key, *(c for c in CONTENT_COLUMNS if c in table.columns and c != level.key)]
    return table[keep].reset_index(drop=True)


def _prepare(
    engine: Engine, brand_id: str, settings: Settings, sources: FunnelSources, k: int
) -> _Prepared:
    content: dict[str, pd.DataFrame] = {}
    thresholded: dict[str, pd.DataFrame] = {}
    parts: list[BundlePart] = []
    for level in LEVELS:
        table = _content_table(engine, brand_id, sources, level)
        content[level.part] = table
        bounds = _bounds(settings, level.cells)
        outcomes = bounded_outcomes(engine, sources, level.key, bounds, columns=level.compute)
        measures = outcomes.measures
        computed = [m.column for m in measures]
        cells = table[[level.key]].merge(outcomes.frame, on=level.key, how="left")
        for m in measures:
            cells[m.column] = cells[m.column].fillna(0).astype("int64" if m.integer else "float64")
        done = threshold_funnel_table(
            cells[[level.key, *computed]], level.key, k, outcomes.union_users
        )
        thresholded[level.part] = done
        released = tuple(m for m in measures if m.column in level.released)
        frame = done[[level.key, *(m.column for m in released)]]
        parts.append(BundlePart(level.part, level.key, frame, released, level.weight))
    lift = _lift_arms(engine, brand_id, settings, k)
    # Lift needs both arms of a campaign: when no campaign has both released, nothing is paid.
    if lift is not None and len(lift_from_sums(lift.frame, lift.spend)):
        columns = [CELL, *(m.column for m in lift.measures)]
        parts.append(BundlePart(LIFT_PART, CELL, lift.frame[columns], lift.measures, LIFT_WEIGHT))
    return _Prepared(content, thresholded, parts, lift)


def _lift_arms(engine: Engine, brand_id: str, settings: Settings, k: int) -> ArmSums | None:
    """The brand's holdout arms, bounded and thresholded; None without holdout campaigns."""
    if not engine.has_table("cr_holdouts"):
        return None
    bounds = ContributionBounds.from_settings(settings.privacy)
    arms = arm_sums(engine, brand_id, bounds, window_days=settings.windows.funnel_days, k=k)
    return arms if len(arms.frame) else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _join(
    content: pd.DataFrame, thresholded: pd.DataFrame, part: ReleasedPart, key: str
) -> pd.DataFrame:
    """Return the content table with the released measures (and the suppression flags) joined
    by key, plus the other row (content figures empty) when the release has one."""
    flags = [c for c in thresholded.columns if c.startswith("suppressed_")]
    flagged = thresholded[[key, *flags]].assign(_key=thresholded[key].map(_text))
    released = part.frame.rename(columns={key: "_key"}).merge(
        flagged.drop(columns=[key]), on="_key", how="left"
    )
    left = content.assign(_key=content[key].map(_text))
    out = left.merge(released, on="_key", how="left")
    other = released[released["_key"] == OTHER]
    if len(other):
        row = other.assign(**{key: OTHER})
        out = pd.concat([out, row], ignore_index=True)
    for flag in flags:
        out[flag] = out[flag].fillna(False).astype(bool)
    out["is_other"] = out["_key"] == OTHER
    if "title" in out:
        out.loc[out["is_other"], "title"] = OTHER
    return out.drop(columns=["_key"])


def add_released_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` (released people, money and spend columns; NaN where withheld) with the
    funnel's rates computed from those released parts: back-search and visit rates (people ÷
    matched reach, clipped to [0, 1]), cost per visit (spend ÷ visitors, currency per person)
    and ROI (GMV ÷ spend); NaN where a part is withheld or a denominator is 0, and in the other
    row, whose figures come from different withheld cells per outcome."""
    out = frame.copy()
    if "matched_reach" in out:
        out["back_search_rate"] = noisy_rate(out["back_search_users"], out["matched_reach"])
        out["visit_rate"] = noisy_rate(out["visitors"], out["matched_reach"])
    else:
        out["back_search_rate"] = np.nan
        out["visit_rate"] = np.nan
    if "spend" in out:
        out["cost_per_visit"] = noisy_rate(out["spend"], out["visitors"], upper=None)
        out["roi"] = noisy_rate(out["gmv"], out["spend"], upper=None)
    if "is_other" in out:
        # The other row's figures come from different withheld cells per outcome: no rate
        # relates them.
        rates = [c for c in ("back_search_rate", "visit_rate", "cost_per_visit", "roi") if c in out]
        out.loc[out["is_other"], rates] = np.nan
    return out


def _value(frame: pd.DataFrame, column: str) -> float | None:
    if column not in frame or frame.empty:
        return None
    v = float(frame[column].iloc[0])
    return None if math.isnan(v) else v


def _kpis(brand: pd.DataFrame) -> dict[str, float | None]:
    row = add_released_rates(brand.iloc[:1])
    return {k: _value(row, k) for k in KPI_KEYS}


def _stages(brand: pd.DataFrame) -> pd.DataFrame:
    """Funnel stages from the released people counts; rates from released parts (a stage larger
    than the one before it has no step rate, as in the operator's funnel)."""
    counts = [_value(brand, c) for c in _STAGE_PEOPLE]
    reach = counts[0]
    prev: list[float | None] = [None, *counts[:-1]]
    return pd.DataFrame(
        {
            "stage": list(STAGES),
            "users": [np.nan if c is None else c for c in counts],
            "rate_from_previous": [
                c / p if c is not None and p and c <= p else None
                for c, p in zip(counts, prev, strict=True)
            ],
            "rate_from_reach": [
                min(c / reach, 1.0) if c is not None and reach else None for c in counts
            ],
        }
    )


_MEASURE_TEXT: Mapping[str, Text2] = {
    "matched_reach": Text2("匹配曝光人数", "matched reach"),
    "matched_read_users": Text2("阅读人数", "readers"),
    "matched_interaction_users": Text2("互动人数", "interacting people"),
    "back_search_users": Text2("回搜人数", "back-search users"),
    "visitors": Text2("进店人数", "visitors"),
    "cart_users": Text2("加购人数", "cart users"),
    "carts": Text2("加购", "carts"),
    "buyers": Text2("购买人数", "buyers"),
    "orders": Text2("订单", "orders"),
    "gmv": Text2("GMV", "GMV"),
    "new_customers": Text2("新客", "new customers"),
}


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def _error_text(part: ReleasedPart, lang: str, columns: Sequence[str] | None = None) -> str:
    sep = "、" if lang == "zh" else ", "
    shown = columns or list(part.error)
    return sep.join(
        f"{_MEASURE_TEXT[c].get(lang) if c in _MEASURE_TEXT else c} ±{_num(part.error[c])}"
        for c in shown
        if c in part.error
    )


def _withheld_rows(thresholded: pd.DataFrame, key: str) -> int:
    rows = thresholded[thresholded[key] != OTHER]
    flags = [c for c in rows.columns if c.startswith("suppressed_")]
    if not flags:
        return 0
    return int(rows[flags].any(axis=1).sum())


def _caption(part: ReleasedPart, thresholded: pd.DataFrame, key: str, k: int, conf: str) -> Text2:
    withheld = _withheld_rows(thresholded, key)
    total = int((thresholded[key] != OTHER).sum())
    return Text2(
        f"模式：噪声（ε={part.epsilon:.3g}）。在 {conf} 概率下每格误差不超过："
        f"{_error_text(part, 'zh')}。{total} 行中 {withheld} 行至少一个数字少于 {k} 人，"
        f"已隐藏（{below_k_label(k)}，显示为 —），合并为「{OTHER}」行。"
        "曝光、阅读、互动与花费为内容平台自有数据，精确。",
        f"Mode: noisy (ε={part.epsilon:.3g}). With {conf} probability noise moved each figure by "
        f"less than: {_error_text(part, 'en')}. {withheld} of {total} rows have at least one "
        f"figure from fewer than {k} people: withheld ({below_k_label(k)}, shown as —) and "
        f"released together in the {OTHER} row. Impressions, reach, reads, interactions and "
        "spend are the content platform's own data, exact.",
    )


_EXACT = Text2("精确（内容平台自有数据）", "exact (content platform's own data)")
_FROM_PARTS = Text2("由发布数字计算", "computed from released figures")
_KPI_SOURCE: Mapping[str, str] = {
    "matched_reach": "matched_reach",
    "back_search_users": "back_search_users",
    "visitors": "visitors",
    "carts": "carts",
    "orders": "orders",
    "gmv": "gmv",
    "new_customers": "new_customers",
}
_KPI_RATES = ("back_search_rate", "visit_rate", "cost_per_visit", "roi")


def _kpi_modes(part: ReleasedPart, kpis: Mapping[str, float | None], k: int) -> dict[str, Text2]:
    modes: dict[str, Text2] = {}
    for key in kpis:
        if key in _KPI_SOURCE:
            if kpis[key] is None:
                modes[key] = Text2(
                    f"已隐藏（{below_k_label(k)}）", f"withheld ({below_k_label(k)})"
                )
            else:
                err = _num(part.error[_KPI_SOURCE[key]])
                modes[key] = Text2(f"噪声 ±{err}", f"noisy ±{err}")
        elif key in _KPI_RATES:
            modes[key] = _FROM_PARTS
        else:
            modes[key] = _EXACT
    return modes


def _empty_models() -> tuple[pd.DataFrame, pd.DataFrame]:
    credits = pd.DataFrame(
        {
            "model": pd.Series(dtype="object"),
            "note_id": pd.Series(dtype="object"),
            "conversions": pd.Series(dtype="float64"),
            "value": pd.Series(dtype="float64"),
        }
    )
    scores = pd.DataFrame(
        {
            "model": list(MODELS),
            "credited_orders": np.nan,
            "wape": np.nan,
            "rank": pd.array([None] * len(MODELS), dtype="Int64"),
        }
    )
    return credits, scores


def _period(daily: pd.DataFrame) -> tuple[date, date]:
    days = pd.to_datetime(daily.loc[daily["date"] != OTHER, "date"]) if len(daily) else None
    if days is None or days.empty:
        today = datetime.now(UTC).date()
        return today, today
    return days.min().date(), days.max().date()


@dataclass(frozen=True, eq=False)
class PreparedBrandReport:
    """A brand view measured but not yet released: the thresholded tables (exact figures, never
    shown), the question's parameters and what the report needs besides. Release it with
    :func:`release_brand_report`; it holds no engine, so it may outlive the store's connection."""

    brand_id: str
    settings: Settings
    k: int
    params: Mapping[str, Any]
    retailers: tuple[str, ...]
    tables: _Prepared


def prepare_brand_report(
    engine: Engine,
    brand_id: str,
    settings: Settings | None = None,
    *,
    scope: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> PreparedBrandReport:
    """Measure ``brand_id``'s brand view on ``engine`` (bounded outcomes, thresholds; no noise,
    nothing spent) and return it for :func:`release_brand_report`. ``scope`` keys the question
    (see :func:`build_brand_report`). Raises :class:`~redcat.errors.StoreError` when the brand
    has no notes, :class:`~redcat.errors.ConfigError` when the settings give brand reports no
    ε."""
    settings = settings or Settings()
    step = progress or (lambda _msg: None)
    privacy = settings.privacy
    if REPORT_KIND not in privacy.release_epsilon:
        raise ConfigError(f"privacy release_epsilon has no {REPORT_KIND!r} entry for brand reports")
    k = strictest_k(privacy.k, *privacy.party_k.values())
    known = engine.execute(engine.table("notes").filter(lambda t: t.brand_id == brand_id).count())
    if int(known["value"][0]) == 0:
        raise StoreError(f"brand {brand_id!r} has no notes in the store")
    step("brand view: bounded outcomes")
    sources = funnel_sources(engine, brand_id, settings.windows)
    try:
        prepared = _prepare(engine, brand_id, settings, sources, k)
    finally:
        release_sources(sources)
    params = {
        "brand": brand_id,
        "scope": dict(scope or {}),
        "data_version": data_version(engine),
        "windows": {
            "funnel_days": settings.windows.funnel_days,
            "new_customer_days": settings.windows.new_customer_days,
        },
        "k": k,
        "bounds": [privacy.max_cells_per_user, privacy.max_events_per_cell, privacy.value_bound],
    }
    retailers = tuple(engine.distinct_values("cr_commerce_events", "retailer_id"))
    return PreparedBrandReport(brand_id, settings, k, params, retailers, prepared)


def release_brand_report(
    prepared: PreparedBrandReport,
    *,
    ledger: BudgetLedger | None = None,
    period: str | None = None,
) -> ReportData:
    """Release a prepared brand view: one question paid from ``prepared.brand_id``'s budget in
    ``ledger`` (default: the ledger ``settings.privacy.ledger_url`` names, else a fresh in-memory
    one, which the report states), the stored answer when the identical question was asked in
    ``period`` (default: this month). Returns the brand's :class:`ReportData`. Raises
    :class:`~redcat.errors.PrivacyBudgetExceeded` (nothing spent) when the budget does not
    cover it."""
    settings = prepared.settings
    privacy = settings.privacy
    own = ledger is None
    book = ledger or open_ledger(settings)
    try:
        bundle = release_bundle(
            prepared.tables.parts,
            ledger=book,
            brand=prepared.brand_id,
            name=BRAND_REPORT,
            epsilon=privacy.release_epsilon[REPORT_KIND],
            params=prepared.params,
            kind=REPORT_KIND,
            confidence=privacy.confidence,
            period=period,
        )
        status = book.status(prepared.brand_id, bundle.period)
        where = book.description
    finally:
        if own:
            book.engine.dispose()
    return _assemble(prepared, bundle, status, where)


def build_brand_report(
    engine: Engine,
    brand_id: str,
    settings: Settings | None = None,
    *,
    ledger: BudgetLedger | None = None,
    scope: Mapping[str, Any] | None = None,
    period: str | None = None,
    progress: Progress | None = None,
) -> ReportData:
    """Return ``brand_id``'s report as the brand may receive it (see the module docstring):
    content figures exact, figures from matched people thresholded, noisy and paid once from
    ``brand_id``'s budget in ``ledger`` (:func:`prepare_brand_report`, then
    :func:`release_brand_report`).

    ``ledger``: the budget ledger to spend from (default: the one ``settings.privacy.ledger_url``
    names, else a fresh in-memory ledger, which the report states). ``scope``: what else defines
    the question besides brand, data and settings — e.g. ``{"start": "2026-05-01", "end":
    "2026-05-31"}`` when the caller measures a date range on an engine restricted to it — part of
    the question's key (the same scope, data version and settings return the stored answer).
    ``period``: the budget month (``YYYY-MM``; default the current one).

    Raises :class:`~redcat.errors.StoreError` when the brand has no notes,
    :class:`~redcat.errors.PrivacyBudgetExceeded` when the budget does not cover the report
    (nothing spent)."""
    prepared = prepare_brand_report(engine, brand_id, settings, scope=scope, progress=progress)
    (progress or (lambda _msg: None))("brand view: release")
    return release_brand_report(prepared, ledger=ledger, period=period)


def _assemble(
    report: PreparedBrandReport,
    bundle: BundleRelease,
    status: BudgetStatus,
    ledger_description: str,
) -> ReportData:
    brand_id, settings, k, prepared = report.brand_id, report.settings, report.k, report.tables
    conf = f"{bundle.confidence:.0%}"
    tables: dict[str, pd.DataFrame] = {}
    for level in LEVELS:
        joined = _join(
            prepared.content[level.part],
            prepared.thresholded[level.part],
            bundle.parts[level.part],
            level.key,
        )
        tables[level.part] = add_released_rates(joined) if level.part != "brand" else joined
    brand_part = bundle.parts["brand"]
    brand_row = tables["brand"][~tables["brand"]["is_other"]]
    kpis = _kpis(brand_row)
    daily = tables["daily"]
    daily_other = daily[daily["is_other"]]
    daily = daily[~daily["is_other"]].reset_index(drop=True)
    daily["date"] = pd.to_datetime(daily["date"]).dt.date
    notes = tables["notes"]
    start, end = _period(daily)
    credits, scores = _empty_models()
    captions = {
        lv.part: _caption(bundle.parts[lv.part], prepared.thresholded[lv.part], lv.key, k, conf)
        for lv in LEVELS
        if lv.part != "brand"
    }
    stage_err = _error_text(brand_part, "en", ["matched_reach"])
    captions["trend"] = captions.pop("daily")
    captions["kpis"] = Text2(
        f"匹配用户的数字为噪声值（ε={brand_part.epsilon:.3g}，{conf} 概率下误差不超过："
        f"{_error_text(brand_part, 'zh')}）；比率由发布数字计算；其余为内容平台自有数据，精确。",
        f"Figures about matched people are noisy (ε={brand_part.epsilon:.3g}; with {conf} "
        f"probability within {_error_text(brand_part, 'en')}); rates are computed from released "
        "figures; the rest is the content platform's own data, exact.",
    )
    stage_eps = brand_part.epsilon / max(len(brand_part.error), 1)
    captions["funnel"] = Text2(
        f"模式：噪声（每个环节 ε={stage_eps:.2g}，{conf} 概率下误差不超过 "
        f"±{_num(brand_part.error['matched_reach'])} 人）；少于 {k} 人的环节已隐藏（—）；"
        "转化率由发布的人数计算。",
        f"Mode: noisy (ε={stage_eps:.2g} per stage; {stage_err} per stage at {conf}); a stage "
        f"from fewer than {k} people is withheld (—); rates are computed from the released "
        "users.",
    )
    captions["models"] = WITHHELD_MODELS
    privacy_section = _privacy_section(
        bundle, prepared, status, ledger_description, daily_other, k, settings
    )
    lift = prepared.lift
    lift_section = None
    if lift is not None and LIFT_PART in bundle.parts:
        lift_section = brand_lift_section(bundle.parts[LIFT_PART], lift.spend, k, conf)
    elif lift is not None:
        lift_section = no_lift_section(k)
    funnel_days = settings.windows.funnel_days
    caveats = (
        f"Brand view: figures about matched people are released through the privacy layer "
        f"(threshold k={k} distinct people per cell, per-person contribution bounds, OpenDP "
        f"Laplace noise; this report is one release of ε={bundle.epsilon:g}). Content figures "
        "(impressions, reach, reads, interactions, spend) are the content platform's own data, "
        "exact.",
        f"Orders and GMV per note, creator and campaign are touched figures: an order counts for "
        f"every note touched in the {funnel_days} days before it, so they do not add up across "
        "notes; they are not attribution-model credits.",
        WITHHELD_MODELS.en,
    )
    return ReportData(
        brand_id=brand_id,
        period_start=start,
        period_end=end,
        retailers=report.retailers,
        generated_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        windows={
            "funnel_days": settings.windows.funnel_days,
            "click_days": settings.windows.click_days,
            "view_days": settings.windows.view_days,
        },
        kpis=kpis,
        funnel=_stages(brand_row),
        daily=daily,
        notes=notes,
        creators=tables["creators"],
        campaigns=tables["campaigns"],
        credits=credits,
        model_scores=scores,
        truth=None,
        notes_md=caveats,
        sections=(privacy_section,) if lift_section is None else (lift_section, privacy_section),
        view="brand",
        captions=captions,
        kpi_modes=_kpi_modes(brand_part, kpis, k),
        withheld=frozenset({"models"}),
    )


_HEADERS: Mapping[str, Text2] = {
    "table": Text2("表", "Table"),
    "figure": Text2("数字", "Figure"),
    "mode": Text2("模式", "Mode"),
    "epsilon": Text2("ε", "ε"),
    "error_bound": Text2("误差上限（每格）", "Error bound (per cell)"),
    "withheld": Text2("隐藏格数", "Withheld cells"),
    "item": Text2("项目", "Item"),
    "value": Text2("值", "Value"),
}


def release_frame(
    bundle: BundleRelease, prepared_thresholded: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Return one row per released figure of ``bundle``: table, figure, mode (``noisy``), ε
    spent on it, its per-cell error bound and how many of its cells are withheld (the other row
    excluded)."""
    rows = []
    for name, part in bundle.parts.items():
        key = part.key
        eps = part.epsilon / max(len(part.error), 1)
        frame = part.frame[part.frame[key] != OTHER]
        for column, err in part.error.items():
            rows.append(
                {
                    "table": name,
                    "figure": column,
                    "mode": "noisy",
                    "epsilon": f"{eps:.3g}",
                    "error_bound": err,
                    "withheld": int(frame[column].isna().sum()),
                }
            )
    content = [
        {
            "table": "all",
            "figure": "impressions, reach, reads, interactions, spend",
            "mode": "exact",
            "epsilon": "0",
            "error_bound": 0.0,
            "withheld": 0,
        }
    ]
    return pd.DataFrame([*content, *rows])


def _privacy_section(
    bundle: BundleRelease,
    prepared: _Prepared,
    status: BudgetStatus,
    ledger_description: str,
    daily_other: pd.DataFrame,
    k: int,
    settings: Settings,
) -> Section:
    modes = release_frame(bundle, prepared.thresholded)
    spent_now = f"{bundle.spent:g}" + (" (stored answer: nothing spent)" if bundle.cached else "")
    eps = bundle.epsilon
    budget = pd.DataFrame(
        [
            ("ledger", ledger_description),
            ("period", status.period),
            ("epsilon of this report", f"{bundle.epsilon:g}"),
            ("epsilon spent by this request", spent_now),
            ("epsilon spent this period", f"{status.spent:g}"),
            ("epsilon left", f"{status.remaining:g} / {status.total:g}"),
            (
                "further brand reports this period (ε each)",
                f"{int(status.remaining // eps)} ({eps:g})",
            ),
            ("aggregation threshold k (distinct matched people)", str(k)),
            ("question", bundle.query_hash[:16]),
        ],
        columns=["item", "value"],
    )
    tables = [
        SectionTable(
            "release",
            Text2("各数字的模式与误差", "Which mode produced each figure, and its error"),
            modes,
            ("table", "figure", "mode", "epsilon", "error_bound", "withheld"),
            headers=_HEADERS,
            kinds={
                "table": "text",
                "figure": "text",
                "mode": "text",
                "epsilon": "text",
                "error_bound": "decimal",
                "withheld": "count",
            },
            caption=Text2(
                f"误差上限：噪声在 {bundle.confidence:.0%} 概率下移动每格的幅度不超过此值。",
                f"Error bound: noise moved each cell by less than this with "
                f"{bundle.confidence:.0%} probability.",
            ),
        ),
        budget_table(budget),
    ]
    if len(daily_other):
        other = daily_other[["date", "back_search_users", "visitors", "orders", "gmv"]]
        tables.append(
            SectionTable(
                "daily_other",
                Text2("每日趋势的「其他」行", "The daily trend's other row"),
                other.reset_index(drop=True),
                ("date", "back_search_users", "visitors", "orders", "gmv"),
                kinds={"date": "text"},
                caption=Text2(
                    f"少于 {k} 人的日期单元格合并发布于此，使各列合计不变。",
                    f"Day cells from fewer than {k} people, released together so that the "
                    "columns still add up.",
                ),
            )
        )
    withheld_zh = "、".join(t.zh for t in WITHHELD_SECTIONS.values())
    withheld_en = ", ".join(t.en for t in WITHHELD_SECTIONS.values())
    notes = (
        Text2(
            f"品牌视图暂不包含：{withheld_zh}（尚未通过隐私层发布）。",
            f"Withheld from the brand view: {withheld_en} (not yet released through the privacy "
            "layer).",
        ),
        WITHHELD_MODELS,
        Text2(
            "整份报告是一次发布：同一品牌、范围、数据版本与设置再次请求时返回已存答案，不再消耗预算；"
            "预算不足时拒绝且不消耗。",
            "The whole report is one release: asking it again with the same brand, scope, data "
            "version and settings returns the stored answer and spends nothing; a request the "
            "budget does not cover is refused and spends nothing.",
        ),
    )
    return Section(
        key="privacy",
        title=Text2("输出隐私（品牌视图）", "Output privacy (brand view)"),
        tables=tuple(tables),
        notes=notes,
    )


__all__ = [
    "BRAND_REPORT",
    "LEVELS",
    "PART_WEIGHTS",
    "REPORT_KIND",
    "PreparedBrandReport",
    "add_released_rates",
    "build_brand_report",
    "data_version",
    "open_ledger",
    "prepare_brand_report",
    "release_brand_report",
    "release_frame",
]
