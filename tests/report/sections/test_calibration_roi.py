"""The lift-calibration and ROI(T+x) report sections on hand-built stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.attribution.test_roi import build
from tests.lift.test_campaign import hand_store

from redcat.engine import Engine
from redcat.report.section import SectionInput
from redcat.report.sections import SECTION_BUILDERS
from redcat.report.sections.calibration import build_calibration_section
from redcat.report.sections.roi import build_roi_section
from redcat.settings import Settings


def _input(engine: Engine, brand: str, settings: Settings, **kw: Any) -> SectionInput:
    none: Any = None
    credits = kw.pop("credits", pd.DataFrame(columns=["model", "note_id", "conversions", "value"]))
    return SectionInput(
        engine=engine,
        brand_id=brand,
        settings=settings,
        funnel=none,
        credits=credits,
        journeys=none,
        **kw,
    )


@pytest.fixture
def lift_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = hand_store(tmp_path / "lift.duckdb")
    yield engine
    engine.close()


@pytest.fixture
def roi_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = build(tmp_path / "roi.duckdb")
    yield engine
    engine.close()


def test_registered() -> None:
    assert build_calibration_section in SECTION_BUILDERS
    assert build_roi_section in SECTION_BUILDERS


def test_calibration_section_by_hand(lift_engine: Engine) -> None:
    # C1's holdout over its spend dates + 2 days: (0.75 − 1/3) × 4 = 5/3 incremental orders.
    s = Settings()
    s = replace(s, attribution=replace(s.attribution, calibration_window_days=2))
    credits = pd.DataFrame(
        {
            "model": ["last", "linear"],
            "note_id": ["n1", "n1"],
            "conversions": [4.0, 2.0],
            "value": [0.0, 0.0],
        }
    )
    truth = pd.DataFrame(
        {"note_id": ["n1"], "true_incremental_orders": [2.0], "true_incremental_gmv": [0.0]}
    )
    section = build_calibration_section(_input(lift_engine, "B1", s, credits=credits, truth=truth))
    assert section is not None and section.key == "calibration"
    models = section.tables[0].frame.set_index("model")
    assert models.loc["last", "raw_orders"] == 4.0
    assert models.loc["last", "calibrated_orders"] == pytest.approx(5 / 3)
    # one campaign: pooling has nothing to pool, so the pooled target is the measured one
    assert models.loc["linear", "pooled_orders"] == pytest.approx(5 / 3)
    assert models.loc["last", "raw_wape"] == pytest.approx(1.0)  # |4 − 2| / 2
    assert models.loc["linear", "calibrated_wape"] == pytest.approx(1 / 6)  # |5/3 − 2| / 2
    assert "raw_wape" in section.tables[0].columns
    camp = section.tables[1].frame.iloc[0]
    assert (camp.campaign_id, camp.raw) == ("C1", 4.0)
    assert camp.factor == pytest.approx(5 / 12)
    chart = section.charts[0].options["en"]
    assert [sr["name"] for sr in chart["series"]] == [
        "raw",
        "calibrated per campaign",
        "calibrated, pooled per spend",
    ]
    assert chart["series"][0]["data"] == [100.0, 0.0]  # WAPE % of last, linear
    json.dumps(section.charts[0].options["zh"])
    assert any("2 days after" in n.en for n in section.notes)
    # 4 test and 3 control users: the interval includes 0
    assert any(n.en.startswith("1 of 1 campaigns' incremental intervals") for n in section.notes)


def test_calibration_section_without_truth_or_holdouts(
    lift_engine: Engine, roi_engine: Engine
) -> None:
    credits = pd.DataFrame(
        {"model": ["last"], "note_id": ["n1"], "conversions": [4.0], "value": [0.0]}
    )
    section = build_calibration_section(_input(lift_engine, "B1", Settings(), credits=credits))
    assert section is not None
    assert "raw_wape" not in section.tables[0].columns
    assert section.charts[0].options["en"]["yAxis"]["name"] == "credited orders"
    # no holdouts at all, or nothing credited: no section
    assert build_calibration_section(_input(roi_engine, "B1", Settings(), credits=credits)) is None
    assert build_calibration_section(_input(lift_engine, "B1", Settings())) is None


def test_roi_section_by_hand(roi_engine: Engine) -> None:
    s = Settings()
    s = replace(s, windows=s.windows.decision_cycle("skincare"))
    section = build_roi_section(_input(roi_engine, "B1", s))
    assert section is not None and section.key == "roi"
    brand, campaigns = section.tables
    assert brand.columns == (
        "id",
        "spend",
        "gmv_T+29",
        "roi_T+29",
        "gmv_T+7",
        "roi_T+7",
        "gmv_T+15",
        "roi_T+15",
    )
    b = brand.frame.iloc[0]
    assert (b["id"], b["spend"], b["gmv_T+29"], b["gmv_T+15"]) == ("B1", 140.0, 330.0, 130.0)
    assert brand.headers["roi_T+29"].en == "ROI T+29 (decision cycle)"
    assert campaigns.frame["roi_T+29"].tolist() == [2.0, 2.0]
    chart = section.charts[0].options["zh"]
    assert chart["xAxis"]["data"] == ["C1", "C2"]
    assert chart["series"][0]["name"] == "T+29（决策周期）"
    assert chart["series"][2]["data"] == [pytest.approx(60 / 130), 2.0]  # T+15
    # a brand without spend has no ROI
    assert build_roi_section(_input(roi_engine, "B3", s)) is None


def test_roi_section_takes_x_from_the_category_not_an_overridden_funnel_window(
    roi_engine: Engine,
) -> None:
    s = Settings()
    windows = replace(s.windows.decision_cycle("skincare"), funnel_days=10)
    assert (windows.category, windows.funnel_days) == ("skincare", 10)
    assert s.windows.decision_cycle(None) is s.windows
    section = build_roi_section(_input(roi_engine, "B1", replace(s, windows=windows)))
    assert section is not None
    assert "roi_T+29" in section.tables[0].columns and "roi_T+10" not in section.tables[0].columns
    assert "category skincare, 29 days" in section.notes[0].en
    plain = build_roi_section(
        _input(roi_engine, "B1", replace(s, windows=replace(s.windows, funnel_days=10)))
    )
    assert plain is not None and "roi_T+10" in plain.tables[0].columns
    assert "no category given" in plain.notes[0].en
