"""Estimators for incremental lift (增量) between a test arm and a control arm.

Units throughout: an *arm* is a set of randomized units (users, customers), one outcome value per
unit; a count ``n`` is units, never events; a mean is the per-unit mean of the outcome, in the
outcome's own units (a rate for a 0/1 outcome, currency per unit for spend). Arms are assumed to be
independent samples (randomized assignment, no unit in both arms) of i.i.d. units.

These are pure functions of numpy arrays or of sufficient statistics (:class:`ArmSummary`: n, mean,
sample variance), so that the lift table over any file and the holdout-campaign lift of the
pipeline share them. Nothing here reads files or DataFrames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from redcat.settings import LiftSettings

_DEFAULTS = LiftSettings()

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ArmSummary:
    """Sufficient statistics of one arm: ``n`` units, per-unit ``mean`` of the outcome and its
    unbiased sample variance ``var`` (ddof=1; outcome units squared)."""

    n: int
    mean: float
    var: float

    @property
    def var_of_mean(self) -> float:
        """Variance of the arm's mean, var / n (outcome units squared)."""
        return self.var / self.n


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]`` and standard error."""

    estimate: float
    low: float
    high: float
    se: float


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance comparison of test − control.

    ``lift`` is the absolute lift (mean_test − mean_control, outcome units per unit) with its
    t-interval; ``df`` the Welch–Satterthwaite degrees of freedom; ``t`` the statistic;
    ``p_value`` two-sided."""

    lift: Interval
    df: float
    t: float
    p_value: float


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio mismatch check: Pearson chi-square goodness of fit of observed arm counts
    (units) to the expected split; ``flagged`` when ``p_value`` < the SRM alpha."""

    chi2: float
    df: int
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile bootstrap intervals of absolute and relative lift (``rel_*`` are NaN when no
    resample had a usable, non-zero control mean)."""

    abs_low: float
    abs_high: float
    rel_low: float
    rel_high: float
    resamples: int


def summarize(values: npt.ArrayLike) -> ArmSummary:
    """Return the sufficient statistics of one arm's per-unit outcome values (1-D, finite).

    Needs at least 2 units (the sample variance is undefined below that): raises ValueError.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError("an arm needs a 1-D array of at least 2 units")
    return ArmSummary(n=int(x.size), mean=float(x.mean()), var=float(x.var(ddof=1)))


def welch_df(test: ArmSummary, control: ArmSummary) -> float:
    """Return the Welch–Satterthwaite degrees of freedom
    (v_t + v_c)² / (v_t² / (n_t − 1) + v_c² / (n_c − 1)) with v = var / n.

    NaN when both arms have zero variance (no spread: the t distribution is undefined)."""
    vt, vc = test.var_of_mean, control.var_of_mean
    denom = vt * vt / (test.n - 1) + vc * vc / (control.n - 1)
    if denom == 0.0:
        return math.nan
    return (vt + vc) ** 2 / denom


def pooled_variance(test: ArmSummary, control: ArmSummary) -> float:
    """Return the sample variance (ddof=1; outcome units squared) of both arms' units taken
    together as one sample: (Σ within-arm squares + Σ n·(arm mean − grand mean)²) / (n_t + n_c − 1).

    It is the variance the two-sample test assumes under H0 (both arms drawn from one
    distribution). Example: arms [1, 0, 0, 0] and [0, 0] pool to [1, 0, 0, 0, 0, 0]: variance
    1/6."""
    n = test.n + control.n
    grand = (test.n * test.mean + control.n * control.mean) / n
    within = (test.n - 1) * test.var + (control.n - 1) * control.var
    between = test.n * (test.mean - grand) ** 2 + control.n * (control.mean - grand) ** 2
    return (within + between) / (n - 1)


def variance_floor(test: ArmSummary, control: ArmSummary) -> tuple[ArmSummary, ArmSummary]:
    """Return the two arms with the variance an interval may use: unchanged when both or neither
    show spread; when exactly one arm has zero sample variance, that arm's variance is replaced by
    :func:`pooled_variance` of both arms.

    Why: with a rare count outcome (orders per user) a small arm often has no event at all, so
    its sample variance is 0 although its true variance is not; Welch would then use the other
    arm's variance alone and treat this arm's mean as exact, giving a far too narrow interval
    (on the simulator, 0-order control arms covered the truth ~40% of the time). The pooled
    variance is the estimate of the arms' common variance under H0, as in the pooled standard
    error of the two-proportion test; it keeps the empty arm's sampling uncertainty in the
    interval. It errs wide when the other arm's variance is much larger than the empty arm's
    true variance — the safe side for a 0-event arm."""
    if (test.var == 0.0) == (control.var == 0.0):
        return test, control
    pooled = pooled_variance(test, control)
    if test.var == 0.0:
        return ArmSummary(test.n, test.mean, pooled), control
    return test, ArmSummary(control.n, control.mean, pooled)


def welch_test(
    test: ArmSummary, control: ArmSummary, *, alpha: float = _DEFAULTS.alpha
) -> WelchResult:
    """Return the absolute lift mean_test − mean_control (outcome units per unit) with its
    (1 − alpha) Welch t-interval and two-sided p-value (unequal variances, Welch–Satterthwaite df,
    Student t quantile) — the same numbers as ``scipy.stats.ttest_ind(equal_var=False)`` whenever
    both arms show spread.

    When exactly one arm has zero sample variance (e.g. a control arm with no orders) its
    variance is replaced by the pooled variance of both arms (:func:`variance_floor`), in the
    standard error and the degrees of freedom; scipy keeps the 0 and gives an interval as narrow
    as if that arm's mean were known exactly. When both arms have zero variance the standard
    error is 0: the interval collapses to the point and the p-value is 1 when the means are
    equal, 0 otherwise (scipy returns NaN there)."""
    test, control = variance_floor(test, control)
    diff = test.mean - control.mean
    se = math.sqrt(test.var_of_mean + control.var_of_mean)
    df = welch_df(test, control)
    if se == 0.0 or math.isnan(df):
        p = 1.0 if diff == 0.0 else 0.0
        t = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        return WelchResult(Interval(diff, diff, diff, 0.0), df, t, p)
    t = diff / se
    q = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * sps.t.sf(abs(t), df))
    return WelchResult(Interval(diff, diff - q * se, diff + q * se, se), df, t, p)


def relative_lift(
    test: ArmSummary, control: ArmSummary, *, alpha: float = _DEFAULTS.alpha
) -> Interval:
    """Return the relative lift (mean_test − mean_control) / mean_control (a fraction: 0.25 is
    +25%) with a (1 − alpha) delta-method normal interval for the ratio of two independent means:
    Var(r) ≈ Var(x̄t) / μc² + μt² Var(x̄c) / μc⁴.

    All fields are NaN when the control mean is 0 or so small that the ratio overflows. The delta
    method assumes the control mean is well away from 0 relative to its standard error. An arm
    with zero variance beside one with spread gets the pooled variance (:func:`variance_floor`)."""
    test, control = variance_floor(test, control)
    mc, mt = control.mean, test.mean
    if mc == 0.0:
        return Interval(math.nan, math.nan, math.nan, math.nan)
    ratio = mt / mc
    r = ratio - 1.0
    if not math.isfinite(r):
        return Interval(math.nan, math.nan, math.nan, math.nan)
    # sqrt(Var(x̄t) + (μt/μc)² Var(x̄c)) / |μc|: the same variance, without the μc⁴ that underflows
    se = math.hypot(math.sqrt(test.var_of_mean), ratio * math.sqrt(control.var_of_mean)) / abs(mc)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    return Interval(r, r - z * se, r + z * se, se)


def incremental_total(lift: Interval, n_test: int) -> Interval:
    """Return the incremental total caused in the test arm, abs_lift × n_test (outcome units, e.g.
    extra visits or extra currency), with the lift's interval and SE scaled the same way (n_test
    is treated as fixed)."""
    return Interval(lift.estimate * n_test, lift.low * n_test, lift.high * n_test, lift.se * n_test)


def minimum_detectable_effect(
    test: ArmSummary,
    control: ArmSummary,
    *,
    alpha: float = _DEFAULTS.alpha,
    power: float = _DEFAULTS.power,
) -> float:
    """Return the smallest absolute lift (outcome units per unit) a two-sided level-``alpha`` test
    detects with probability ``power`` at these sample sizes and variances:
    (z_{1−alpha/2} + z_{power}) × sqrt(var_t / n_t + var_c / n_c) (normal approximation; an arm
    with zero variance beside one with spread gets the pooled variance, :func:`variance_floor`)."""
    test, control = variance_floor(test, control)
    se = math.sqrt(test.var_of_mean + control.var_of_mean)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power))
    return z * se


def is_underpowered(
    lift: Interval,
    mde: float,
    mean_control: float,
    *,
    mde_share: float = _DEFAULTS.underpowered_mde_share,
) -> bool:
    """Return True when a comparison says too little to act on: its interval includes 0 (no
    significant lift) AND its minimum detectable effect exceeds ``mde_share`` × |mean_control|
    (the test could not have detected a lift of that relative size, default 10%). A significant
    result is never flagged; with a zero control mean any positive MDE counts as too large."""
    includes_zero = lift.low <= 0.0 <= lift.high
    return includes_zero and mde > mde_share * abs(mean_control)


def sample_ratio_mismatch(
    counts: Sequence[int],
    expected: Sequence[float] | None = None,
    *,
    srm_alpha: float = _DEFAULTS.srm_alpha,
) -> SrmResult:
    """Return the Pearson chi-square goodness-of-fit test of observed arm ``counts`` (units)
    against the ``expected`` split (weights in the same order, any positive scale, e.g. (1, 1) or
    (90, 10); default an equal split), with df = arms − 1 and ``flagged`` when p < ``srm_alpha``.

    Example: 5,100 vs 4,900 at 50:50 gives chi2 = 4.0, p ≈ 0.0455 (not flagged at 0.001)."""
    obs = np.asarray(counts, dtype=np.float64)
    if obs.ndim != 1 or obs.size < 2:
        raise ValueError("SRM needs the counts of at least 2 arms")
    weights = np.ones_like(obs) if expected is None else np.asarray(expected, dtype=np.float64)
    if weights.shape != obs.shape or not np.all(weights > 0):
        raise ValueError("expected split needs one positive weight per arm")
    exp = weights / weights.sum() * obs.sum()
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    df = int(obs.size - 1)
    p = float(sps.chi2.sf(chi2, df))
    return SrmResult(chi2=chi2, df=df, p_value=p, flagged=p < srm_alpha)


def _resampled_means(
    x: FloatArray, resamples: int, rng: np.random.Generator, chunk: int
) -> FloatArray:
    """Means of ``resamples`` with-replacement resamples of ``x``, ``chunk`` resamples at a time."""
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_lift(
    test: npt.ArrayLike,
    control: npt.ArrayLike,
    *,
    resamples: int,
    seed: int,
    alpha: float = _DEFAULTS.alpha,
    max_cells: int = _DEFAULTS.bootstrap_cells,
) -> BootstrapResult:
    """Return (1 − alpha) percentile bootstrap intervals of the absolute lift (outcome units per
    unit) and the relative lift (fraction) from ``resamples`` independent with-replacement
    resamples of each arm's per-unit values.

    Deterministic: the same inputs, ``resamples`` and ``seed`` give the same intervals bit for bit
    (one numpy PCG64 stream; the test arm's resamples are drawn before the control arm's).
    ``max_cells`` bounds the resample indices drawn at once (memory); it fixes the chunking of
    the random stream, so keep it at the default for figures meant to be reproduced. Resamples
    whose control mean is 0 (or whose ratio overflows) are left out of the relative interval."""
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    xt = np.asarray(test, dtype=np.float64)
    xc = np.asarray(control, dtype=np.float64)
    if xt.size < 1 or xc.size < 1:
        raise ValueError("both arms need at least 1 unit")
    rng = np.random.default_rng(seed)
    mt = _resampled_means(xt, resamples, rng, max(1, max_cells // xt.size))
    mc = _resampled_means(xc, resamples, rng, max(1, max_cells // xc.size))
    q = [alpha / 2.0, 1.0 - alpha / 2.0]
    abs_lo, abs_hi = np.quantile(mt - mc, q)
    nonzero = mc != 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        rel = mt[nonzero] / mc[nonzero] - 1.0
    rel = rel[np.isfinite(rel)]
    if rel.size:
        rel_lo, rel_hi = (float(v) for v in np.quantile(rel, q))
    else:
        rel_lo = rel_hi = math.nan
    return BootstrapResult(float(abs_lo), float(abs_hi), rel_lo, rel_hi, resamples)


def exposure_adjusted_lift(
    test: ArmSummary,
    control: ArmSummary,
    *,
    reached: int,
    reached_total: float,
    alpha: float = _DEFAULTS.alpha,
) -> Interval:
    """Return the lift per *reached* test unit (Bloom's estimator, the effect on the treated):
    (mean_test − mean_control) ÷ r, with r = ``reached`` ÷ n_test the share of test units the
    treatment reached and ``reached_total`` the outcome summed over those reached units (outcome
    units; it gives the covariance of the test mean and r).

    Assumption: a test unit the treatment did not reach is unaffected by being in test (its
    outcome is what it would have been in control). Then the ITT lift is r × the mean effect
    on reached test units, whoever else (e.g. control units reached another way) saw what. The
    (1 − alpha) interval is the delta method for a ratio, with the test mean and r estimated on
    the same units:

        Var(θ) ≈ (Var(x̄t) + Var(x̄c)) / r² + Δ² Var(r) / r⁴ − 2 Δ Cov(x̄t, r) / r³,

    Var(r) = s²_D / n_t, Cov(x̄t, r) = s_XD / n_t with D the reached indicator (sample variance
    and covariance, ddof=1), Δ the ITT lift. Variances of the means use :func:`variance_floor`.
    All fields are NaN when no test unit was reached."""
    if not 0 <= reached <= test.n:
        raise ValueError("reached must lie between 0 and the test arm's units")
    if reached == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan)
    t, c = variance_floor(test, control)
    n = t.n
    r = reached / n
    diff = t.mean - c.mean
    theta = diff / r
    var_d = (reached - n * r * r) / (n - 1)  # sample variance of the 0/1 reached indicator
    cov_xd = (reached_total - n * t.mean * r) / (n - 1)
    var = (
        (t.var_of_mean + c.var_of_mean) / r**2
        + diff**2 * (var_d / n) / r**4
        - 2.0 * diff * (cov_xd / n) / r**3
    )
    se = math.sqrt(max(var, 0.0))
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    return Interval(theta, theta - z * se, theta + z * se, se)
