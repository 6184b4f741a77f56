"""The coverage study (bench/lift_coverage.py) runs end to end on 20 tiny worlds, and its 95%
intervals cover the simulator's true incremental orders well inside a generous binomial band;
its summary arithmetic is checked by hand."""

from __future__ import annotations

import math

import pytest
from bench.lift_coverage import (
    CampaignOutcome,
    StudyConfig,
    markdown,
    relative_bias,
    run_study,
    summarize,
    wilson,
)


def _o(seed: int, est: float, low: float, high: float, truth: int, oc: int = 3) -> CampaignOutcome:
    return CampaignOutcome(seed, "C01", 100, 20, oc, est, low, high, truth, 0.5, False)


def test_summary_arithmetic_by_hand() -> None:
    outs = [_o(0, 12.0, 5.0, 20.0, 10), _o(0, 3.0, -2.0, 8.0, 9, oc=0), _o(1, 7.0, 1.0, 9.0, 6)]
    s = summarize(outs, StudyConfig(worlds=2, users=1000))
    assert (s.overall.campaigns, s.overall.hits) == (3, 2)  # 9 lies outside −2 … 8
    assert [(c.campaigns, c.hits) for c in s.strata] == [(1, 0), (2, 2), (0, 0)]
    # bias = Σ(est − truth) / Σ truth = (2 − 6 + 1) / 25; worlds: d = (−4, 1), t = (19, 6)
    assert s.bias == pytest.approx(-3 / 25)
    b = -3 / 25
    se = math.sqrt(2 * ((-4 - b * 19) ** 2 + (1 - b * 6) ** 2)) / 25
    assert relative_bias(outs)[1] == pytest.approx(se)
    assert s.mean_width == pytest.approx((15 + 10 + 8) / 3)
    low, high = wilson(2, 3)
    assert low < 2 / 3 < high
    assert "| campaigns | 3 | — |" in markdown(s)


def test_wilson_known_answer() -> None:
    # 95 of 100: centre (0.95 + z²/200)/(1 + z²/100), z = 1.96 → about 0.8882 … 0.9785
    low, high = wilson(95, 100)
    assert (round(low, 4), round(high, 4)) == (0.8882, 0.9785)


def test_twenty_tiny_worlds_cover_the_truth(tmp_path) -> None:
    config = StudyConfig(worlds=20, users=4_000, workers=1, workdir=tmp_path)
    outcomes = run_study(config)
    s = summarize(outcomes, config)
    assert s.worlds == 20 and s.overall.campaigns >= 60
    # 95% nominal; ≥ 80% fails a correct estimator with negligible probability at this size
    assert s.overall.share >= 0.80
    assert s.srm_flagged <= 0.05
    assert all(o.low <= o.estimate <= o.high for o in outcomes)
