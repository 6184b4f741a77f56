"""Summaries across brands: one headline row per brand and the attribution models ranked by their
mean error against causal truth (what ``redcat demo`` prints after the first brand's report)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from redcat.report.data import ReportData
from redcat.report.fmt import column_kind, fmt_compact, fmt_rate
from redcat.report.labels import check_lang, metric_label, model_label, text
from redcat.report.tables import Column, TableView

HEADLINE_KEYS: tuple[str, ...] = (
    "spend",
    "reach",
    "back_search_users",
    "visitors",
    "orders",
    "gmv",
    "roi",
)


def brands_view(reports: Sequence[ReportData], lang: str = "zh") -> TableView:
    """Return one row per brand with its headline KPIs (``HEADLINE_KEYS``), large numbers
    shortened (万 / K) so that the table fits a terminal."""
    lg = check_lang(lang)
    columns = (
        Column("brand", text("brand", lg), "left"),
        *(Column(k, metric_label(k, lg)) for k in HEADLINE_KEYS),
    )
    rows = tuple(
        (
            r.brand_id,
            *(
                fmt_compact(r.kpis.get(k), lg, column_kind(k), r.currency_symbol)
                for k in HEADLINE_KEYS
            ),
        )
        for r in reports
    )
    title = "品牌总览" if lg == "zh" else "All brands"
    return TableView("brands", title, columns, rows)


def model_summary(reports: Sequence[ReportData]) -> pd.DataFrame:
    """Return each model's WAPE per brand (columns ``wape_<brand>``, fractions) and their mean
    ``mean_wape``, sorted best first (ties by model name); NaN where a brand has no truth."""
    table = pd.concat([r.model_scores.assign(brand=r.brand_id) for r in reports], ignore_index=True)
    wide = table.pivot(index="model", columns="brand", values="wape")
    wide.columns = [f"wape_{c}" for c in wide.columns]
    wide["mean_wape"] = wide.mean(axis=1)
    return wide.reset_index().sort_values(["mean_wape", "model"]).reset_index(drop=True)


def model_summary_view(reports: Sequence[ReportData], lang: str = "zh") -> TableView:
    """Return :func:`model_summary` formatted, the best model's row highlighted, with a caption
    naming it (or saying no brand has ground truth)."""
    lg = check_lang(lang)
    summary = model_summary(reports)
    brands = [c.removeprefix("wape_") for c in summary.columns if c.startswith("wape_")]
    mean_label = "平均 WAPE" if lg == "zh" else "Mean WAPE"
    columns = (
        Column("model", metric_label("model", lg), "left"),
        *(Column(f"wape_{b}", f"WAPE {b}") for b in brands),
        Column("mean_wape", mean_label),
    )
    rows = tuple(
        (
            model_label(str(rec["model"]), lg),
            *(fmt_rate(rec[f"wape_{b}"], 1) for b in brands),
            fmt_rate(rec["mean_wape"], 1),
        )
        for rec in summary.to_dict("records")
    )
    scored = summary.dropna(subset=["mean_wape"])
    if scored.empty:
        return TableView("models", mean_label, columns, rows, text("no_truth", lg))
    best = scored.iloc[0]
    caption = text(
        "closest",
        lg,
        model=model_label(str(best["model"]), lg),
        wape=fmt_rate(best["mean_wape"], 1),
    )
    title = (
        f"归因模型 vs 因果真值（{len(reports)} 个品牌，按笔记成交的 WAPE）"
        if lg == "zh"
        else f"Attribution vs causal truth across {len(reports)} brands (WAPE of per-note orders)"
    )
    return TableView("models", title, columns, rows, caption, frozenset({0}))
