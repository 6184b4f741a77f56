"""Decision-cycle ROI(T+x) on a hand-made world where every figure is computed by hand."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from redcat.attribution.roi import COLUMNS, RoiWindow, roi_plan, roi_wide, roi_windows
from redcat.engine import Engine, open_engine
from redcat.errors import ConfigError
from redcat.match import run_direct_match
from redcat.settings import Settings


def build(path: Path) -> Engine:
    """Brand B1: n1 boosted by C1 (100), n2 by C1 (30) and C2 (10), n3 organic.

    u1 reads n1 on 05-01 12:00 and buys o1 (200) 20 days later; u2 sees n2 on 05-02 12:00 and
    buys o2 (80) 3 days later; u3 reads n3 on 05-03 12:00 and buys o3 (50) 10 days later; u4
    buys o4 (999) without any touch. n9 and o9 are another brand's."""
    engine = open_engine(path)
    con = engine.duck
    con.execute(
        "INSERT INTO notes VALUES ('n1','B1','k1','ad',NULL,'2026-05-01','t1'),"
        "('n2','B1','k2','partnership',NULL,'2026-05-01','t2'),"
        "('n3','B1','k3','organic',NULL,'2026-05-01','t3'),"
        "('n9','B2','k9','ad',NULL,'2026-05-01','t9')"
    )
    con.execute(
        """INSERT INTO content_events VALUES
        ('e1','u1','n1','2026-05-01 12:00','read','feed'),
        ('e2','u2','n2','2026-05-02 12:00','impression','feed'),
        ('e3','u3','n3','2026-05-03 12:00','read','search'),
        ('e4','u4','n9','2026-05-03 12:00','impression','feed'),
        ('e5','u1','n9','2026-05-01 12:00','read','feed')"""
    )
    con.execute(
        "INSERT INTO spend VALUES ('2026-05-01','n1','C1',100,'heat'),"
        "('2026-05-01','n2','C1',30,'traffic'),('2026-05-02','n2','C2',10,'traffic'),"
        "('2026-05-01','n9','C9',500,'heat')"
    )
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1'),('tmall','s9','B2')")
    con.execute("INSERT INTO brand_terms VALUES ('tmall','B1','Acme'),('tmall','B2','Zeta')")
    con.execute(
        """INSERT INTO commerce_events VALUES
        ('tmall','x1','u1','s1','2026-05-21 12:00','order',NULL,'p1','o1',200),
        ('tmall','x2','u2','s1','2026-05-05 12:00','order',NULL,'p1','o2',80),
        ('tmall','x3','u3','s1','2026-05-13 12:00','order',NULL,'p1','o3',50),
        ('tmall','x4','u4','s1','2026-05-04 12:00','order',NULL,'p1','o4',999),
        ('tmall','x9','u1','s9','2026-05-02 12:00','order',NULL,'p9','o9',70)"""
    )
    run_direct_match(con, "salt")
    return engine


@pytest.fixture
def long(tmp_path: Path) -> Iterator[pd.DataFrame]:
    engine = build(tmp_path / "s.duckdb")
    try:
        yield roi_windows(engine, "B1", Settings(), category="skincare")
    finally:
        engine.close()


def cell(long: pd.DataFrame, level: str, key: str, window: str, col: str) -> float:
    sel = (long["level"] == level) & (long["id"] == key) & (long["window"] == window)
    assert sel.sum() == 1
    return float(long.loc[sel, col].item())


def test_plan_puts_the_decision_cycle_first() -> None:
    s = Settings()
    assert roi_plan(s, "skincare") == (
        RoiWindow(29, True),
        RoiWindow(7, False),
        RoiWindow(15, False),
    )
    # makeup's cycle is 15 days, which is also a fixed window: shown once
    assert roi_plan(s, "makeup") == (RoiWindow(15, True), RoiWindow(7, False))
    assert roi_plan(s, "baby_food")[0].label == "T+70"
    # no category: the funnel window stands in
    assert roi_plan(s, None)[0] == RoiWindow(s.windows.funnel_days, True)
    with pytest.raises(ConfigError):
        roi_plan(s, "furniture")
    bad = replace(s, windows=replace(s.windows, roi_fixed_days=(0,)))
    with pytest.raises(ConfigError):
        roi_plan(bad, "skincare")


def test_an_order_20_days_after_the_touch_counts_in_t29_only(long: pd.DataFrame) -> None:
    assert list(long.columns) == list(COLUMNS)
    assert cell(long, "note", "n1", "T+29", "gmv") == 200.0
    assert cell(long, "note", "n1", "T+15", "gmv") == 0.0
    assert cell(long, "note", "n1", "T+7", "gmv") == 0.0
    assert cell(long, "note", "n1", "T+29", "roi") == 2.0
    assert cell(long, "note", "n1", "T+15", "roi") == 0.0
    # o3 is 10 days after n3's read: T+15 and T+29, not T+7; n3 has no spend, so no ROI
    assert cell(long, "note", "n3", "T+15", "gmv") == 50.0
    assert cell(long, "note", "n3", "T+7", "gmv") == 0.0
    assert math.isnan(cell(long, "note", "n3", "T+29", "roi"))
    # o2 is 3 days after n2's view: every window
    for w in ("T+7", "T+15", "T+29"):
        assert cell(long, "note", "n2", w, "roi") == 2.0  # 80 / 40
        assert cell(long, "note", "n2", w, "orders") == 1.0


def test_campaigns_split_by_spend_and_brand_totals(long: pd.DataFrame) -> None:
    # n2 is 30/40 C1 and 10/40 C2
    assert cell(long, "campaign", "C1", "T+29", "gmv") == 260.0  # 200 + 0.75 × 80
    assert cell(long, "campaign", "C1", "T+29", "roi") == 2.0  # ÷ 130
    assert cell(long, "campaign", "C1", "T+15", "roi") == pytest.approx(60 / 130)
    assert cell(long, "campaign", "C2", "T+7", "roi") == 2.0  # 20 / 10
    # brand: every note's credited GMV (u4's untouched o4 and B2's o9 excluded) ÷ 140
    assert cell(long, "brand", "B1", "T+29", "gmv") == 330.0
    assert cell(long, "brand", "B1", "T+29", "roi") == pytest.approx(330 / 140)
    assert cell(long, "brand", "B1", "T+15", "roi") == pytest.approx(130 / 140)
    assert cell(long, "brand", "B1", "T+7", "roi") == pytest.approx(80 / 140)
    assert cell(long, "brand", "B1", "T+7", "spend") == 140.0
    assert set(long.loc[long["level"] == "campaign", "id"]) == {"C1", "C2"}
    assert long.loc[long["window"] == "T+29", "decision_cycle"].all()
    assert not long.loc[long["window"] != "T+29", "decision_cycle"].any()


def test_wide_view(long: pd.DataFrame) -> None:
    wide = roi_wide(long, "campaign")
    assert list(wide.columns) == [
        "id",
        "spend",
        "gmv_T+29",
        "roi_T+29",
        "gmv_T+7",
        "roi_T+7",
        "gmv_T+15",
        "roi_T+15",
    ]
    assert wide["id"].tolist() == ["C1", "C2"]
    assert wide["roi_T+29"].tolist() == [2.0, 2.0]
    assert wide["gmv_T+7"].tolist() == [60.0, 20.0]


@pytest.mark.parametrize("world", ["roi", "tiny"])
def test_cut_journeys_equal_a_fresh_read_for_heuristics(tmp_path: Path, world: str) -> None:
    from tests.tiny_world import build as build_tiny

    from redcat.attribution.heuristics import HEURISTIC_MODELS
    from redcat.attribution.pipeline import journey_rows, journey_table, note_credits
    from redcat.attribution.roi import converting_within, window_credits

    if world == "roi":
        engine = build(tmp_path / "s.duckdb")
    else:
        engine = build_tiny(tmp_path / "s.duckdb")
        run_direct_match(engine.duck, "salt")
    s = Settings()
    try:
        rows = journey_rows(engine, "B1", replace(s.windows, click_days=30, view_days=30))
        for days in (1, 2, 7, 15, 19, 29, 30):
            for model in HEURISTIC_MODELS:
                fresh = window_credits(engine, "B1", days, model, s)
                cut, _ = note_credits(
                    journey_table(converting_within(rows, days)), model, s.attribution
                )
                fresh = fresh[fresh["conversions"] > 0].reset_index(drop=True)
                cut = cut[cut["conversions"] > 0].reset_index(drop=True)
                pd.testing.assert_frame_equal(fresh, cut, check_dtype=False)
    finally:
        engine.close()
