"""The one record the report layer renders: :class:`ReportData`.

The measurement code (funnel, attribution) fills it; the report layer only formats and draws it and
never computes a metric. Counts are users or events as each column says; money is in the retailer's
currency (units as exported); rates are fractions in [0, 1]; dates are calendar days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pandas as pd

from redcat.attribution.models import MODELS as ATTRIBUTION_MODELS
from redcat.errors import InputError
from redcat.funnel.metrics import KPI_KEYS as FUNNEL_KPI_KEYS
from redcat.funnel.metrics import STAGES
from redcat.report.section import Section, Text2

# The measurements own these names; the report shows them in this order.
KPI_KEYS: tuple[str, ...] = FUNNEL_KPI_KEYS
FUNNEL_STAGES: tuple[str, ...] = STAGES
MODELS: tuple[str, ...] = ATTRIBUTION_MODELS

#: Report views: ``brand`` (released through the privacy layer) and ``operator`` (exact).
VIEWS: tuple[str, ...] = ("brand", "operator")

FUNNEL_COLUMNS: tuple[str, ...] = ("stage", "users", "rate_from_previous", "rate_from_reach")
DAILY_COLUMNS: tuple[str, ...] = (
    "date",
    "impressions",
    "reach",
    "reads",
    "interactions",
    "back_search_users",
    "visitors",
    "orders",
    "gmv",
    "spend",
)
NOTE_COLUMNS: tuple[str, ...] = (
    "note_id",
    "title",
    "creator_id",
    "note_type",
    "campaign_id",
    "impressions",
    "reach",
    "reads",
    "ctr",
    "interactions",
    "interaction_rate",
    "back_search_users",
    "back_search_rate",
    "visitors",
    "visit_rate",
    "carts",
    "orders",
    "gmv",
    "new_customers",
    "spend",
    "cost_per_visit",
    "roi",
)
CREATOR_COLUMNS: tuple[str, ...] = (
    "creator_id",
    "notes",
    "impressions",
    "reach",
    "back_search_users",
    "visitors",
    "orders",
    "gmv",
    "spend",
)
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "notes",
    "spend",
    "impressions",
    "reach",
    "back_search_users",
    "visitors",
    "orders",
    "gmv",
    "roi",
)
CREDIT_COLUMNS: tuple[str, ...] = ("model", "note_id", "conversions", "value")
MODEL_SCORE_COLUMNS: tuple[str, ...] = ("model", "credited_orders", "wape", "rank")
TRUTH_COLUMNS: tuple[str, ...] = ("note_id", "true_incremental_orders", "true_incremental_gmv")

#: Required columns of every frame field of :class:`ReportData` (extra columns are tolerated).
FRAME_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "funnel": FUNNEL_COLUMNS,
    "daily": DAILY_COLUMNS,
    "notes": NOTE_COLUMNS,
    "creators": CREATOR_COLUMNS,
    "campaigns": CAMPAIGN_COLUMNS,
    "credits": CREDIT_COLUMNS,
    "model_scores": MODEL_SCORE_COLUMNS,
    "truth": TRUTH_COLUMNS,
}


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything one brand's report shows, already measured.

    ``period_start`` / ``period_end`` are inclusive calendar days; ``windows`` holds look-back
    windows in days (e.g. ``funnel_days``, ``click_days``, ``view_days``); ``kpis`` maps every key
    of :data:`KPI_KEYS` to a number or ``None`` when not computable (e.g. ROI without spend). The
    frames carry the columns named in :data:`FRAME_COLUMNS`: ``funnel`` has one row per stage of
    :data:`FUNNEL_STAGES` (users = distinct users reaching it); ``credits`` is long (credited orders
    ``conversions`` and GMV ``value`` per model and note); ``model_scores.wape`` is the weighted
    absolute percentage error (a fraction) of a model's per-note credited orders against the
    simulator's true incremental orders, NaN without ground truth; ``truth`` is ``None`` outside
    simulated worlds. ``currency_symbol`` prefixes money amounts. ``sections`` are the further
    measurements (lift, audience assets, ...) that :mod:`redcat.report.sections` built, in order.

    ``view`` says whose report it is: ``operator`` (exact figures, for the clean-room operator
    only) or ``brand`` (figures about matched people released through the privacy layer,
    :mod:`redcat.report.brand`). ``captions`` adds a sentence (the mode that produced a table's
    figures) under a core table, by key: ``kpis``, ``funnel``, ``trend``, ``notes``, ``models``,
    ``campaigns``, ``creators``; ``kpi_modes`` says per KPI key which mode produced it;
    ``withheld`` names core tables left out of this view (``models``).

    Construction checks the columns and KPI keys and raises :class:`~redcat.errors.InputError`
    naming the first missing one. (``eq=False``: data frames have no single truth value.)
    """

    brand_id: str
    period_start: date
    period_end: date
    retailers: tuple[str, ...]
    generated_at: datetime
    windows: Mapping[str, int]
    kpis: Mapping[str, float | None]
    funnel: pd.DataFrame
    daily: pd.DataFrame
    notes: pd.DataFrame
    creators: pd.DataFrame
    campaigns: pd.DataFrame
    credits: pd.DataFrame
    model_scores: pd.DataFrame
    truth: pd.DataFrame | None = None
    notes_md: tuple[str, ...] = ()
    currency_symbol: str = "¥"
    sections: tuple[Section, ...] = ()
    view: str = "operator"
    captions: Mapping[str, Text2] = field(default_factory=dict)
    kpi_modes: Mapping[str, Text2] = field(default_factory=dict)
    withheld: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise InputError(f"unknown report view {self.view!r} (brand or operator)", field="view")
        missing_kpis = [key for key in KPI_KEYS if key not in self.kpis]
        if missing_kpis:
            raise InputError(f"report KPIs lack {', '.join(missing_kpis)}", field="kpis")
        for name, columns in FRAME_COLUMNS.items():
            frame = getattr(self, name)
            if frame is None and name == "truth":
                continue
            if not isinstance(frame, pd.DataFrame):
                raise InputError(f"report field {name} must be a pandas DataFrame", field=name)
            absent = [col for col in columns if col not in frame.columns]
            if absent:
                raise InputError(
                    f"report frame {name} lacks column(s) {', '.join(absent)}", field=name
                )
        unknown = sorted(set(self.funnel["stage"]) - set(FUNNEL_STAGES))
        if unknown:
            raise InputError(f"unknown funnel stage(s) {', '.join(unknown)}", field="funnel")
        if self.funnel["stage"].duplicated().any():
            raise InputError("funnel stages must be unique", field="funnel")
        if self.period_end < self.period_start:
            raise InputError("report period ends before it starts", field="period_end")

    @property
    def has_truth(self) -> bool:
        """True when the simulator's ground truth is attached (simulated worlds only)."""
        return self.truth is not None

    @property
    def has_scores(self) -> bool:
        """True when at least one model has a finite WAPE against ground truth."""
        return closest_model(self.model_scores) is not None

    def funnel_in_order(self) -> pd.DataFrame:
        """Return the funnel rows in :data:`FUNNEL_STAGES` order (stages absent from the input are
        left out), with a fresh 0-based index."""
        order = {stage: i for i, stage in enumerate(FUNNEL_STAGES)}
        ranked = self.funnel.assign(_order=self.funnel["stage"].map(order))
        return ranked.sort_values("_order").drop(columns="_order").reset_index(drop=True)


def view_meta(data: ReportData) -> dict[str, Any]:
    """Return what says which view ``data`` is and which mode produced each figure, as plain
    JSON values (for a snapshot's metadata): ``view``, ``captions`` and ``kpi_modes`` (key →
    ``{"zh": ..., "en": ...}``) and ``withheld`` (sorted list). :func:`with_view_meta` puts it
    back."""
    return {
        "view": data.view,
        "captions": {k: {"zh": t.zh, "en": t.en} for k, t in data.captions.items()},
        "kpi_modes": {k: {"zh": t.zh, "en": t.en} for k, t in data.kpi_modes.items()},
        "withheld": sorted(data.withheld),
    }


def with_view_meta(data: ReportData, meta: Mapping[str, Any]) -> ReportData:
    """Return ``data`` with the view, captions, KPI modes and withheld tables of ``meta`` (as
    :func:`view_meta` wrote them); a ``meta`` without them (an older snapshot) leaves the
    operator view's defaults."""
    return replace(
        data,
        view=str(meta.get("view", "operator")),
        captions={k: Text2(v["zh"], v["en"]) for k, v in meta.get("captions", {}).items()},
        kpi_modes={k: Text2(v["zh"], v["en"]) for k, v in meta.get("kpi_modes", {}).items()},
        withheld=frozenset(str(w) for w in meta.get("withheld", ())),
    )


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN, ``pd.NA`` and ``NaT`` (values a report shows as a dash)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other non-scalars are never "missing"
        return False


def closest_model(model_scores: pd.DataFrame) -> tuple[str, float] | None:
    """Return ``(model, wape)`` for the model whose credited orders are closest to causal truth:
    the lowest finite WAPE (a fraction), ties broken by ``rank`` and then by name. ``None`` when no
    model has a finite WAPE (no ground truth)."""
    best: tuple[float, float, str] | None = None
    rows = zip(
        model_scores["model"].tolist(),
        model_scores["wape"].tolist(),
        model_scores["rank"].tolist(),
        strict=True,
    )
    for model, wape, rank in rows:
        if is_missing(wape) or not math.isfinite(float(wape)):
            continue
        key = (float(wape), math.inf if is_missing(rank) else float(rank), str(model))
        if best is None or key < best:
            best = key
    return None if best is None else (best[2], best[0])
