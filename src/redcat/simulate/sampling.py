"""Vectorized draws shared by the generators (no per-event Python loops)."""

from __future__ import annotations

import numpy as np

from redcat.simulate.config import DAY, HOUR_WEIGHTS

_HOUR_CDF = np.cumsum(HOUR_WEIGHTS) / np.sum(HOUR_WEIGHTS)


def weighted_picks(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Return ``k`` indices drawn with replacement with probability ∝ ``weights`` (int64);
    an empty array when every weight is zero."""
    cdf = np.cumsum(weights, dtype=np.float64)
    total = cdf[-1] if len(cdf) else 0.0
    if k == 0 or total <= 0:
        return np.empty(0, dtype=np.int64)
    picks = np.searchsorted(cdf, rng.random(k) * total, side="right")
    return np.minimum(picks, len(cdf) - 1).astype(np.int64)


def row_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """For each row of the (m, k) ``weights``, return one column index drawn ∝ that row
    (rows of zeros return k, meaning none)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (cum <= u[:, None]).sum(axis=1).astype(np.int64)


def diurnal_seconds(rng: np.random.Generator, k: int) -> np.ndarray:
    """Return ``k`` seconds-of-day (0 … 86399) following the activity profile of the day."""
    hours = np.searchsorted(_HOUR_CDF, rng.random(k), side="right")
    return np.minimum(hours, 23) * 3600 + rng.integers(0, 3600, size=k)


def times_in_days(
    rng: np.random.Generator, day_start: np.ndarray, not_before: np.ndarray
) -> np.ndarray:
    """Return one timestamp (epoch seconds) per row within the day starting at ``day_start``:
    diurnal when the whole day is open, else uniform between ``not_before`` and the day's end."""
    k = len(day_start)
    diurnal = day_start + diurnal_seconds(rng, k)
    open_from = np.maximum(not_before, day_start)
    span = np.maximum(day_start + DAY - open_from, 1)
    late = open_from + (rng.random(k) * span).astype(np.int64)
    return np.where(not_before > day_start, late, diurnal)


def gaps(rng: np.random.Generator, k: int, median_s: float, sigma: float = 0.8) -> np.ndarray:
    """Return ``k`` positive delays in whole seconds (≥ 1), log-normal around ``median_s``."""
    return np.maximum(1, rng.lognormal(np.log(median_s), sigma, size=k)).astype(np.int64)
