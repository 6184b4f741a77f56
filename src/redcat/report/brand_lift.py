"""The brand view's holdout-lift section: each campaign's lift computed from released arm sums.

The arms' sizes, buyers, orders and GMV are released through the privacy layer
(:mod:`redcat.privacy.lift`: bounded per person, thresholded on buyers, noisy); the lift,
incremental orders and GMV and iROAS are computed from those released figures here. Sampling
intervals and p-values are not shown: the noise on the released sums is not folded into them
yet, and the section says so.
"""

from __future__ import annotations

import pandas as pd

from redcat.privacy.bundle import ReleasedPart
from redcat.privacy.lift import CELL, LIFT_COLUMNS, lift_from_sums
from redcat.privacy.thresholds import OTHER, below_k_label
from redcat.report.section import Section, SectionTable, Text2
from redcat.report.sections.lift import HEADERS, KINDS

TITLE = Text2("增量（随机对照组，品牌视图）", "Incremental lift (randomized holdouts, brand view)")
#: Shown columns: every released lift figure but the arms' raw GMV sums.
COLUMNS: tuple[str, ...] = tuple(c for c in LIFT_COLUMNS if not c.startswith("gmv_"))
_HEADERS: dict[str, Text2] = {
    **HEADERS,
    "conv_rate_test": Text2("测试组成交率", "test conversion rate"),
    "conv_rate_control": Text2("对照组成交率", "control conversion rate"),
}
_KINDS: dict[str, str] = {
    **KINDS,
    "n_test": "count",
    "n_control": "count",
    "conv_rate_test": "rate1",
    "conv_rate_control": "rate1",
}


def brand_lift_section(part: ReleasedPart, spend: pd.DataFrame, k: int, conf: str) -> Section:
    """Return the lift section of the brand view from the released arm sums ``part`` (key
    ``cell`` = ``<campaign>:<arm>``) and each campaign's ``spend`` (currency, exact): one row
    per campaign with both arms released."""
    frame = lift_from_sums(part.frame, spend)
    arms = part.frame[part.frame[CELL] != OTHER]
    withheld = int(arms["orders"].isna().sum())
    err = part.error
    err_zh = (
        f"人数 ±{err['n']:,.0f}、成交用户 ±{err['converters']:,.0f}、订单 ±{err['orders']:,.0f}、"
        f"GMV ±{err['gmv']:,.0f}"
    )
    err_en = (
        f"people ±{err['n']:,.0f}, buyers ±{err['converters']:,.0f}, orders "
        f"±{err['orders']:,.0f}, GMV ±{err['gmv']:,.0f}"
    )
    table = SectionTable(
        "campaigns",
        Text2("各投放活动的增量（由发布数字计算）", "Lift per campaign (from released figures)"),
        frame,
        COLUMNS,
        headers=_HEADERS,
        kinds=_KINDS,
        caption=Text2(
            f"模式：噪声（ε={part.epsilon:.3g}）。每组的人数与合计在 {conf} 概率下误差不超过："
            f"{err_zh}；提升与增量由这些发布数字计算。{len(arms)} 个实验组中 {withheld} 个少于 "
            f"{k} 位成交用户，已隐藏（{below_k_label(k)}），该活动不显示。"
            "花费为内容平台自有数据，精确。",
            f"Mode: noisy (ε={part.epsilon:.3g}). Each arm's size and sums are within {err_en} "
            f"with {conf} probability; lift and incremental figures are computed from them. "
            f"{withheld} of {len(arms)} arms have fewer than {k} buyers and are withheld "
            f"({below_k_label(k)}): their campaigns are not shown. Spend is the content "
            "platform's own figure, exact.",
        ),
    )
    return Section(
        key="lift",
        title=TITLE,
        tables=(table,),
        notes=(
            Text2(
                "每位用户最多计入若干个实验组，其订单与 GMV 在计入前被截断；区间与 p 值暂不提供："
                "发布数字上的噪声尚未计入抽样区间。",
                "Each person counts in a bounded number of campaign arms, their orders and GMV "
                "clipped first. Intervals and p-values are not shown: the noise on the released "
                "figures is not yet folded into the sampling intervals.",
            ),
        ),
    )


def no_lift_section(k: int) -> Section:
    """Return the lift section of a brand whose holdout campaigns all have an arm from fewer
    than ``k`` buyers: nothing is released (and no ε spent on it), and it says why."""
    return Section(
        key="lift",
        title=TITLE,
        notes=(
            Text2(
                f"没有任何投放活动的测试组与对照组都达到 {k} 位成交用户（按人贡献上限截断后），"
                "因此不发布增量，也不为其消耗预算。",
                f"No campaign has both its test and control arm from at least {k} buyers (after "
                "the per-person contribution bounds), so no lift is released and no budget is "
                "spent on it.",
            ),
        ),
    )
