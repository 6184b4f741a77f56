"""The output-privacy section: what a brand would receive for a sample of cells (buyers, orders and
GMV per note), beside the exact figures, with each figure's noise, the suppressed cells and the
budget spent and left (:mod:`redcat.privacy`).

The report itself is the clean-room operator's exact view; this section shows, for the brand's
notes, the figures a brand receives through :func:`redcat.privacy.release.release_table`.
"""

from __future__ import annotations

import math

import pandas as pd

from redcat.funnel.metrics import funnel_sources
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.notes import (
    release_brand_totals,
    release_note_orders,
    release_sources,
    released_rates,
)
from redcat.privacy.release import ReleasedTable
from redcat.privacy.thresholds import OTHER, below_k_label
from redcat.report.section import Section, SectionInput, SectionTable, Text2

TITLE = Text2("输出隐私：阈值、差分隐私噪声与预算", "Output privacy: thresholds, noise and budget")
MEASURES: tuple[str, ...] = ("buyers", "orders", "gmv")
_HEADERS: dict[str, Text2] = {
    "note_id": Text2("笔记", "Note"),
    "buyers": Text2("购买人数（精确）", "Buyers (exact)"),
    "buyers_released": Text2("购买人数（发布）", "Buyers (released)"),
    "orders": Text2("订单（精确）", "Orders (exact)"),
    "orders_released": Text2("订单（发布）", "Orders (released)"),
    "gmv": Text2("GMV（精确）", "GMV (exact)"),
    "gmv_released": Text2("GMV（发布）", "GMV (released)"),
    "status": Text2("状态", "Status"),
    "item": Text2("项目", "Item"),
    "value": Text2("值", "Value"),
    "figures": Text2("数字", "Figures"),
    "mode": Text2("模式", "Mode"),
    "why": Text2("原因", "Why"),
}


def _ledger(inp: SectionInput) -> BudgetLedger:
    url = inp.settings.privacy.ledger_url
    if url:
        return BudgetLedger.open(url, inp.settings.privacy)
    return BudgetLedger.in_memory(inp.settings.privacy)


def _shown(value: float, suppressed: bool, k: int) -> str:
    if suppressed:
        return below_k_label(k)
    return "" if value is None or math.isnan(value) else f"{value:,.0f}"


def sample_frame(released: ReleasedTable, k: int, top: int) -> pd.DataFrame:
    """Return one row per sampled note (the ``top`` notes by exact buyers, then the other row):
    exact buyers, orders, GMV beside the released figures (text: ``<k`` when suppressed) and a
    status (released, suppressed, other)."""
    long = released.long
    exact = long.pivot_table(
        index="note_id", columns="measure", values="value", sort=False, dropna=False
    )
    out = long.groupby("note_id", sort=False)[["suppressed", "is_other"]].first().join(exact)
    rel = long.pivot_table(
        index="note_id", columns="measure", values="released", sort=False, dropna=False
    )
    for m in MEASURES:
        out[f"{m}_released"] = [
            _shown(rel.loc[n, m] if n in rel.index else math.nan, bool(s), k)
            for n, s in zip(out.index, out["suppressed"], strict=True)
        ]
    out["status"] = [
        "other" if o else ("suppressed" if s else "released")
        for s, o in zip(out["suppressed"], out["is_other"], strict=True)
    ]
    out = out.reset_index()
    notes = out[~out["is_other"]].sort_values(["buyers", "note_id"], ascending=[False, True])
    sample = pd.concat([notes.head(top), out[out["is_other"]]], ignore_index=True)
    columns = ["note_id"]
    for m in MEASURES:
        columns += [m, f"{m}_released"]
    return sample[[*columns, "status"]]


def build_privacy_section(inp: SectionInput) -> Section | None:
    """Release the brand's per-note buyers, orders and GMV as a brand would receive them and
    return the section comparing them with the exact figures (None when the brand has no
    notes)."""
    if inp.funnel.notes.empty:
        return None
    privacy = inp.settings.privacy
    ledger = _ledger(inp)
    try:
        sources = funnel_sources(inp.engine, inp.brand_id, inp.settings.windows)
        try:
            released = release_note_orders(
                inp.engine, inp.brand_id, inp.settings, ledger, sources=sources
            )
            totals = release_brand_totals(
                inp.engine, inp.brand_id, inp.settings, ledger, sources=sources
            )
        finally:
            release_sources(sources)
        status = ledger.status(inp.brand_id)
    finally:
        ledger.engine.dispose()
    k = privacy.threshold()
    sample = sample_frame(released, k, inp.settings.report.top_notes)
    errors = released.error_bounds()
    long = released.long
    cells = long[~long["is_other"]]
    n_notes = int(cells["note_id"].nunique())
    n_suppressed = int(cells.loc[cells["suppressed"], "note_id"].nunique())
    live = long[~long["suppressed"]]
    mae = {
        m: float(
            (live.loc[live["measure"] == m, "released"] - live.loc[live["measure"] == m, "value"])
            .abs()
            .mean()
        )
        for m in MEASURES
    }
    conf = f"{privacy.confidence:.0%}"
    err_zh = "、".join(
        [
            f"购买人数 ±{errors.get('buyers', 0):,.0f}",
            f"订单 ±{errors.get('orders', 0):,.0f}",
            f"GMV ±{errors.get('gmv', 0):,.0f}",
        ]
    )
    err_en = ", ".join(
        [
            f"buyers ±{errors.get('buyers', 0):,.0f}",
            f"orders ±{errors.get('orders', 0):,.0f}",
            f"GMV ±{errors.get('gmv', 0):,.0f}",
        ]
    )
    kinds = {"note_id": "text", "status": "text"}
    for m in MEASURES:
        kinds[m] = "money" if m == "gmv" else "count"
        kinds[f"{m}_released"] = "text"
    sample_table = SectionTable(
        "sample",
        Text2("抽样：精确值与品牌收到的发布值", "Sample: exact figures and what a brand receives"),
        sample,
        tuple(sample.columns),
        headers=_HEADERS,
        kinds=kinds,
        caption=Text2(
            f"每个发布数字的噪声在 {conf} 概率下不超过：{err_zh}（每格）。{n_notes} 篇笔记中 "
            f"{n_suppressed} 篇少于 {k} 位购买者，已隐藏（{below_k_label(k)}），合并为「其他」行。"
            "精确值为按人贡献上限截断后的值。",
            f"Noise moved each released figure by less than {err_en} per cell with {conf} "
            f"probability. {n_suppressed} of {n_notes} notes have fewer than {k} buyers and are "
            f"suppressed ({below_k_label(k)}), released together as the {OTHER} row. Exact "
            "figures are after the per-person contribution bounds.",
        ),
    )
    spent = released.epsilon_spent + totals.epsilon_spent
    spent_now = f"{spent:g}" + (" (stored answers)" if released.cached or totals.cached else "")
    budget_rows = [
        ("ledger", ledger.description),
        ("period", status.period),
        ("epsilon spent by this report", spent_now),
        ("epsilon spent this period", f"{status.spent:g}"),
        ("epsilon left", f"{status.remaining:g} / {status.total:g}"),
    ]
    budget_rows += [
        (f"{kind} releases left (ε {privacy.release_epsilon[kind]:g} each)", str(n))
        for kind, n in status.releases_left.items()
    ]
    budget_rows += [
        (f"mean absolute error of released {m}", "–" if math.isnan(v) else f"{v:,.1f}")
        for m, v in mae.items()
    ]
    budget = pd.DataFrame(budget_rows, columns=["item", "value"])
    modes = pd.DataFrame(
        [
            (
                "impressions, reach, reads, interactions",
                "exact",
                "content platform's own data, single owner",
            ),
            (
                "matched outcomes in the tables above",
                "exact",
                "operator's view; a brand receives them released (noisy) as below",
            ),
            ("released buyers, orders, GMV below", "noisy", f"threshold k={k}, Laplace noise"),
        ],
        columns=["figures", "mode", "why"],
    )
    return Section(
        key="privacy",
        title=TITLE,
        tables=(
            SectionTable(
                "modes",
                Text2("各数字的模式", "Which mode produced each figure"),
                modes,
                ("figures", "mode", "why"),
                headers=_HEADERS,
                kinds={"figures": "text", "mode": "text", "why": "text"},
            ),
            sample_table,
            _totals_table(totals, k),
            budget_table(budget),
        ),
        notes=_notes(released, inp),
    )


def budget_table(budget: pd.DataFrame) -> SectionTable:
    """Return the privacy budget table of a section: ``budget`` has text columns ``item`` and
    ``value`` (ledger, period, ε spent and left...)."""
    return SectionTable(
        "budget",
        Text2("隐私预算", "Privacy budget"),
        budget,
        ("item", "value"),
        headers=_HEADERS,
        kinds={"item": "text", "value": "text"},
    )


def _notes(released: ReleasedTable, inp: SectionInput) -> tuple[Text2, ...]:
    p = inp.settings.privacy
    eps = released.spec.epsilon
    n = len(released.spec.measures)
    return (
        Text2(
            f"发布前，每位用户的贡献在引擎中被限制：最多 {p.max_cells_per_user} 篇笔记、每篇最多 "
            f"{p.max_events_per_cell} 个订单、每篇 GMV 截断到 {p.value_bound:,.0f}；"
            f"然后加入 OpenDP 拉普拉斯噪声（本表 ε={eps:g}，{n} 个指标平分）。"
            "重复同一问题返回已存答案，不再消耗预算。",
            f"Before release each person's contribution is bounded in the engine: at most "
            f"{p.max_cells_per_user} notes, {p.max_events_per_cell} orders per note and GMV "
            f"clipped to {p.value_bound:,.0f} per note; OpenDP Laplace noise follows (ε={eps:g} "
            f"for this table, split over {n} measures). Asking the same question again returns "
            "the stored answer and spends nothing.",
        ),
        Text2(
            "隐藏的笔记不会单独出现在「其他」行：必要时会再隐藏一篇最小的笔记（互补隐藏），"
            "因此总数减去其他行无法还原被隐藏的单元格。",
            "A suppressed note never stands alone in the other row: the smallest released note "
            "is suppressed with it when needed (complementary suppression), so the total minus "
            "the other rows cannot recover a suppressed cell.",
        ),
    )


def _num(value: float) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def totals_frame(totals: ReleasedTable, k: int) -> pd.DataFrame:
    """Return the brand totals as text rows (figure, exact, released, error bound) followed by
    the rates computed from them (exact parts vs released parts); ``<k`` when suppressed."""
    long = totals.long
    suppressed = bool(long["suppressed"].any())
    rows = [
        {
            "figure": str(m),
            "exact": _num(float(v)),
            "released": below_k_label(k) if sup else _num(float(r)),
            "error_bound": "–" if sup else f"±{_num(float(e))}",
        }
        for m, v, r, sup, e in zip(
            long["measure"],
            long["value"],
            long["released"],
            long["suppressed"],
            long["error_bound"],
            strict=True,
        )
    ]
    rates = released_rates(totals)
    for name, exact, released in zip(rates["rate"], rates["exact"], rates["released"], strict=True):
        rows.append(
            {
                "figure": str(name),
                "exact": _num(float(exact)),
                "released": below_k_label(k) if suppressed else _num(float(released)),
                "error_bound": "–",
            }
        )
    return pd.DataFrame(rows, columns=["figure", "exact", "released", "error_bound"])


def _totals_table(totals: ReleasedTable, k: int) -> SectionTable:
    frame = totals_frame(totals, k)
    return SectionTable(
        "totals",
        Text2("品牌合计与比率（发布值）", "Brand totals and rates (released)"),
        frame,
        ("figure", "exact", "released", "error_bound"),
        headers={
            "figure": Text2("数字", "Figure"),
            "exact": Text2("精确值", "Exact"),
            "released": Text2("发布值", "Released"),
            "error_bound": Text2("误差上限", "Error bound"),
        },
        kinds=dict.fromkeys(("figure", "exact", "released", "error_bound"), "text"),
        caption=Text2(
            f"一次 kpi 发布（ε={totals.spec.epsilon:g}）；"
            "比率由发布的数字计算，份额截断到 [0, 1]。",
            f"One kpi release (ε={totals.spec.epsilon:g}); rates are computed from the released "
            "figures, shares clipped to [0, 1].",
        ),
    )
