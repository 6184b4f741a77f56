"""The 种草直达 section: the brand's ad links (clicks, unique clickers, orders, GMV, conversion
rate) and, per note, the link channel beside the orders the PSI-matched exposure paths credit to
that note (:mod:`redcat.links.report`).

The links live in the operational store (``settings.web.ops_db``); a report without one, or a
brand without links, has no such section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from redcat.links.report import link_report, note_link_report
from redcat.report.charts import FONT_FAMILY, PALETTE
from redcat.report.section import LANGS, Section, SectionChart, SectionInput, SectionTable, Text2
from redcat.store.db import make_engine

TITLE = Text2("种草直达 广告挂链", "Ad links under notes (种草直达)")
HEADERS: dict[str, Text2] = {
    "note_id": Text2("笔记", "note"),
    "link_id": Text2("链接", "link"),
    "retailer_id": Text2("零售平台", "retailer"),
    "clicks": Text2("点击", "clicks"),
    "unique_clickers": Text2("独立点击者", "unique clickers"),
    "bot_clicks": Text2("机器点击（未计）", "bot clicks (not counted)"),
    "store_visits": Text2("进店", "store visits"),
    "visit_rate": Text2("进店率", "visit rate"),
    "orders": Text2("成交", "orders"),
    "gmv": Text2("GMV", "GMV"),
    "conversion_rate": Text2("转化率", "conversion rate"),
    "links": Text2("链接数", "links"),
    "link_orders": Text2("挂链成交", "link orders"),
    "link_gmv": Text2("挂链 GMV", "link GMV"),
    "matched_orders": Text2("匹配路径成交", "matched-path orders"),
    "matched_gmv": Text2("匹配路径 GMV", "matched-path GMV"),
    "link_share": Text2("挂链占比", "link share"),
}
KINDS: dict[str, str] = {
    "note_id": "text",
    "link_id": "text",
    "retailer_id": "text",
    "clicks": "count",
    "unique_clickers": "count",
    "bot_clicks": "count",
    "store_visits": "count",
    "visit_rate": "rate",
    "orders": "count",
    "gmv": "money",
    "conversion_rate": "rate",
    "links": "count",
    "link_orders": "count",
    "link_gmv": "money",
    "matched_orders": "decimal",
    "matched_gmv": "money",
    "link_share": "rate",
}


def open_ops_store(url: str) -> Engine | None:
    """Return an engine on the operational store at ``url`` if it exists and holds the links
    tables, else None (a missing SQLite file is not created)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or not Path(parsed.database).exists()
    ):
        return None
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("links"):
            engine.dispose()
            return None
    except Exception:  # an unreachable server: the report goes on without this section
        engine.dispose()
        return None
    return engine


def link_vs_matched(notes: pd.DataFrame, credits: pd.DataFrame, model: str) -> pd.DataFrame:
    """Return per note with a link: ``note_id``, ``clicks``, ``link_orders``, ``link_gmv``
    (link conversions in the click window), ``matched_orders``, ``matched_gmv`` (orders and GMV
    that ``model`` credits to the note over PSI-matched exposure paths) and ``link_share`` =
    link orders ÷ (link + matched orders), NaN when both are 0."""
    mine = credits[credits["model"] == model] if "model" in credits else credits
    matched = mine.groupby("note_id")[["conversions", "value"]].sum()
    out = notes.rename(columns={"orders": "link_orders", "gmv": "link_gmv"}).merge(
        matched.rename(columns={"conversions": "matched_orders", "value": "matched_gmv"}),
        left_on="note_id",
        right_index=True,
        how="left",
    )
    out[["matched_orders", "matched_gmv"]] = out[["matched_orders", "matched_gmv"]].fillna(0.0)
    total = out["link_orders"] + out["matched_orders"]
    out["link_share"] = (out["link_orders"] / total.where(total > 0)).astype("float64")
    cols = ["note_id", "clicks", "link_orders", "link_gmv", "matched_orders", "matched_gmv"]
    return out[[*cols, "link_share"]]


def _chart(compare: pd.DataFrame, lang: str) -> dict[str, Any]:
    notes = list(compare["note_id"])
    return {
        "color": [PALETTE[0], PALETTE[2]],
        "textStyle": {"fontFamily": FONT_FAMILY},
        "aria": {"enabled": True},
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis", "confine": True},
        "grid": {"left": 56, "right": 24, "top": 36, "bottom": 28, "containLabel": True},
        "xAxis": {"type": "category", "data": notes, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "name": HEADERS["orders"].get(lang)},
        "series": [
            {
                "name": HEADERS["link_orders"].get(lang),
                "type": "bar",
                "data": [int(v) for v in compare["link_orders"]],
            },
            {
                "name": HEADERS["matched_orders"].get(lang),
                "type": "bar",
                "data": [round(float(v), 2) for v in compare["matched_orders"]],
            },
        ],
    }


def build_links_section(inp: SectionInput) -> Section | None:
    """Return the ad-link section for ``inp.brand_id``, or None without an operational store,
    links tables or links of the brand."""
    engine = open_ops_store(inp.settings.web.ops_db)
    if engine is None:
        return None
    try:
        report = link_report(engine, inp.brand_id, inp.settings.links)
    finally:
        engine.dispose()
    if report.empty:
        return None
    model = inp.settings.attribution.report_model
    compare = link_vs_matched(note_link_report(report), inp.credits, model)
    per_link = SectionTable(
        key="links",
        title=Text2("每条挂链", "Per link"),
        frame=report,
        columns=(
            "note_id",
            "link_id",
            "retailer_id",
            "clicks",
            "unique_clickers",
            "store_visits",
            "visit_rate",
            "orders",
            "gmv",
            "conversion_rate",
            "bot_clicks",
        ),
        headers=HEADERS,
        kinds=KINDS,
    )
    per_note = SectionTable(
        key="notes",
        title=Text2(
            "挂链与匹配路径（每篇笔记）", "Link channel vs matched exposure paths, per note"
        ),
        frame=compare,
        columns=tuple(compare.columns),
        headers=HEADERS,
        kinds=KINDS,
        caption=Text2(
            f"匹配路径成交：{model} 模型归因到该笔记的订单（仅 PSI 匹配用户）。",
            f"Matched-path orders: orders the {model} model credits to the note (PSI-matched "
            "users only).",
        ),
    )
    chart = SectionChart(
        key="orders",
        title=Text2("挂链成交与匹配路径成交", "Link orders and matched-path orders"),
        options={lang: _chart(compare, lang) for lang in LANGS},
    )
    days = inp.settings.links.click_days
    return Section(
        key="links",
        title=TITLE,
        tables=(per_link, per_note),
        charts=(chart,),
        notes=(
            Text2(
                f"挂链成交：零售平台回传、带点击 ID、点击后 {days} 天内下单的订单；无需身份匹配。",
                f"Link orders: orders the retailer posted back with the click id, placed within "
                f"{days} days of the click; no identity match needed.",
            ),
            Text2(
                "机器人（已知 UA、同一来源短时突发）的点击不计入点击数；独立点击者按加盐哈希的"
                "地址计数（共用地址只算一次）。",
                "Clicks from bots (known user agents, bursts from one source) are not counted; "
                "unique clickers count salted address hashes (a shared address counts once).",
            ),
            Text2(
                "同一订单可能同时出现在挂链和匹配路径中（两条渠道不去重）。",
                "One order may appear in both the link channel and the matched paths (the two "
                "are not de-duplicated).",
            ),
        ),
    )
