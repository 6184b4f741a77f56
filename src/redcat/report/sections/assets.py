"""The AIPS audience-asset (人群资产) section: stage sizes over the report period, a Sankey of the
flows (流转) between its first and last day, the flow matrix, the I→P conversion rate and the notes
that added the most assets (:mod:`redcat.assets`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from redcat.assets import ALL_STAGES, STAGES, AudienceAssets, audience_assets
from redcat.report.charts import PALETTE, base_option
from redcat.report.fmt import fmt_date
from redcat.report.section import LANGS, Section, SectionChart, SectionInput, SectionTable, Text2

#: Stage names; codes stay in tables and node names so both languages read the same data.
STAGE_NAMES: dict[str, Text2] = {
    "none": Text2("未触达", "none"),
    "A": Text2("A 认知", "A aware"),
    "I": Text2("I 兴趣", "I interest"),
    "P": Text2("P 购买", "P purchased"),
    "S": Text2("S 分享", "S shared"),
}
STAGE_COLORS: dict[str, str] = {
    "none": "#CBD5E1",
    "A": PALETTE[2],
    "I": PALETTE[1],
    "P": PALETTE[0],
    "S": PALETTE[4],
}
START = Text2("期初", "start")
END = Text2("期末", "end")
TITLE = Text2("AIPS 人群资产", "AIPS audience assets")


def node_name(stage: str, side: Text2, lang: str) -> str:
    """Return the Sankey node of ``stage`` on one side, unique per side: ``A 认知（期初）`` /
    ``A aware (start)``."""
    name = STAGE_NAMES[stage].get(lang)
    return f"{name}（{side.get(lang)}）" if lang == "zh" else f"{name} ({side.get(lang)})"


def _base() -> dict[str, Any]:
    return {
        **base_option(),
    }


def trend_option(sizes: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Return a stacked-area chart of people per stage (A, I, P, S) and day; ``none`` is left
    out (it would dwarf the rest)."""
    wide = sizes.pivot(index="date", columns="stage", values="users").sort_index()
    dates = [fmt_date(d) for d in wide.index]
    series = [
        {
            "name": STAGE_NAMES[s].get(lang),
            "type": "line",
            "stack": "assets",
            "areaStyle": {"opacity": 0.75},
            "symbol": "none",
            "lineStyle": {"width": 1},
            "color": STAGE_COLORS[s],
            "emphasis": {"focus": "series"},
            "data": [int(v) for v in wide[s]],
        }
        for s in STAGES
    ]
    option = _base()
    option.update(
        {
            "legend": {"top": 0, "itemWidth": 14, "itemHeight": 8},
            "tooltip": {"trigger": "axis", "confine": True},
            "grid": {"left": 56, "right": 24, "top": 36, "bottom": 28, "containLabel": True},
            "xAxis": {"type": "category", "boundaryGap": False, "data": dates},
            "yAxis": {
                "type": "value",
                "name": Text2("人数", "people").get(lang),
                "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
            },
            "series": series,
        }
    )
    return option


def sankey_option(flows: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Return a Sankey of people moving between stages from the first to the last day: nodes are
    stages on each side (unique names), links carry people; none → none is left out (people the
    brand never reached on either day) and so are empty links."""
    links: list[dict[str, Any]] = []
    for source, target, users in zip(
        flows["from_stage"].astype(str),
        flows["to_stage"].astype(str),
        flows["users"].to_numpy("int64"),
        strict=True,
    ):
        if users > 0 and not (source == "none" and target == "none"):
            links.append(
                {
                    "source": node_name(source, START, lang),
                    "target": node_name(target, END, lang),
                    "value": int(users),
                }
            )
    used = {link["source"] for link in links} | {link["target"] for link in links}
    nodes = [
        {
            "name": node_name(stage, side, lang),
            "depth": depth,
            "itemStyle": {"color": STAGE_COLORS[stage]},
        }
        for depth, side in enumerate((START, END))
        for stage in ALL_STAGES
        if node_name(stage, side, lang) in used
    ]
    option = _base()
    option.update(
        {
            "tooltip": {"trigger": "item", "confine": True},
            "series": [
                {
                    "type": "sankey",
                    "left": 8,
                    "right": 120,
                    "top": 8,
                    "bottom": 8,
                    "nodeAlign": "justify",
                    "layoutIterations": 0,  # keep the stage order on both sides
                    "emphasis": {"focus": "adjacency"},
                    "lineStyle": {"color": "target", "opacity": 0.4, "curveness": 0.5},
                    "label": {"color": "#1F2937"},
                    "data": nodes,
                    "links": links,
                }
            ],
        }
    )
    return option


_HEADERS: dict[str, Text2] = {
    "stage": Text2("阶段", "stage"),
    "from_stage": Text2("期初阶段 → 期末", "from stage → to"),
    "users_start": Text2("期初人数", "people at start"),
    "users_end": Text2("期末人数", "people at end"),
    "change": Text2("变化", "change"),
    "share_end": Text2("期末占比", "share at end"),
    "interest_users": Text2("I 阶段人数", "people in I"),
    "converted_users": Text2("其后购买", "ordered later"),
    "rate": Text2("I→P 转化率", "I→P rate"),
    "start": Text2("开始", "from"),
    "end": Text2("结束", "to"),
    "note_id": Text2("笔记", "note"),
    "title": Text2("标题", "title"),
    "total": Text2("合计", "total"),
    **{s: Text2(f"{s}（人）", f"{s} (people)") for s in (*STAGES, "none")},
}


def _table(
    key: str,
    title: Text2,
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    kinds: dict[str, str],
    caption: Text2 | None = None,
) -> SectionTable:
    return SectionTable(
        key=key,
        title=title,
        frame=frame,
        columns=columns,
        headers={c: _HEADERS[c] for c in columns if c in _HEADERS},
        kinds=kinds,
        caption=caption,
    )


def build_assets_section(inp: SectionInput) -> Section | None:
    """Return the brand's audience-asset section over its report period (first note … last day of
    matched data), or None when no matched person ever reached a stage."""
    settings = inp.settings.assets
    assets = audience_assets(inp.engine, inp.brand_id, settings)
    if assets.first_day is None or assets.last_day is None or assets.population == 0:
        return None
    start, end = assets.period()
    sizes = assets.stage_sizes(start, end)
    if int(sizes.loc[sizes["stage"] != "none", "users"].sum()) == 0:
        return None
    return Section(
        key="assets",
        title=TITLE,
        tables=_tables(assets, start, end, inp.settings.report.top_notes),
        charts=(
            SectionChart(
                "trend",
                Text2("各阶段人数（按天）", "People per stage and day"),
                {lang: trend_option(sizes, lang) for lang in LANGS},
                height=320,
            ),
            SectionChart(
                "sankey",
                Text2(
                    f"人群流转 {fmt_date(start)} → {fmt_date(end)}",
                    f"Flows {fmt_date(start)} → {fmt_date(end)}",
                ),
                {lang: sankey_option(assets.flows(start, end), lang) for lang in LANGS},
                height=380,
            ),
        ),
        notes=_notes(assets),
    )


def _tables(assets: AudienceAssets, start: Any, end: Any, top: int) -> tuple[SectionTable, ...]:
    summary = assets.summary(start, end)
    flows = assets.flows(start, end)
    matrix = flows.pivot(index="from_stage", columns="to_stage", values="users")
    matrix = matrix.reindex(index=list(ALL_STAGES), columns=list(ALL_STAGES)).reset_index()
    matrix.columns.name = None
    conv = assets.conversion(start, end)
    rate = pd.DataFrame(
        [
            {
                "start": start,
                "end": end,
                "interest_users": conv.interest_users,
                "converted_users": conv.converted_users,
                "rate": conv.rate,
            }
        ]
    )
    notes = assets.note_assets_wide(start, end).head(top)
    count = "count"
    return (
        _table(
            "stages",
            Text2("各阶段人数：期初与期末", "People per stage, first and last day"),
            summary,
            ("stage", "users_start", "users_end", "change", "share_end"),
            {
                "stage": "text",
                "users_start": count,
                "users_end": count,
                "change": count,
                "share_end": "rate",
            },
        ),
        _table(
            "flows",
            Text2(
                "流转矩阵（行：期初阶段；列：期末阶段）", "Flow matrix (rows: start; columns: end)"
            ),
            matrix,
            ("from_stage", *ALL_STAGES),
            {"from_stage": "text", **dict.fromkeys(ALL_STAGES, count)},
        ),
        _table(
            "i_to_p",
            Text2("I→P 转化", "I→P conversion"),
            rate,
            ("start", "end", "interest_users", "converted_users", "rate"),
            {
                "start": "date",
                "end": "date",
                "interest_users": count,
                "converted_users": count,
                "rate": "rate",
            },
            caption=Text2(
                "期内任一天处于 I 阶段的人中，其后（期内）下单的比例。",
                "Of the people in stage I on any day of the period, the share who ordered the "
                "brand on a later day of it.",
            ),
        ),
        _table(
            "notes",
            Text2(
                f"带来人群资产最多的 {len(notes)} 篇笔记", f"Top {len(notes)} notes by assets added"
            ),
            notes,
            ("note_id", "title", *STAGES, "total"),
            {"note_id": "text", "title": "text", **dict.fromkeys((*STAGES, "total"), count)},
            caption=Text2(
                "期内首次进入该阶段、且经由这篇笔记进入的人数（P：下单前 "
                f"{assets.settings.purchase_credit_days} 天内最后接触的笔记）。",
                "People whose first entry into the stage in the period came via the note (P: the "
                f"last note touched in the {assets.settings.purchase_credit_days} days before the "
                "order).",
            ),
        ),
    )


def _notes(assets: AudienceAssets) -> tuple[Text2, ...]:
    s = assets.settings
    return (
        Text2(
            "每位匹配用户每天只处于一个最高阶段：A 认知＝看过品牌笔记；I 兴趣＝点赞/收藏/评论/分享/"
            "关注/搜索/点击链接，或在零售平台回搜品牌词、进店、收藏、加购；P 购买＝下单；"
            "S 分享＝购买后发布了关于品牌的笔记。",
            "Each matched person sits in one stage per day, their highest: A aware = saw a brand "
            "note; I interest = liked, collected, commented, shared, followed, searched from or "
            "clicked the link of a brand note, or searched a brand term, visited, favorited or "
            "carted at a brand shop on a retailer; P purchased = ordered; S shared = wrote a "
            "note about the brand after ordering it.",
        ),
        Text2(
            f"阶段有效期：A {s.aware_days} 天、I {s.interest_days} 天、P {s.purchase_days} 天、"
            f"S {s.share_days} 天，过期后回落到仍有效的最高阶段；人数均为去重人数，"
            f"总人数为 {assets.population:,} 位匹配用户（含未触达）。",
            f"Stages last A {s.aware_days}, I {s.interest_days}, P {s.purchase_days} and "
            f"S {s.share_days} days after their last event, then fall back to the highest stage "
            f"still alive; all figures are distinct people out of {assets.population:,} matched "
            "people (none included).",
        ),
        Text2(
            "桑基图省略了期初与期末都未触达的人。",
            "The Sankey leaves out people in no stage on both days.",
        ),
    )
