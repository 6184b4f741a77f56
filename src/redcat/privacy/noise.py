"""Differential-privacy noise from OpenDP, and the post-processing of noisy figures.

A released column (one measure over every released cell of a table) gets Laplace noise in one
OpenDP measurement: the discrete Laplace mechanism over integers for counts (users, events) and
OpenDP's floating-point-safe Laplace for money. The scale is ``sensitivity / ε`` with the column's
L1 sensitivity from :mod:`redcat.privacy.bounds`; OpenDP's own privacy map checks that the
measurement spends no more than ε. Noise comes from OpenDP's cryptographically secure generator
and cannot be seeded: tests check its distribution, never its values.

Post-processing (free of privacy cost): counts are rounded and never negative; money is never
negative; rates are computed from noisy parts and clipped to [0, 1]. Each noisy figure carries
its error bound: with probability ``confidence`` the noise moved it by less than that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from redcat.errors import ConfigError


@cache
def _dp() -> Any:
    # Imported lazily: the OpenDP library loads a native shared object.
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True, eq=False)
class NoisyColumn:
    """One column released with Laplace noise: ``values`` (noisy, before post-processing),
    ``scale`` (the Laplace scale b = sensitivity / ε, in the column's units), ``epsilon`` spent,
    ``integer`` (discrete mechanism) and ``error_bound`` (absolute error not exceeded with
    probability ``confidence``, per cell)."""

    values: np.ndarray
    scale: float
    epsilon: float
    integer: bool
    error_bound: float
    confidence: float


def laplace_scale(sensitivity: float, epsilon: float) -> float:
    """Return the Laplace scale b = sensitivity / ε that makes a release ε-DP."""
    if epsilon <= 0 or not math.isfinite(epsilon):
        raise ConfigError(f"ε must be a positive number, not {epsilon}")
    if sensitivity < 0:
        raise ConfigError(f"sensitivity must not be negative, not {sensitivity}")
    return float(sensitivity) / float(epsilon)


def error_bound(scale: float, *, integer: bool, confidence: float = 0.95) -> float:
    """Return the absolute error that Laplace noise of ``scale`` stays below with probability
    ``confidence`` (per cell; units of the column): b·ln(1/α) for continuous noise, OpenDP's
    discrete bound for integer noise (slightly larger)."""
    if scale == 0:
        return 0.0
    alpha = 1.0 - confidence
    dp = _dp()
    if integer:
        return float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return float(dp.laplacian_scale_to_accuracy(scale, alpha))


def laplace_column(
    values: Sequence[float] | np.ndarray,
    *,
    sensitivity: float,
    epsilon: float,
    integer: bool,
    confidence: float = 0.95,
) -> NoisyColumn:
    """Add Laplace noise to a whole column at once, ε-DP for neighbours differing by
    ``sensitivity`` in L1 (one user's bounded contribution to the column).

    Integer columns use OpenDP's discrete Laplace over i64 (values are rounded first); others
    OpenDP's floating-point-safe Laplace. Returns a :class:`NoisyColumn` (not yet
    post-processed)."""
    dp = _dp()
    scale = laplace_scale(sensitivity, epsilon)
    data = np.asarray(values, dtype="float64")
    if len(data) == 0:
        noisy = data.copy()
    elif integer:
        space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
        meas = dp.m.make_laplace(*space, scale=scale)
        spent = meas.map(math.ceil(sensitivity))
        noisy = np.asarray(meas(np.round(data).astype(np.int64).tolist()), dtype="float64")
        _check_spent(spent, epsilon)
    else:
        space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
        meas = dp.m.make_laplace(*space, scale=scale)
        spent = meas.map(float(sensitivity))
        noisy = np.asarray(meas(data.tolist()), dtype="float64")
        _check_spent(spent, epsilon)
    return NoisyColumn(
        values=noisy,
        scale=scale,
        epsilon=epsilon,
        integer=integer,
        error_bound=error_bound(scale, integer=integer, confidence=confidence),
        confidence=confidence,
    )


def _check_spent(spent: float, epsilon: float) -> None:
    # OpenDP's own accounting must agree with ours (a rounding of the scale could otherwise
    # overspend silently).
    if spent > epsilon * (1 + 1e-9):
        raise ConfigError(f"noise measurement would spend ε={spent}, more than the {epsilon} given")


def clamp_count(values: np.ndarray | pd.Series) -> np.ndarray:
    """Post-process noisy counts: round to whole users/events and floor at 0."""
    return np.maximum(np.round(np.asarray(values, dtype="float64")), 0.0)


def clamp_amount(values: np.ndarray | pd.Series) -> np.ndarray:
    """Post-process noisy money: floor at 0 (currency)."""
    return np.maximum(np.asarray(values, dtype="float64"), 0.0)


def noisy_rate(
    numerator: np.ndarray | pd.Series | Sequence[float],
    denominator: np.ndarray | pd.Series | Sequence[float],
    *,
    upper: float | None = 1.0,
) -> np.ndarray:
    """Return numerator ÷ denominator from released (noisy, post-processed) parts, NaN where the
    denominator is not positive, clipped to [0, ``upper``] (``upper=None``: no upper clip, for
    ratios such as ROI that may exceed 1)."""
    num = np.asarray(numerator, dtype="float64")
    den = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(rate, 0.0, upper if upper is not None else np.inf)
