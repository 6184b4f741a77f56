"""Names of every metric, column, stage, attribution model and page text, in zh-CN and English.

Every word a report shows comes from here, so the two languages stay in step: each table is a
mapping ``key -> (zh, en)``. Unknown metric, model or note-type keys fall back to the key itself
(a new model still renders, under its code name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from redcat.errors import ConfigError

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

#: Metric and column names (KPI keys and every frame column of ReportData).
METRICS: Mapping[str, tuple[str, str]] = {
    # headline metrics
    "spend": ("花费", "Spend"),
    "impressions": ("曝光量", "Impressions"),
    "reach": ("曝光人数", "Reach"),
    "matched_reach": ("匹配曝光人数", "Matched reach"),
    "reads": ("阅读量", "Reads"),
    "ctr": ("点击率", "CTR"),
    "interactions": ("互动量", "Interactions"),
    "interaction_rate": ("互动率", "Interaction rate"),
    "back_search_users": ("回搜人数", "Back-search users"),
    "back_search_rate": ("回搜率", "Back-search rate"),
    "visitors": ("进店人数", "Store visitors"),
    "visit_rate": ("进店率", "Visit rate"),
    "cost_per_visit": ("进店成本", "Cost per visit"),
    "carts": ("加购", "Add-to-carts"),
    "orders": ("成交订单", "Orders"),
    "gmv": ("成交金额 GMV", "GMV"),
    "new_customers": ("新客", "New customers"),
    "roi": ("ROI", "ROI"),
    # other columns
    "date": ("日期", "Date"),
    "note_id": ("笔记 ID", "Note ID"),
    "title": ("笔记标题", "Note title"),
    "creator_id": ("达人", "Creator"),
    "note_type": ("笔记类型", "Note type"),
    "campaign_id": ("投放计划", "Campaign"),
    "notes": ("笔记数", "Notes"),
    "stage": ("环节", "Stage"),
    "users": ("人数", "Users"),
    "rate_from_previous": ("环节转化率", "Step conversion"),
    "rate_from_reach": ("占曝光人数", "Share of reach"),
    "model": ("归因模型", "Attribution model"),
    "conversions": ("归因成交", "Credited orders"),
    "value": ("归因 GMV", "Credited GMV"),
    "credited_orders": ("归因成交", "Credited orders"),
    "wape": ("WAPE 误差", "WAPE"),
    "rank": ("排名", "Rank"),
    "true_incremental_orders": ("真实增量成交", "True incremental orders"),
    "true_incremental_gmv": ("真实增量 GMV", "True incremental GMV"),
    "metric": ("指标", "Metric"),
}

#: Funnel stages (种草 → 拔草), short names for the funnel chart and table.
STAGES: Mapping[str, tuple[str, str]] = {
    "reach": ("曝光", "Exposure"),
    "read": ("阅读", "Read"),
    "interaction": ("互动", "Interaction"),
    "back_search": ("回搜", "Back-search"),
    "visit": ("进店", "Store visit"),
    "cart": ("加购", "Add to cart"),
    "order": ("成交", "Order"),
}

#: Attribution models, plus ``truth`` for the simulator's true incremental orders.
MODELS: Mapping[str, tuple[str, str]] = {
    "first": ("首次触点", "First touch"),
    "last": ("末次触点", "Last touch"),
    "linear": ("线性", "Linear"),
    "position": ("位置加权 40/20/40", "Position-based 40/20/40"),
    "time_decay": ("时间衰减", "Time decay"),
    "markov": ("马尔可夫链", "Markov chain"),
    "shapley": ("Shapley 值", "Shapley value"),
    "truth": ("真实增量（模拟）", "True incremental (simulated)"),
}

#: Note types of the data contract.
NOTE_TYPES: Mapping[str, tuple[str, str]] = {
    "organic": ("自然笔记", "Organic"),
    "partnership": ("合作笔记", "Partnership"),
    "ad": ("广告笔记", "Ad"),
}

#: Look-back windows of ReportData.windows (values in days).
WINDOWS: Mapping[str, tuple[str, str]] = {
    "funnel_days": ("转化窗口", "Conversion window"),
    "click_days": ("点击归因窗口", "Click-through window"),
    "view_days": ("浏览归因窗口", "View-through window"),
    "new_customer_days": ("新客回看", "New-customer look-back"),
}

#: Page and table text; ``{name}`` fields are filled by :func:`text`.
TEXT: Mapping[str, tuple[str, str]] = {
    "report_title": ("种草 → 拔草 全链路度量报告", "Seeding-to-sales measurement report"),
    "page_title": ("{brand} · 种草→拔草报告 · {period}", "{brand} · Seeding-to-sales · {period}"),
    "brand": ("品牌", "Brand"),
    "period": ("统计周期", "Period"),
    "period_range": ("{start} 至 {end}", "{start} to {end}"),
    "retailers": ("零售平台", "Retailers"),
    "generated_at": ("生成时间", "Generated"),
    "windows": ("窗口", "Windows"),
    "days": ("{n} 天", "{n} days"),
    "switch_lang": ("English", "中文"),
    "section_kpis": ("核心指标", "Headline metrics"),
    "section_funnel": ("转化漏斗", "Conversion funnel"),
    "section_trend": ("每日趋势", "Daily trend"),
    "section_notes": ("笔记表现 Top {n}（按成交订单）", "Top {n} notes by orders"),
    "section_models": ("归因模型对比", "Attribution models"),
    "section_campaigns": ("投放计划", "Campaigns"),
    "section_creators": ("达人", "Creators"),
    "section_caveats": ("说明", "Notes and caveats"),
    "funnel_hint": (
        "每个环节为到达该环节的去重人数；环节转化率 = 本环节 ÷ 上一环节。",
        "Each stage counts distinct users reaching it; step conversion = this stage ÷ the "
        "previous one.",
    ),
    "funnel_log": ("漏斗宽度按对数刻度绘制。", "Funnel widths use a log scale."),
    "view": ("视图", "View"),
    "view_operator": ("精确值——仅限净室运营方", "exact — clean-room operator only"),
    "view_brand": (
        "品牌视图：匹配用户的数字经隐私层发布（阈值、差分隐私噪声）",
        "brand view: figures about matched people released through the privacy layer "
        "(thresholds, differential-privacy noise)",
    ),
    "mode": ("模式", "Mode"),
    "of_previous": ("环节转化", "step"),
    "of_reach": ("占曝光", "of reach"),
    "users_unit": ("{n} 人", "{n} users"),
    "trend_exposure": ("曝光", "Exposure"),
    "trend_conversion": ("回搜 · 进店 · 成交", "Back-search · visits · orders"),
    "axis_users": ("人数", "Users"),
    "axis_orders": ("订单", "Orders"),
    "chart_orders_per_note": ("各笔记成交订单", "Orders per note"),
    "chart_credits_per_note": ("各模型归因成交（按笔记）", "Credited orders per note, by model"),
    "chart_credits_vs_truth": (
        "各模型归因成交 vs 真实增量成交（按笔记）",
        "Credited vs true incremental orders per note, by model",
    ),
    "chart_wape": ("各模型 WAPE（越低越接近因果真值）", "WAPE by model (lower is closer to truth)"),
    "chart_model_totals": ("各模型归因成交合计", "Total credited orders by model"),
    "closest": (
        "最接近因果真值的模型：{model}（WAPE {wape}）",
        "Closest to causal truth: {model} (WAPE {wape})",
    ),
    "wape_explainer": (
        "WAPE = Σ|模型归因成交 − 真实增量成交| ÷ Σ真实增量成交（按笔记汇总）。",
        "WAPE = Σ|credited − true incremental orders| ÷ Σ true incremental orders, over notes.",
    ),
    "no_truth": (
        "无因果真值（真实数据，非模拟世界）：无法计算 WAPE，也无法判断哪个模型最接近因果真值；"
        "下面只比较各模型的归因结果。",
        "No causal ground truth (real data, not a simulated world): WAPE cannot be computed and "
        "no model can be called closest to causal truth; the models are compared on credited "
        "orders only.",
    ),
    "not_boosted": ("未加热", "Not boosted"),
    "no_rows": ("无数据", "No data"),
    "top_n_of": ("共 {total} 篇笔记，显示前 {n} 篇", "{n} of {total} notes shown"),
    "aggregates_only": (
        "本报告只含聚合结果，不含任何用户级数据。",
        "This report holds aggregates only, no user-level data.",
    ),
    "footer": (
        "由 redcat {version} 生成 · 图表：Apache ECharts {echarts}（Apache-2.0，随报告本地附带）",
        "Generated by redcat {version} · Charts: Apache ECharts {echarts} "
        "(Apache-2.0, bundled locally)",
    ),
    "kpi_group_exposure": ("曝光", "Exposure"),
    "kpi_group_engagement": ("互动", "Engagement"),
    "kpi_group_search": ("回搜", "Back-search"),
    "kpi_group_visit": ("进店", "Store visits"),
    "kpi_group_sales": ("成交", "Sales"),
    "kpi_group_return": ("回报", "Return"),
    "charts_unavailable": (
        "图表未能加载：需要与本页同目录的 assets/echarts.min.js。",
        "Charts could not load: they need assets/echarts.min.js next to this page.",
    ),
    "value": ("数值", "Value"),
}


def check_lang(lang: str) -> Lang:
    """Return ``lang`` as a :data:`Lang`, or raise :class:`ConfigError` if it is not zh or en."""
    if lang == "zh":
        return "zh"
    if lang == "en":
        return "en"
    raise ConfigError(f"report language must be one of {', '.join(LANGS)}, not {lang!r}")


def _pick(table: Mapping[str, tuple[str, str]], key: str, lang: Lang) -> str:
    pair = table.get(key)
    if pair is None:
        return key
    return pair[0] if check_lang(lang) == "zh" else pair[1]


def metric_label(key: str, lang: Lang) -> str:
    """Return the display name of a metric or column ``key`` (the key itself if unknown)."""
    return _pick(METRICS, key, lang)


def stage_label(key: str, lang: Lang) -> str:
    """Return the display name of a funnel stage (the key itself if unknown)."""
    return _pick(STAGES, key, lang)


def model_label(key: str, lang: Lang) -> str:
    """Return the display name of an attribution model, or of ``truth`` (the key if unknown)."""
    return _pick(MODELS, key, lang)


def note_type_label(key: str, lang: Lang) -> str:
    """Return the display name of a note type (the key itself if unknown)."""
    return _pick(NOTE_TYPES, key, lang)


def window_label(key: str, lang: Lang) -> str:
    """Return the display name of a look-back window key (the key itself if unknown)."""
    return _pick(WINDOWS, key, lang)


def text(key: str, lang: Lang, **fields: object) -> str:
    """Return page text ``key`` in ``lang`` with ``{name}`` fields filled from ``fields``.

    Raises ``KeyError`` for an unknown key: page text is fixed, so a typo is a bug, not data.
    """
    pair = TEXT[key]
    template = pair[0] if check_lang(lang) == "zh" else pair[1]
    return template.format(**fields) if fields else template
