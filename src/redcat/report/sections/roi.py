"""The decision-cycle ROI section: ROI(T+x) of the brand and each campaign, x the decision cycle
of the brand's category (``settings.windows.category``; the report's funnel window when none is
set), beside the fixed windows of settings (:mod:`redcat.attribution.roi`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from redcat.attribution.roi import RoiWindow, plan_for_cycle, roi_wide, roi_windows
from redcat.report.charts import MUTED, PALETTE, base_option, number
from redcat.report.section import LANGS, Section, SectionChart, SectionInput, SectionTable, Text2

TITLE = Text2("决策周期 ROI(T+x)", "Decision-cycle ROI(T+x)")


def window_name(win: RoiWindow) -> Text2:
    """The window's header: ``T+29（决策周期）`` / ``T+29 (decision cycle)`` or ``T+7``."""
    if win.decision_cycle:
        return Text2(f"{win.label}（决策周期）", f"{win.label} (decision cycle)")
    return Text2(win.label, win.label)


def _columns(plan: tuple[RoiWindow, ...]) -> tuple[tuple[str, ...], dict[str, Text2]]:
    cols: list[str] = ["id", "spend"]
    headers: dict[str, Text2] = {"spend": Text2("花费", "spend")}
    for win in plan:
        name = window_name(win)
        cols += [f"gmv_{win.label}", f"roi_{win.label}"]
        headers[f"gmv_{win.label}"] = Text2(f"GMV {name.zh}", f"GMV {name.en}")
        headers[f"roi_{win.label}"] = Text2(f"ROI {name.zh}", f"ROI {name.en}")
    return tuple(cols), headers


def chart_option(wide: pd.DataFrame, plan: tuple[RoiWindow, ...], lang: str) -> dict[str, Any]:
    """Return grouped bars of ROI per campaign, one series per window (the decision cycle in
    the report's red, fixed windows in other colours)."""
    colors = [PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[3], MUTED]
    series = [
        {
            "name": window_name(win).get(lang),
            "type": "bar",
            "barMaxWidth": 20,
            "itemStyle": {"color": colors[min(i, len(colors) - 1)]},
            "data": [number(v) for v in wide[f"roi_{win.label}"]],
        }
        for i, win in enumerate(plan)
    ]
    return {
        **base_option(),
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis", "confine": True},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": [str(c) for c in wide["id"]],
            "axisLabel": {"interval": 0, "rotate": 30 if len(wide) > 8 else 0},
            "axisTick": {"show": False},
        },
        "yAxis": {
            "type": "value",
            "name": "ROI",
            "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
        },
        "series": series,
    }


def build_roi_section(inp: SectionInput) -> Section | None:
    """Return the brand's ROI(T+x) section, or None when the brand has no spend."""
    windows = inp.settings.windows
    # x is the category's decision cycle when the report knows the category, else its funnel window
    plan = plan_for_cycle(inp.settings, windows.for_category(windows.category))
    long = roi_windows(inp.engine, inp.brand_id, inp.settings, windows=plan)
    brand = roi_wide(long, "brand")
    if brand.empty or not float(brand["spend"].fillna(0.0).sum()) > 0:
        return None
    campaigns = roi_wide(long, "campaign")
    cols, headers = _columns(plan)
    kinds: dict[str, str] = {"id": "text", "spend": "money"}
    for win in plan:
        kinds[f"gmv_{win.label}"] = "money"
        kinds[f"roi_{win.label}"] = "ratio"
    model = inp.settings.attribution.report_model
    tables = (
        SectionTable(
            key="brand",
            title=Text2("品牌整体", "Brand"),
            frame=brand,
            columns=cols,
            headers={**headers, "id": Text2("品牌", "brand")},
            kinds=kinds,
        ),
        SectionTable(
            key="campaigns",
            title=Text2("各投放活动", "Per campaign"),
            frame=campaigns,
            columns=cols,
            headers={**headers, "id": Text2("投放活动", "campaign")},
            kinds=kinds,
        ),
    )
    charts: tuple[SectionChart, ...] = ()
    if not campaigns.empty:
        charts = (
            SectionChart(
                "campaigns",
                Text2("各投放活动 ROI：决策周期与固定窗口", "ROI per campaign: cycle vs fixed"),
                {lang: chart_option(campaigns, plan, lang) for lang in LANGS},
                height=340,
            ),
        )
    cycle = plan[0].days
    category = windows.category
    x_zh = (
        f"品类 {category} 的决策周期 {cycle} 天"
        if category
        else f"报告的漏斗窗口 {cycle} 天（未指定品类）"
    )
    x_en = (
        f"the decision cycle of the category {category}, {cycle} days"
        if category
        else f"the report's funnel window, {cycle} days (no category given)"
    )
    notes = (
        Text2(
            f"ROI(T+x)＝归因 GMV ÷ 花费；只计触达后 x 天内的订单（点击与浏览同一窗口），"
            f"x＝{x_zh}，旁列固定窗口。归因模型：{model}。",
            f"ROI(T+x) = attributed GMV ÷ spend, counting orders up to x days after the touch "
            f"(clicks and views alike); x = {x_en}, beside fixed windows. "
            f"Attribution model: {model}.",
        ),
        Text2(
            "品牌整体 ROI 计入所有笔记（含未投放笔记）归因的 GMV；"
            "活动 ROI 按花费占比拆分笔记的 GMV。"
            "窗口变长时较早的触达也可参与归因，单个活动的 GMV 可能减少（例如末次点击优先）。",
            "The brand's ROI counts GMV credited to all its notes (unboosted ones too); a "
            "campaign's takes its spend share of its notes' GMV. A longer window lets older "
            "touches compete for credit, so one campaign's GMV can fall as x grows (last touch "
            "prefers clicks).",
        ),
    )
    return Section(key="roi", title=TITLE, tables=tables, charts=charts, notes=notes)
