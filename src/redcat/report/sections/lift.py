"""The holdout-lift section (增量): per boosted campaign the randomized test and control users,
orders, lift with its interval and p-value, incremental orders and GMV, iROAS, the lift per
reached test user, and the sample-ratio-mismatch and underpowered flags
(:func:`redcat.lift.campaign.campaign_lift`); a chart of incremental orders with their
intervals as error bars; and the breakdown by retailer."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from redcat.lift.campaign import campaign_lift, campaign_lift_by
from redcat.report.charts import MUTED, PALETTE, base_option, number
from redcat.report.section import LANGS, Section, SectionChart, SectionInput, SectionTable, Text2

TITLE = Text2("增量（随机对照组）", "Incremental lift (randomized holdouts)")

HEADERS: dict[str, Text2] = {
    "campaign_id": Text2("投放活动", "campaign"),
    "retailer_id": Text2("零售平台", "retailer"),
    "spend": Text2("花费", "spend"),
    "n_test": Text2("测试组用户", "test users"),
    "n_control": Text2("对照组用户", "control users"),
    "orders_test": Text2("测试组订单", "test orders"),
    "orders_control": Text2("对照组订单", "control orders"),
    "converters_test": Text2("测试组成交用户", "test buyers"),
    "converters_control": Text2("对照组成交用户", "control buyers"),
    "rel_lift_orders": Text2("订单相对提升", "orders lift"),
    "rel_lift_ci": Text2("相对提升区间", "lift interval"),
    "p_value_text": Text2("p 值", "p-value"),
    "incremental_orders": Text2("增量订单", "incremental orders"),
    "incremental_orders_ci": Text2("增量订单区间", "incremental orders interval"),
    "incremental_gmv": Text2("增量 GMV", "incremental GMV"),
    "incremental_gmv_ci": Text2("增量 GMV 区间", "incremental GMV interval"),
    "iroas": Text2("增量 ROAS", "iROAS"),
    "iroas_ci": Text2("增量 ROAS 区间", "iROAS interval"),
    "reach_test": Text2("测试组触达率", "test reach"),
    "exposed_lift_orders_per_k": Text2(
        "每千名触达用户增量订单", "incremental orders per 1,000 reached users"
    ),
    "exposed_lift_ci": Text2("区间", "interval"),
    "flags": Text2("提示", "flags"),
}
KINDS: dict[str, str] = {
    "campaign_id": "text",
    "retailer_id": "text",
    "spend": "money",
    "n_test": "count",
    "n_control": "count",
    "orders_test": "count",
    "orders_control": "count",
    "converters_test": "count",
    "converters_control": "count",
    "rel_lift_orders": "rate1",
    "p_value_text": "text",
    "incremental_orders": "decimal",
    "incremental_gmv": "money",
    "iroas": "ratio",
    "reach_test": "rate1",
    "exposed_lift_orders_per_k": "decimal",
    "rel_lift_ci": "text",
    "incremental_orders_ci": "text",
    "incremental_gmv_ci": "text",
    "iroas_ci": "text",
    "exposed_lift_ci": "text",
    "flags": "text",
}
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "n_test",
    "n_control",
    "orders_test",
    "orders_control",
    "rel_lift_orders",
    "rel_lift_ci",
    "p_value_text",
    "incremental_orders",
    "incremental_orders_ci",
    "flags",
)
VALUE_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "incremental_gmv",
    "incremental_gmv_ci",
    "spend",
    "iroas",
    "iroas_ci",
    "reach_test",
    "exposed_lift_orders_per_k",
    "exposed_lift_ci",
)
RETAILER_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "retailer_id",
    "orders_test",
    "orders_control",
    "incremental_orders",
    "incremental_orders_ci",
    "incremental_gmv",
    "incremental_gmv_ci",
    "iroas",
    "flags",
)


def _fmt(value: float, digits: int, percent: bool) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:+.1%}" if percent else f"{value:,.{digits}f}"


def interval_text(low: float, high: float, *, digits: int = 1, percent: bool = False) -> str:
    """``low … high`` with ``digits`` decimals (or signed percent); ``—`` for a missing bound."""
    return f"{_fmt(low, digits, percent)} … {_fmt(high, digits, percent)}"


def flag_text(underpowered: bool, srm: bool, lang: str) -> str:
    """The row's flags as words in ``lang`` (``—`` for none)."""
    words = {
        "zh": ("样本量不足", "样本比例失衡"),
        "en": ("underpowered", "SRM"),
    }[lang if lang == "zh" else "en"]
    picked = [w for w, on in zip(words, (underpowered, srm), strict=True) if on]
    if not picked:
        return "—"
    return ("、" if lang == "zh" else ", ").join(picked)


def with_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (campaign_lift or its retailer breakdown) plus text interval and flag columns
    (flags in English: tables hold one frame for both languages)."""
    out = frame.copy()
    out["incremental_orders_ci"] = [
        interval_text(lo, hi)
        for lo, hi in zip(
            out["incremental_orders_low"], out["incremental_orders_high"], strict=True
        )
    ]
    out["incremental_gmv_ci"] = [
        interval_text(lo, hi, digits=0)
        for lo, hi in zip(out["incremental_gmv_low"], out["incremental_gmv_high"], strict=True)
    ]
    out["iroas_ci"] = [
        interval_text(lo, hi, digits=2)
        for lo, hi in zip(out["iroas_low"], out["iroas_high"], strict=True)
    ]
    out["rel_lift_ci"] = [
        interval_text(lo, hi, percent=True)
        for lo, hi in zip(out["rel_lift_orders_low"], out["rel_lift_orders_high"], strict=True)
    ]
    if "exposed_lift_orders_low" in out.columns:
        # per 1,000 reached users: per-user lifts of a few thousandths would print as 0.0
        out["exposed_lift_orders_per_k"] = out["exposed_lift_orders"] * 1000.0
        out["exposed_lift_ci"] = [
            interval_text(1000.0 * lo, 1000.0 * hi)
            for lo, hi in zip(
                out["exposed_lift_orders_low"], out["exposed_lift_orders_high"], strict=True
            )
        ]
    # three significant digits: 0.0432 and 2.1e-05 both stay readable
    out["p_value_text"] = [f"{p:.3g}" for p in out["p_value_orders"]]
    out["flags"] = [
        flag_text(bool(u), bool(s), "en")
        for u, s in zip(out["underpowered"], out["srm_flag"], strict=True)
    ]
    return out


def chart_option(frame: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Return incremental orders per campaign as points with their interval as error bars (a
    boxplot series whose box collapses onto the estimate: whiskers low … high), and a line at 0."""
    name = Text2("增量订单", "incremental orders").get(lang)
    interval = Text2("95% 区间", "95% interval").get(lang)
    boxes = [
        [number(lo), number(est), number(est), number(est), number(hi)]
        for lo, est, hi in zip(
            frame["incremental_orders_low"],
            frame["incremental_orders"],
            frame["incremental_orders_high"],
            strict=True,
        )
    ]
    return {
        **base_option(),
        "legend": {"top": 0},
        "tooltip": {"trigger": "item", "confine": True},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": [str(c) for c in frame["campaign_id"]],
            "axisLabel": {"interval": 0, "rotate": 30 if len(frame) > 8 else 0},
            "axisTick": {"show": False},
        },
        "yAxis": {
            "type": "value",
            "name": name,
            "nameTextStyle": {"align": "left"},  # a centred name is cut at the chart's left edge
            "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
        },
        "series": [
            {
                "name": interval,
                "type": "boxplot",
                "boxWidth": [2, 8],
                "itemStyle": {"color": "transparent", "borderColor": MUTED, "borderWidth": 1.5},
                "data": boxes,
                "markLine": {
                    "silent": True,
                    "symbol": "none",
                    "lineStyle": {"color": MUTED, "type": "dashed"},
                    "data": [{"yAxis": 0}],
                },
            },
            {
                "name": name,
                "type": "scatter",
                "symbolSize": 10,
                "itemStyle": {"color": PALETTE[0]},
                "data": [number(v) for v in frame["incremental_orders"]],
            },
        ],
    }


def build_lift_section(inp: SectionInput) -> Section | None:
    """Return the brand's holdout-lift section, or None when no campaign of the brand has
    matched users in both arms. The outcome window is the report's funnel window (the
    category's decision cycle) after each campaign's last spend date."""
    days = inp.settings.windows.funnel_days
    alpha = inp.settings.lift.alpha
    lift = campaign_lift(inp.engine, inp.brand_id, window_days=days, alpha=alpha)
    if lift.empty:
        return None
    by_retailer = campaign_lift_by(
        inp.engine, inp.brand_id, "retailer", window_days=days, alpha=alpha
    )
    level = f"{1 - alpha:.0%}"
    text = with_text(lift)
    tables = [
        SectionTable(
            key="campaigns",
            title=Text2("各投放活动", "Per campaign"),
            frame=text,
            columns=CAMPAIGN_COLUMNS,
            headers=HEADERS,
            kinds=KINDS,
            caption=Text2(
                f"区间为 {level} 置信区间；增量＝（测试组人均 − 对照组人均）× 测试组用户。",
                f"{level} intervals; incremental = (test mean − control mean) × test users.",
            ),
        ),
        SectionTable(
            key="value",
            title=Text2("增量价值与触达", "Incremental value and reach"),
            frame=text,
            columns=VALUE_COLUMNS,
            headers=HEADERS,
            kinds=KINDS,
            caption=Text2(
                "增量 ROAS＝增量 GMV ÷ 花费；触达率＝测试组中花费期间看到活动笔记的用户占比。",
                "iROAS = incremental GMV ÷ spend; reach = share of test users who saw one of the "
                "campaign's notes during its spend days.",
            ),
        ),
    ]
    if not by_retailer.empty:
        tables.append(
            SectionTable(
                key="retailers",
                title=Text2("按零售平台", "By retailer"),
                frame=with_text(by_retailer),
                columns=RETAILER_COLUMNS,
                headers=HEADERS,
                kinds=KINDS,
                caption=Text2(
                    "同一活动各平台之和等于活动合计；ROAS 以活动全部花费为分母。",
                    "A campaign's retailer rows add up to its total; iROAS divides by the "
                    "campaign's whole spend.",
                ),
            )
        )
    chart = SectionChart(
        "incremental",
        Text2("各活动增量订单及置信区间", "Incremental orders per campaign with intervals"),
        {lang: chart_option(lift, lang) for lang in LANGS},
        height=340,
    )
    notes = (
        Text2(
            f"单位为投放前随机分组、且在零售平台匹配到的用户；结果为活动首个花费日至末个花费日后 "
            f"{days} 天内品牌店铺的订单与 GMV，未下单用户计 0。绝对提升用 Welch t 区间"
            "（某组方差为 0 时改用两组合并方差），相对提升用 delta 方法。",
            f"Units are users randomized before delivery and matched on a retailer; outcomes are "
            f"orders and GMV at the brand's shops from a campaign's first spend date to {days} "
            "days after its last, users without orders counting 0. Absolute lift uses Welch's t "
            "interval (an arm with zero variance gets the two arms' pooled variance), relative "
            "lift the delta method.",
        ),
        Text2(
            "每触达用户增量＝ITT 增量 ÷ 测试组触达率（Bloom 估计量），触达＝花费期间看到活动笔记"
            "（付费或自然）；假设：未被触达的测试组用户不受影响。",
            "Lift per reached user = ITT lift ÷ the test arm's reach (Bloom's estimator); reached "
            "= saw one of the campaign's notes during its spend days (paid or organic). "
            "Assumption: test users the campaign did not reach are unaffected.",
        ),
        Text2(
            "样本比例失衡（SRM）：匹配后两组人数与随机分组比例的卡方检验 p < 0.001；"
            "样本量不足：区间包含 0 且最小可检测效应超过对照组人均的 10%。",
            "SRM: chi-square of matched arm sizes against the randomized split, p < 0.001. "
            "Underpowered: the interval holds 0 and the minimum detectable effect exceeds 10% "
            "of the control mean.",
        ),
    )
    return Section(key="lift", title=TITLE, tables=tuple(tables), charts=(chart,), notes=notes)
