"""The lift-calibration section: each model's credited orders raw and calibrated to the brand's
holdout lift (:mod:`redcat.attribution.calibrate`), per model and per campaign, and — on a
simulated world — each version's WAPE against the true incremental orders per note."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from redcat.attribution.calibrate import (
    Calibration,
    calibrate_brand,
    calibrate_credits,
    calibration_scores,
    campaign_targets,
    note_campaign_spend,
)
from redcat.report.charts import MUTED, PALETTE, base_option, number
from redcat.report.labels import check_lang, model_label
from redcat.report.section import LANGS, Section, SectionChart, SectionInput, SectionTable, Text2

TITLE = Text2("增量校准归因", "Lift-calibrated attribution")

#: The three versions of each model's credits, in display order.
VERSIONS: dict[str, Text2] = {
    "raw": Text2("原始归因", "raw"),
    "calibrated": Text2("按各活动增量校准", "calibrated per campaign"),
    "pooled": Text2("按花费汇总后校准", "calibrated, pooled per spend"),
}
VERSION_COLORS: dict[str, str] = {"raw": MUTED, "calibrated": PALETTE[0], "pooled": PALETTE[2]}

_HEADERS: dict[str, Text2] = {
    "model": Text2("模型", "Model"),
    "raw_orders": Text2("原始归因订单", "Raw orders"),
    "calibrated_orders": Text2("校准后订单", "Calibrated orders"),
    "pooled_orders": Text2("汇总校准后订单", "Pooled calibrated orders"),
    "raw_wape": Text2("原始 WAPE", "Raw WAPE"),
    "calibrated_wape": Text2("校准后 WAPE", "Calibrated WAPE"),
    "pooled_wape": Text2("汇总校准 WAPE", "Pooled WAPE"),
    "campaign_id": Text2("投放活动", "Campaign"),
    "measured": Text2("实测增量订单", "Measured incremental orders"),
    "measured_low": Text2("下限", "Low"),
    "measured_high": Text2("上限", "High"),
    "target": Text2("校准目标", "Target"),
    "pooled_target": Text2("汇总校准目标", "Pooled target"),
    "raw": Text2("原始归因订单", "Raw orders"),
    "factor": Text2("校准系数", "Factor"),
}


def _headers(columns: tuple[str, ...]) -> dict[str, Text2]:
    return {c: _HEADERS[c] for c in columns if c in _HEADERS}


def model_table(
    calibrated: pd.DataFrame, pooled: pd.DataFrame, truth: pd.Series | None
) -> pd.DataFrame:
    """Return one row per model: raw_orders, calibrated_orders, pooled_orders (orders summed over
    the brand's notes) and, with ``truth`` (true incremental orders per note), raw_wape,
    calibrated_wape and pooled_wape (NaN without truth)."""
    exact = calibration_scores(calibrated, truth)
    pool = calibration_scores(pooled, truth).set_index("model")
    out = exact.copy()
    out["pooled_orders"] = out["model"].map(pool["calibrated_orders"])
    out["pooled_wape"] = out["model"].map(pool["calibrated_wape"])
    cols = ["model", "raw_orders", "calibrated_orders", "pooled_orders"]
    return out[[*cols, "raw_wape", "calibrated_wape", "pooled_wape"]]


def campaign_table(cal: Calibration, pooled_targets: pd.DataFrame, model: str) -> pd.DataFrame:
    """Return one row per holdout campaign: the measured incremental orders and interval, the
    target (clipped at 0), the pooled target, and ``model``'s raw credited orders of the
    campaign's notes with the factor that scales them (NaN when the model credited none)."""
    mine = cal.credits[(cal.credits["model"] == model) & cal.credits["campaign_id"].notna()]
    raw = mine.groupby("campaign_id")["raw_conversions"].sum()
    out = cal.targets[["campaign_id", "measured", "measured_low", "measured_high", "target"]].copy()
    out["pooled_target"] = out["campaign_id"].map(pooled_targets.set_index("campaign_id")["target"])
    out["raw"] = out["campaign_id"].map(raw).fillna(0.0).astype("float64")
    out["factor"] = np.where(
        out["raw"] > 0, out["target"] / out["raw"].where(out["raw"] > 0), np.nan
    )
    return out.reset_index(drop=True)


def chart_option(table: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Return a grouped bar chart per model: WAPE in percent of the raw, calibrated and pooled
    credits when the table has WAPE, else their credited orders."""
    with_truth = bool(table["raw_wape"].notna().any())
    suffix = "_wape" if with_truth else "_orders"
    series = []
    for version, name in VERSIONS.items():
        values = table[f"{version}{suffix}"]
        series.append(
            {
                "name": name.get(lang),
                "type": "bar",
                "barMaxWidth": 24,
                "itemStyle": {"color": VERSION_COLORS[version]},
                "data": [
                    None if number(v) is None else round(float(v) * (100 if with_truth else 1), 4)
                    for v in values
                ],
            }
        )
    axis_name = "WAPE %" if with_truth else Text2("归因订单", "credited orders").get(lang)
    return {
        **base_option(),
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis", "confine": True},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": [model_label(str(m), check_lang(lang)) for m in table["model"]],
            "axisLabel": {"interval": 0, "rotate": 20 if len(table) > 5 else 0},
            "axisTick": {"show": False},
        },
        "yAxis": {
            "type": "value",
            "name": axis_name,
            "axisLabel": {"formatter": "{value}%" if with_truth else "{value}"},
            "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
        },
        "series": series,
    }


def build_calibration_section(inp: SectionInput) -> Section | None:
    """Return the brand's lift-calibration section, or None when no campaign of the brand has
    a holdout with matched users in both arms (nothing to calibrate to) or nothing was
    credited."""
    if inp.credits.empty:
        return None
    cal = calibrate_brand(inp.engine, inp.brand_id, inp.credits, inp.settings, pooling="none")
    if cal.targets.empty:
        return None
    pooled_targets = campaign_targets(cal.lift, pooling="spend", alpha=inp.settings.lift.alpha)
    spend = note_campaign_spend(inp.engine, inp.brand_id)
    pooled = calibrate_credits(inp.credits, spend, pooled_targets)
    truth = None
    if inp.truth is not None:
        truth = inp.truth.set_index("note_id")["true_incremental_orders"]
    models = model_table(cal.credits, pooled, truth)
    report_model = inp.settings.attribution.report_model
    campaigns = campaign_table(cal, pooled_targets, report_model)
    model_cols: tuple[str, ...] = ("model", "raw_orders", "calibrated_orders", "pooled_orders")
    if truth is not None:
        model_cols = (*model_cols, "raw_wape", "calibrated_wape", "pooled_wape")
    camp_cols = (
        "campaign_id",
        "measured",
        "measured_low",
        "measured_high",
        "target",
        "pooled_target",
        "raw",
        "factor",
    )
    decimal = "decimal"
    tables = (
        SectionTable(
            key="models",
            title=Text2("各模型：原始与校准后的归因订单", "Per model: raw and calibrated orders"),
            frame=models,
            columns=model_cols,
            headers=_headers(model_cols),
            kinds={
                "model": "text",
                **dict.fromkeys(("raw_orders", "calibrated_orders", "pooled_orders"), decimal),
                **dict.fromkeys(("raw_wape", "calibrated_wape", "pooled_wape"), "rate1"),
            },
            caption=Text2(
                "WAPE＝各笔记 |归因 − 真实增量| 之和 ÷ 真实增量之和（仅模拟数据有真实值）。",
                "WAPE = Σ |credited − true incremental| over notes ÷ Σ true incremental "
                "(ground truth exists on simulated worlds only).",
            )
            if truth is not None
            else None,
        ),
        SectionTable(
            key="campaigns",
            title=Text2(
                f"各投放活动：实测增量与 {report_model} 模型的校准系数",
                f"Per campaign: measured lift and the {report_model} model's factor",
            ),
            frame=campaigns,
            columns=camp_cols,
            headers=_headers(camp_cols),
            kinds={
                "campaign_id": "text",
                "factor": "ratio",
                **dict.fromkeys(camp_cols[1:7], decimal),
            },
        ),
    )
    chart_title = (
        Text2("各模型 WAPE：原始与校准后", "WAPE per model: raw and calibrated")
        if truth is not None
        else Text2("各模型归因订单：原始与校准后", "Credited orders per model: raw and calibrated")
    )
    chart = SectionChart(
        "models", chart_title, {lang: chart_option(models, lang) for lang in LANGS}, height=340
    )
    return Section(
        key="calibration",
        title=TITLE,
        tables=tables,
        charts=(chart,),
        notes=_notes(inp, cal),
    )


def _notes(inp: SectionInput, cal: Calibration) -> tuple[Text2, ...]:
    days = inp.settings.attribution.calibration_window_days
    clipped = cal.targets.loc[cal.targets["clipped"], "campaign_id"].astype(str).tolist()
    n_plain = 0
    if not cal.credits.empty:
        n_plain = int(cal.credits.loc[cal.credits["status"] == "uncalibrated", "note_id"].nunique())
    notes = [
        Text2(
            "每个模型在每个有对照组的投放活动内按同一系数缩放其笔记的归因订单，使之合计等于该活动"
            "实测的增量订单（区间同理）；一篇笔记由多个活动投放时按花费拆分。汇总校准先把各活动"
            "每单位花费的增量向品牌整体收缩（随机效应），以降低小对照组的噪声。",
            "Each model's credits of a holdout campaign's notes are scaled by one factor so they "
            "add up to the campaign's measured incremental orders (the interval likewise); a note "
            "boosted by several campaigns splits by spend. The pooled version first shrinks each "
            "campaign's incremental orders per spend toward the brand's (random effects), which "
            "trades a small holdout's noise for some bias.",
        ),
        Text2(
            f"对照实验只度量付费投放带来的增量（活动花费日期起 {days} 天内）；"
            "笔记自然流量带来的增量不在其中。",
            f"A holdout measures what the campaign's paid delivery caused (from its spend dates "
            f"to {days} days after); what organic reads of the same notes caused is not in it.",
        ),
    ]
    t = cal.targets
    wide = int(((t["measured_low"] <= 0) & (t["measured_high"] >= 0)).sum())
    if wide:
        notes.append(
            Text2(
                f"{len(t)} 个活动中有 {wide} 个的增量区间包含 0：对照组太小，这些活动的校准"
                "主要反映抽样噪声，汇总校准更稳健。",
                f"{wide} of {len(t)} campaigns' incremental intervals include 0: their holdouts "
                "are too small to tell the effect from noise, so calibrating to them mostly "
                "adds noise; the pooled version is steadier.",
            )
        )
    if clipped:
        ids = ", ".join(clipped)
        notes.append(
            Text2(
                f"实测增量为负的活动按 0 计：{ids}。",
                f"Negative incremental estimates were clipped at 0: {ids}.",
            )
        )
    if n_plain:
        notes.append(
            Text2(
                f"{n_plain} 篇笔记不属于任何有对照组的活动，保留原始归因（未校准）。",
                f"{n_plain} note(s) outside any holdout campaign keep their raw credits "
                "(uncalibrated).",
            )
        )
    return tuple(notes)
