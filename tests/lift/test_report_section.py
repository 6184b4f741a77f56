"""The holdout-lift report section on the hand-built store of test_campaign: its tables carry the
campaign_lift figures, intervals as text, flags as words; the chart's error bars are the
intervals; a brand without measurable campaigns has no section."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.lift.test_campaign import hand_store

from redcat.lift.campaign import campaign_lift
from redcat.report.section import SectionInput
from redcat.report.sections import SECTION_BUILDERS
from redcat.report.sections.lift import (
    CAMPAIGN_COLUMNS,
    build_lift_section,
    flag_text,
    interval_text,
)
from redcat.settings import Settings, Windows


def _input(engine: Any, brand: str) -> SectionInput:
    settings = replace(Settings(), windows=replace(Windows(), funnel_days=2))
    none: Any = None  # the lift section reads the engine and settings only
    return SectionInput(
        engine=engine, brand_id=brand, settings=settings, funnel=none, credits=none, journeys=none
    )


def test_text_helpers() -> None:
    assert interval_text(-1.25, 3.0) == "-1.2 … 3.0"
    assert interval_text(-0.5, 0.25, percent=True) == "-50.0% … +25.0%"
    assert interval_text(float("nan"), 1.0, digits=0) == "— … 1"
    assert flag_text(True, True, "en") == "underpowered, SRM"
    assert flag_text(True, False, "zh") == "样本量不足"
    assert flag_text(False, False, "zh") == "—"


def test_section_by_hand(tmp_path: Path) -> None:
    engine = hand_store(tmp_path / "s.duckdb")
    try:
        section = build_lift_section(_input(engine, "B1"))
        lift = campaign_lift(engine, "B1", window_days=2).iloc[0]
        assert build_lift_section(_input(engine, "B9")) is None  # no campaigns
    finally:
        engine.close()
    assert section is not None and section.key == "lift"
    assert build_lift_section in SECTION_BUILDERS
    campaigns, value, retailers = section.tables
    assert campaigns.columns == CAMPAIGN_COLUMNS
    row = campaigns.frame.iloc[0]
    assert row.campaign_id == "C1"
    assert row.incremental_orders == pytest.approx((0.75 - 1 / 3) * 4)
    assert row.incremental_orders_ci == interval_text(
        lift.incremental_orders_low, lift.incremental_orders_high
    )
    assert row["flags"] == "underpowered"  # 7 users: the interval holds 0, MDE ≫ 10% of control
    v = value.frame.iloc[0]
    assert v["exposed_lift_orders_per_k"] == pytest.approx(1000 * lift.exposed_lift_orders)
    assert v["iroas_ci"] == interval_text(lift.iroas_low, lift.iroas_high, digits=2)
    assert retailers.frame[["campaign_id", "retailer_id"]].values.tolist() == [["C1", "tmall"]]
    chart = section.charts[0]
    for lang in ("zh", "en"):
        option = chart.options[lang]
        json.dumps(option)  # plain JSON: no functions
        box = option["series"][0]["data"][0]
        assert box == pytest.approx(
            [
                lift.incremental_orders_low,
                lift.incremental_orders,
                lift.incremental_orders,
                lift.incremental_orders,
                lift.incremental_orders_high,
            ]
        )
        assert option["series"][1]["data"] == [pytest.approx(lift.incremental_orders)]
