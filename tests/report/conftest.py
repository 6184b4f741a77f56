"""Hand-built ReportData fixtures: a small one with hand-checkable numbers, a larger demo one.

The small report: 3 notes, 3 days, 4 attribution models scored against ground truth; note n2 has a
hostile title (``<script>``) and n3 a title that looks like Rich markup.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from redcat.report.data import MODELS, ReportData

HOSTILE_TITLE = '<script>alert("x")</script> & 回搜'

KPIS: dict[str, float | None] = {
    "spend": 1500.0,
    "impressions": 12000,
    "reach": 8000,
    "matched_reach": 5000,
    "reads": 960,
    "ctr": 0.08,
    "interactions": 240,
    "interaction_rate": 0.02,
    "back_search_users": 160,
    "back_search_rate": 0.02,
    "visitors": 100,
    "visit_rate": 0.0125,
    "cost_per_visit": 15.0,
    "carts": 40,
    "orders": 25,
    "gmv": 4500.5,
    "new_customers": 18,
    "roi": 3.0003333333333333,
}


def small_funnel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stage": ["reach", "read", "interaction", "back_search", "visit", "cart", "order"],
            "users": [8000, 800, 200, 160, 100, 40, 25],
            "rate_from_previous": [np.nan, 0.1, 0.25, 0.8, 0.625, 0.4, 0.625],
            "rate_from_reach": [1.0, 0.1, 0.025, 0.02, 0.0125, 0.005, 0.003125],
        }
    )


def small_notes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "title": ["春季新品测评", HOSTILE_TITLE, "[red]日常分享[/red]"],
            "creator_id": ["c1", "c2", "c1"],
            "note_type": ["partnership", "ad", "organic"],
            "campaign_id": ["cmp1", "cmp1", None],
            "impressions": [6000, 4000, 2000],
            "reach": [4000, 3000, 1000],
            "reads": [500, 300, 160],
            "ctr": [500 / 6000, 0.075, 0.08],
            "interactions": [120, 80, 40],
            "interaction_rate": [0.02, 0.02, 0.02],
            "back_search_users": [90, 50, 20],
            "back_search_rate": [0.0225, 50 / 3000, 0.02],
            "visitors": [60, 30, 10],
            "visit_rate": [0.015, 0.01, 0.01],
            "carts": [25, 10, 5],
            "orders": [15, 8, 2],
            "gmv": [2700.0, 1500.5, 300.0],
            "new_customers": [10, 6, 2],
            "spend": [900.0, 600.0, 0.0],
            "cost_per_visit": [15.0, 20.0, 0.0],
            "roi": [3.0, 1500.5 / 600.0, np.nan],
        }
    )


def small_credits() -> pd.DataFrame:
    rows = []
    per_model = {
        "first": (10.0, 10.0, 5.0),
        "last": (15.0, 8.0, 2.0),
        "linear": (12.5, 8.5, 4.0),
        "markov": (11.0, 5.5, 2.5),
    }
    for model, orders in per_model.items():
        for note, conv in zip(("n1", "n2", "n3"), orders, strict=True):
            rows.append((model, note, conv, conv * 180.0))
    return pd.DataFrame(rows, columns=["model", "note_id", "conversions", "value"])


def small_scores(with_truth: bool = True) -> pd.DataFrame:
    # truth n1 10, n2 5, n3 2 (17): WAPE = Σ|credit - truth| / 17
    wape = [8 / 17, 8 / 17, 8 / 17, 2 / 17] if with_truth else [np.nan] * 4
    rank = [2, 3, 4, 1] if with_truth else [None] * 4
    return pd.DataFrame(
        {
            "model": ["first", "last", "linear", "markov"],
            "credited_orders": [25.0, 25.0, 25.0, 19.0],
            "wape": wape,
            "rank": pd.array(rank, dtype="Int64"),
        }
    )


def make_small(**changes: Any) -> ReportData:
    data = ReportData(
        brand_id="brand_a",
        period_start=date(2025, 5, 1),
        period_end=date(2025, 5, 3),
        retailers=("tmall", "jd"),
        generated_at=datetime(2025, 5, 4, 9, 30),
        windows={"funnel_days": 15, "click_days": 15, "view_days": 30},
        kpis=dict(KPIS),
        funnel=small_funnel(),
        daily=pd.DataFrame(
            {
                "date": [date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)],
                "impressions": [5000, 4000, 3000],
                "reach": [3500, 2800, 1700],
                "reads": [400, 320, 240],
                "interactions": [100, 80, 60],
                "back_search_users": [70, 50, 40],
                "visitors": [45, 35, 20],
                "orders": [12, 8, 5],
                "gmv": [2100.25, 1500.0, 900.25],
                "spend": [600.0, 500.0, 400.0],
            }
        ),
        notes=small_notes(),
        creators=pd.DataFrame(
            {
                "creator_id": ["c1", "c2"],
                "notes": [2, 1],
                "impressions": [8000, 4000],
                "reach": [5000, 3000],
                "back_search_users": [110, 50],
                "visitors": [70, 30],
                "orders": [17, 8],
                "gmv": [3000.0, 1500.5],
                "spend": [900.0, 600.0],
            }
        ),
        campaigns=pd.DataFrame(
            {
                "campaign_id": ["cmp1", None],
                "notes": [2, 1],
                "spend": [1500.0, 0.0],
                "impressions": [10000, 2000],
                "reach": [7000, 1000],
                "back_search_users": [140, 20],
                "visitors": [90, 10],
                "orders": [23, 2],
                "gmv": [4200.5, 300.0],
                "roi": [4200.5 / 1500.0, np.nan],
            }
        ),
        credits=small_credits(),
        model_scores=small_scores(),
        truth=pd.DataFrame(
            {
                "note_id": ["n1", "n2", "n3"],
                "true_incremental_orders": [10.0, 5.0, 2.0],
                "true_incremental_gmv": [1800.0, 900.0, 360.0],
            }
        ),
        notes_md=("Markov fell back to linear for 0 journeys.",),
    )
    return dataclasses.replace(data, **changes) if changes else data


def make_demo(seed: int = 7, days: int = 30, n_notes: int = 16, truth: bool = True) -> ReportData:
    """A realistic-looking report (30 days, 16 notes, all 7 models) for rendering checks.

    Numbers are generated, not measured: they only need to look plausible and be self-consistent
    enough to draw (funnel monotone, rates = ratios of the shown counts).
    """
    rng = np.random.default_rng(seed)
    start = date(2025, 4, 1)
    dates = [start + timedelta(days=i) for i in range(days)]
    titles = [
        "春季新品精华液测评｜28天打卡",
        "油皮亲妈！控油粉底液实测",
        "通勤妆容 5 分钟搞定",
        "敏感肌修护面霜真实反馈",
        "学生党平价彩妆合集",
        "防晒霜横评：12 款谁最清爽",
        "空瓶记：今年回购最多的精华",
        "熬夜急救面膜怎么选",
        "新手化妆刷选购指南",
        "618 囤货清单（护肤篇）",
        "唇釉试色：黄皮显白色号",
        "眼霜真的有用吗？成分党解析",
        "夏日清透底妆教程",
        "身体乳香味测评",
        "卸妆油 vs 卸妆膏",
        "男士护肤极简三步",
    ][:n_notes]
    types = ["partnership", "ad", "organic", "partnership"]
    note_rows = []
    for i, title in enumerate(titles):
        reach = int(rng.integers(8_000, 120_000))
        impressions = int(reach * rng.uniform(1.2, 1.8))
        reads = int(impressions * rng.uniform(0.04, 0.12))
        interactions = int(reads * rng.uniform(0.1, 0.3))
        back = int(reach * rng.uniform(0.004, 0.03))
        visitors = int(back * rng.uniform(0.4, 0.8))
        carts = int(visitors * rng.uniform(0.2, 0.5))
        orders = int(carts * rng.uniform(0.3, 0.7))
        gmv = round(orders * float(rng.uniform(120, 320)), 2)
        note_type = types[i % len(types)]
        spend = 0.0 if note_type == "organic" else round(float(rng.uniform(2_000, 20_000)), 2)
        note_rows.append(
            {
                "note_id": f"note_{i + 1:03d}",
                "title": title,
                "creator_id": f"creator_{i % 6 + 1}",
                "note_type": note_type,
                "campaign_id": None if note_type == "organic" else f"camp_{i % 3 + 1}",
                "impressions": impressions,
                "reach": reach,
                "reads": reads,
                "ctr": reads / impressions,
                "interactions": interactions,
                "interaction_rate": interactions / impressions,
                "back_search_users": back,
                "back_search_rate": back / reach,
                "visitors": visitors,
                "visit_rate": visitors / reach,
                "carts": carts,
                "orders": orders,
                "gmv": gmv,
                "new_customers": int(orders * 0.6),
                "spend": spend,
                "cost_per_visit": spend / visitors if visitors else np.nan,
                "roi": gmv / spend if spend else np.nan,
            }
        )
    notes = pd.DataFrame(note_rows)
    tot = notes.select_dtypes("number").sum()
    # distinct users overlap across notes, so brand reach is below the sum over notes
    reach = int(tot["reach"] * 0.7)
    stages = {
        "reach": reach,
        "read": int(tot["reads"] * 0.6),
        "interaction": int(tot["interactions"] * 0.7),
        "back_search": int(tot["back_search_users"] * 0.8),
        "visit": int(tot["visitors"] * 0.85),
        "cart": int(tot["carts"] * 0.9),
        "order": int(tot["orders"]),
    }
    users = list(stages.values())
    funnel = pd.DataFrame(
        {
            "stage": list(stages),
            "users": users,
            "rate_from_previous": [np.nan] + [b / a for a, b in itertools.pairwise(users)],
            "rate_from_reach": [u / reach for u in users],
        }
    )
    weights = rng.dirichlet(np.full(days, 8.0))
    ramp = np.linspace(0.7, 1.3, days)
    weights = weights * ramp / (weights * ramp).sum()

    def spread(total: float) -> list[int]:
        return [round(total * w) for w in weights]

    daily = pd.DataFrame(
        {
            "date": dates,
            "impressions": spread(tot["impressions"]),
            "reach": spread(reach * 1.6),
            "reads": spread(tot["reads"]),
            "interactions": spread(tot["interactions"]),
            "back_search_users": spread(stages["back_search"] * 1.1),
            "visitors": spread(stages["visit"] * 1.05),
            "orders": spread(stages["order"]),
            "gmv": [round(float(tot["gmv"]) * w, 2) for w in weights],
            "spend": [round(float(tot["spend"]) * w, 2) for w in weights],
        }
    )
    creators = (
        notes.assign(notes=1)
        .groupby("creator_id", as_index=False)[
            [
                "notes",
                "impressions",
                "reach",
                "back_search_users",
                "visitors",
                "orders",
                "gmv",
                "spend",
            ]
        ]
        .sum()
    )
    campaigns = (
        notes.assign(notes=1, campaign_id=notes["campaign_id"].fillna("__none__"))
        .groupby("campaign_id", as_index=False)[
            [
                "notes",
                "spend",
                "impressions",
                "reach",
                "back_search_users",
                "visitors",
                "orders",
                "gmv",
            ]
        ]
        .sum()
    )
    campaigns["campaign_id"] = campaigns["campaign_id"].replace("__none__", None)
    campaigns["roi"] = [
        g / s if s else np.nan for g, s in zip(campaigns["gmv"], campaigns["spend"], strict=True)
    ]
    true_orders = (notes["orders"] * rng.uniform(0.35, 0.65, len(notes))).round(1)
    credit_rows = []
    noise = {"first": 0.55, "last": 0.5, "linear": 0.35, "position": 0.3, "time_decay": 0.3}
    noise |= {"markov": 0.12, "shapley": 0.18}
    scores = []
    for model in MODELS:
        raw = notes["orders"] * (1 + rng.normal(0, noise[model], len(notes))).clip(0.05)
        # models credit all attributed orders; truth counts only incremental ones
        credited = raw / raw.sum() * true_orders.sum() * 1.15
        for nid, c, g in zip(
            notes["note_id"], credited, notes["gmv"] / notes["orders"].clip(1), strict=True
        ):
            credit_rows.append((model, nid, float(c), float(c * g)))
        wape = float((credited - true_orders).abs().sum() / true_orders.sum()) if truth else np.nan
        scores.append((model, float(credited.sum()), wape))
    model_scores = pd.DataFrame(scores, columns=["model", "credited_orders", "wape"])
    model_scores["rank"] = (
        model_scores["wape"].rank(method="min").astype("Int64")
        if truth
        else pd.array([None] * len(MODELS), dtype="Int64")
    )
    kpis: dict[str, float | None] = {
        "spend": float(tot["spend"]),
        "impressions": float(tot["impressions"]),
        "reach": float(reach),
        "matched_reach": float(round(reach * 0.6)),
        "reads": float(tot["reads"]),
        "ctr": float(tot["reads"] / tot["impressions"]),
        "interactions": float(tot["interactions"]),
        "interaction_rate": float(tot["interactions"] / tot["impressions"]),
        "back_search_users": float(stages["back_search"]),
        "back_search_rate": stages["back_search"] / reach,
        "visitors": float(stages["visit"]),
        "visit_rate": stages["visit"] / reach,
        "cost_per_visit": float(tot["spend"]) / stages["visit"],
        "carts": float(tot["carts"]),
        "orders": float(tot["orders"]),
        "gmv": float(tot["gmv"]),
        "new_customers": float(tot["new_customers"]),
        "roi": float(tot["gmv"] / tot["spend"]),
    }
    return ReportData(
        brand_id="晨露美妆 DewBeauty",
        period_start=dates[0],
        period_end=dates[-1],
        retailers=("tmall", "jd", "pdd"),
        generated_at=datetime(2025, 5, 2, 8, 0),
        windows={"funnel_days": 15, "click_days": 15, "view_days": 30},
        kpis=kpis,
        funnel=funnel,
        daily=daily,
        notes=notes,
        creators=creators,
        campaigns=campaigns,
        credits=pd.DataFrame(credit_rows, columns=["model", "note_id", "conversions", "value"]),
        model_scores=model_scores,
        truth=pd.DataFrame(
            {
                "note_id": notes["note_id"],
                "true_incremental_orders": true_orders,
                "true_incremental_gmv": (
                    true_orders * notes["gmv"] / notes["orders"].clip(1)
                ).round(2),
            }
        )
        if truth
        else None,
        notes_md=(
            "Markov (order 1) solved exactly on 1,204 observed states; no fallback needed.",
            "Shapley: exact over 16 channels was too large; 2,000 permutations sampled "
            "(standard error ≤ 0.4 orders per note).",
        ),
    )


@pytest.fixture
def small() -> ReportData:
    return make_small()


@pytest.fixture
def small_no_truth() -> ReportData:
    return make_small(truth=None, model_scores=small_scores(with_truth=False))


@pytest.fixture
def demo() -> ReportData:
    return make_demo()


@pytest.fixture
def empty() -> ReportData:
    """A report with no rows anywhere and every KPI unknown."""
    from redcat.report.data import FRAME_COLUMNS, KPI_KEYS

    frames = {n: pd.DataFrame(columns=list(c)) for n, c in FRAME_COLUMNS.items() if n != "truth"}
    return make_small(kpis=dict.fromkeys(KPI_KEYS), truth=None, notes_md=(), **frames)


@pytest.fixture
def hostile_title() -> str:
    return HOSTILE_TITLE


@pytest.fixture
def make_report() -> Any:
    """The small-report factory: ``make_report(**field_changes)``."""
    return make_small


@pytest.fixture
def parts() -> Any:
    """Builders of the small report's parts, by name (funnel, notes, credits, scores)."""
    return {
        "funnel": small_funnel,
        "notes": small_notes,
        "credits": small_credits,
        "scores": small_scores,
    }
