"""Assemble one brand's :class:`ReportData` from the store: funnel, attribution and scores.

This is the only place the report layer calls the measurements; rendering never computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from redcat.attribution.pipeline import credits_by, journey_rows, journey_table, note_credits
from redcat.attribution.scoring import score_models
from redcat.engine.core import Engine
from redcat.engine.derived import campaign_shares
from redcat.errors import InputError, StoreError
from redcat.funnel import brand_funnel
from redcat.funnel.metrics import ratio
from redcat.report.data import MODELS, ReportData
from redcat.report.section import Section, SectionBuilder, SectionInput
from redcat.report.sections import SECTION_BUILDERS
from redcat.settings import Settings

Progress = Callable[[str], None]


def load_truth(path: Path) -> pd.DataFrame:
    """Read a simulator's ``note_truth.csv`` and return true incremental orders and GMV per note
    (summed over retailers), for every brand's notes."""
    try:
        raw = pd.read_csv(path, dtype={"note_id": "string"})
    except FileNotFoundError as exc:
        raise InputError("ground-truth file not found", file=str(path)) from exc
    needed = ("note_id", "true_incremental_orders", "true_incremental_gmv")
    for col in needed:
        if col not in raw.columns:
            raise InputError("missing column", file=str(path), field=col)
    return raw.groupby("note_id", sort=True)[list(needed[1:])].sum().reset_index()


def build_report(
    engine: Engine,
    brand_id: str,
    settings: Settings | None = None,
    *,
    truth: pd.DataFrame | None = None,
    models: Sequence[str] = MODELS,
    progress: Progress | None = None,
    sections: Sequence[SectionBuilder] | None = None,
) -> ReportData:
    """Measure ``brand_id`` and return its report: funnel tables, credits per model and note, and
    (when ``truth`` is given, as :func:`load_truth` reads it; only the brand's notes count) each
    model's WAPE against true incremental orders. ``sections`` are the builders of further
    sections (default: every one registered in :data:`SECTION_BUILDERS`, in order); a builder
    returning ``None`` adds nothing."""
    settings = settings or Settings()
    step = progress or (lambda _msg: None)
    step("funnel")
    funnel = brand_funnel(engine, brand_id, settings.windows)
    step("journeys")
    rows = journey_rows(engine, brand_id, settings.windows)
    table = journey_table(rows)
    credits_parts = []
    caveats: list[str] = []
    for model in models:
        step(f"attribution: {model}")
        credits, notes = note_credits(table, model, settings.attribution)
        credits_parts.append(credits.assign(model=model))
        caveats.extend(f"{model}: {n}" for n in notes)
    credits = pd.concat(credits_parts, ignore_index=True)[
        ["model", "note_id", "conversions", "value"]
    ]
    all_orders = int(funnel.kpis.get("orders") or 0)
    attributed = int(table.conversions.sum())
    caveats.append(
        f"{attributed:,} orders had an eligible touch (click ≤ {settings.windows.click_days} d, "
        f"view ≤ {settings.windows.view_days} d) and were attributed; the funnel counts "
        f"{all_orders:,} orders within {settings.windows.funnel_days} d of any touch."
    )
    if truth is not None:
        truth = truth[truth["note_id"].isin(funnel.notes["note_id"])].reset_index(drop=True)
        scores = score_models(credits, truth.set_index("note_id")["true_incremental_orders"])
    else:
        scores = pd.DataFrame(
            {
                "model": list(models),
                "credited_orders": [
                    float(credits.loc[credits["model"] == m, "conversions"].sum()) for m in models
                ],
                "wape": float("nan"),
                "rank": pd.array([None] * len(models), dtype="Int64"),
            }
        )
    daily = funnel.daily
    start, end = _period(daily)
    retailers = tuple(engine.distinct_values("cr_commerce_events", "retailer_id"))
    model = settings.attribution.report_model
    shares = engine.execute(campaign_shares(engine, brand_id))
    note_table = _with_credits(funnel.notes, credits, funnel.notes[["note_id"]], "note_id", model)
    creators = _with_credits(funnel.creators, credits, funnel.notes, "creator_id", model)
    campaigns = _with_credits(funnel.campaigns, credits, shares, "campaign_id", model)
    caveats.append(
        f"Orders, GMV and ROI per note, creator and campaign are {model}-touch credits (each order "
        "counted once; a note boosted by several campaigns splits by spend); touched_orders and "
        f"touched_gmv count an order for every note touched in the {settings.windows.funnel_days} "
        "days before it, so they do not add up."
    )
    built: list[Section] = []
    section_input = SectionInput(engine, brand_id, settings, funnel, credits, table, truth)
    for builder in SECTION_BUILDERS if sections is None else sections:
        name = getattr(builder, "__name__", "section")
        step(f"section: {name}")
        try:
            section = builder(section_input)
        except StoreError as exc:
            if engine.on_duckdb:
                raise
            # a section on a DuckDB fast path is left out on Spark, and the report says so
            caveats.append(f"{name}: not available on {engine.ibis.name} ({exc})")
            continue
        if section is not None:
            built.append(section)
    return ReportData(
        brand_id=brand_id,
        period_start=start,
        period_end=end,
        retailers=retailers,
        generated_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        windows={
            "funnel_days": settings.windows.funnel_days,
            "click_days": settings.windows.click_days,
            "view_days": settings.windows.view_days,
        },
        kpis=funnel.kpis,
        funnel=funnel.stages,
        daily=daily,
        notes=note_table,
        creators=creators,
        campaigns=campaigns,
        credits=credits,
        model_scores=scores,
        truth=truth,
        notes_md=tuple(caveats),
        sections=tuple(built),
    )


def _with_credits(
    table: pd.DataFrame, credits: pd.DataFrame, mapping: pd.DataFrame, key: str, model: str
) -> pd.DataFrame:
    """Add credited orders per model (``orders_<model>``) to a note, creator or campaign table,
    keep the funnel's touched figures as ``touched_orders`` / ``touched_gmv``, and make
    ``orders``, ``gmv`` and ``roi`` (GMV ÷ spend) those credited by ``model``."""
    rolled = credits_by(credits, mapping, key)
    wide = rolled.pivot(index=key, columns="model", values="conversions")
    wide.columns = [f"orders_{m}" for m in wide.columns]
    value = rolled[rolled["model"] == model].set_index(key)["value"]
    out = table.merge(wide.reset_index(), on=key, how="left")
    out = out.fillna({c: 0.0 for c in wide.columns})
    out["touched_orders"] = out["orders"]
    out["touched_gmv"] = out["gmv"]
    out["orders"] = out[f"orders_{model}"]
    out["gmv"] = out[key].map(value).fillna(0.0).astype("float64")
    out["roi"] = ratio(out["gmv"], out["spend"])
    return out


def _period(daily: pd.DataFrame) -> tuple[date, date]:
    if daily.empty:
        today = datetime.now(UTC).date()
        return today, today
    days = pd.to_datetime(daily["date"])
    return days.min().date(), days.max().date()
