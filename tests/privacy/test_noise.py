"""OpenDP Laplace noise: scale, error bounds and post-processing. Noise is drawn from OpenDP's
unseedable CSPRNG, so these tests check distributions over a fixed number of draws with generous
tolerances (each bound is more than 5 standard errors away from the expected value)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redcat.errors import ConfigError
from redcat.privacy.noise import (
    clamp_amount,
    clamp_count,
    error_bound,
    laplace_column,
    laplace_scale,
    noisy_rate,
)

DRAWS = 4000


def test_scale_is_sensitivity_over_epsilon() -> None:
    assert laplace_scale(10.0, 0.5) == 20.0
    with pytest.raises(ConfigError):
        laplace_scale(1.0, 0.0)
    with pytest.raises(ConfigError):
        laplace_scale(-1.0, 1.0)


def test_error_bound_of_continuous_laplace_is_b_ln_20() -> None:
    assert error_bound(2.0, integer=False, confidence=0.95) == pytest.approx(2.0 * math.log(20))
    assert error_bound(0.0, integer=True) == 0.0
    # The discrete bound covers at least the continuous one (whole numbers only).
    assert error_bound(2.0, integer=True) >= error_bound(2.0, integer=False) - 1e-9


@pytest.mark.parametrize("integer", [True, False])
def test_noise_distribution_matches_laplace(integer: bool) -> None:
    # Scale 2 (sensitivity 1, ε = 0.5): mean 0, variance 2b² = 8, 95% of draws within the bound.
    col = laplace_column(np.full(DRAWS, 100.0), sensitivity=1.0, epsilon=0.5, integer=integer)
    noise = col.values - 100.0
    assert col.scale == 2.0 and col.epsilon == 0.5
    if integer:
        assert np.all(noise == np.round(noise))
    assert abs(noise.mean()) < 0.3  # standard error 0.045
    assert 6.0 < noise.var() < 10.5  # 8 expected
    inside = np.mean(np.abs(noise) <= col.error_bound)
    assert 0.93 < inside < 0.985
    assert np.std(noise) > 0  # noise was added at all


def test_larger_epsilon_means_less_noise() -> None:
    low = laplace_column(np.zeros(DRAWS), sensitivity=10.0, epsilon=0.1, integer=True)
    high = laplace_column(np.zeros(DRAWS), sensitivity=10.0, epsilon=2.0, integer=True)
    assert np.mean(np.abs(low.values)) > 10 * np.mean(np.abs(high.values))
    assert low.error_bound == pytest.approx(20 * high.error_bound, rel=0.05)


def test_empty_column() -> None:
    col = laplace_column([], sensitivity=1.0, epsilon=1.0, integer=True)
    assert len(col.values) == 0


def test_post_processing() -> None:
    assert clamp_count(np.array([-3.2, 0.4, 7.6])).tolist() == [0.0, 0.0, 8.0]
    assert clamp_amount(np.array([-3.2, 7.5])).tolist() == [0.0, 7.5]
    rate = noisy_rate(np.array([5.0, 12.0, 3.0, 1.0]), np.array([10.0, 10.0, 0.0, -2.0]))
    assert rate[0] == 0.5 and rate[1] == 1.0
    assert math.isnan(rate[2]) and math.isnan(rate[3])
    assert noisy_rate(np.array([30.0]), np.array([10.0]), upper=None).tolist() == [3.0]
