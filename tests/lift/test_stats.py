"""Known answers (hand-computed) and invariants of the lift estimators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from redcat.lift import stats

# Test arm 1,2,3,4 and control arm 2,4,6,8 (4 and 4 units), by hand:
# means 2.5 and 5; sample variances 5/3 and 20/3; var of means 5/12 and 5/3;
# diff −2.5; se² = 25/12; df = (25/12)² / ((5/12)²/3 + (5/3)²/3) = 75/17; t = −2.5/√(25/12) = −√3.
T4 = np.array([1.0, 2.0, 3.0, 4.0])
C4 = np.array([2.0, 4.0, 6.0, 8.0])


def test_summarize_known_answer() -> None:
    s = stats.summarize(T4)
    assert (s.n, s.mean) == (4, 2.5)
    assert s.var == pytest.approx(5 / 3, rel=1e-15)
    assert s.var_of_mean == pytest.approx(5 / 12, rel=1e-15)


def test_summarize_needs_two_units() -> None:
    with pytest.raises(ValueError):
        stats.summarize([1.0])


def test_welch_df_known_answer() -> None:
    assert stats.welch_df(stats.summarize(T4), stats.summarize(C4)) == pytest.approx(75 / 17)


def test_welch_test_known_answer() -> None:
    w = stats.welch_test(stats.summarize(T4), stats.summarize(C4))
    assert w.lift.estimate == -2.5
    assert w.lift.se == pytest.approx(math.sqrt(25 / 12), rel=1e-14)
    assert w.t == pytest.approx(-math.sqrt(3), rel=1e-14)
    q = sps.t.ppf(0.975, 75 / 17)
    assert w.lift.low == pytest.approx(-2.5 - q * math.sqrt(25 / 12), rel=1e-12)
    assert w.lift.high == pytest.approx(-2.5 + q * math.sqrt(25 / 12), rel=1e-12)
    assert w.p_value == pytest.approx(2 * sps.t.sf(math.sqrt(3), 75 / 17), rel=1e-12)
    ref = sps.ttest_ind(T4, C4, equal_var=False)
    assert w.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (w.lift.low, w.lift.high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_welch_test_zero_variance() -> None:
    same = stats.welch_test(stats.summarize([1.0, 1.0]), stats.summarize([1.0, 1.0]))
    assert (same.lift.low, same.lift.high, same.p_value) == (0.0, 0.0, 1.0)
    apart = stats.welch_test(stats.summarize([2.0, 2.0]), stats.summarize([1.0, 1.0]))
    assert (apart.lift.estimate, apart.lift.low, apart.p_value) == (1.0, 1.0, 0.0)


def test_pooled_variance_known_answer() -> None:
    # [1, 0, 0, 0] and [0, 0] pooled: [1, 0, 0, 0, 0, 0], mean 1/6, var (1 − 6/36) / 5 = 1/6
    pooled = stats.pooled_variance(stats.summarize([1.0, 0, 0, 0]), stats.summarize([0.0, 0]))
    assert pooled == pytest.approx(1 / 6, rel=1e-14)
    assert pooled == pytest.approx(np.var([1.0, 0, 0, 0, 0, 0], ddof=1), rel=1e-14)


def test_welch_zero_variance_control_gets_pooled_variance() -> None:
    # Test [1, 0, 0, 0]: mean 1/4, var 1/4. Control [0, 0]: no spread, so its variance becomes
    # the pooled 1/6. se² = (1/4)/4 + (1/6)/2 = 7/48; df = (7/48)² / ((1/16)²/3 + (1/12)²/1)
    # = (49/2304) / (19/2304) = 49/19. scipy keeps var 0: se² = 1/16 only.
    t, c = stats.summarize([1.0, 0, 0, 0]), stats.summarize([0.0, 0])
    w = stats.welch_test(t, c)
    q = sps.t.ppf(0.975, 49 / 19)
    assert w.df == pytest.approx(49 / 19, rel=1e-12)
    assert w.lift.se == pytest.approx(math.sqrt(7 / 48), rel=1e-14)
    assert w.lift.low == pytest.approx(0.25 - q * math.sqrt(7 / 48), rel=1e-12)
    assert w.lift.high == pytest.approx(0.25 + q * math.sqrt(7 / 48), rel=1e-12)
    assert w.p_value == pytest.approx(2 * sps.t.sf(0.25 / math.sqrt(7 / 48), 49 / 19), rel=1e-12)
    scipy_ci = sps.ttest_ind([1.0, 0, 0, 0], [0.0, 0], equal_var=False).confidence_interval()
    assert w.lift.high - w.lift.low > scipy_ci.high - scipy_ci.low
    # the same floor holds with the arms swapped, and in the MDE
    swapped = stats.welch_test(c, t)
    assert swapped.lift.se == pytest.approx(math.sqrt((1 / 6) / 2 + (1 / 4) / 4), rel=1e-14)
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert stats.minimum_detectable_effect(t, c) == pytest.approx(z * math.sqrt(7 / 48))


@given(
    st.lists(st.integers(0, 3), min_size=2, max_size=40).filter(lambda x: len(set(x)) > 1),
    st.integers(2, 40),
)
@settings(max_examples=60, deadline=None)
def test_floor_never_narrows_below_the_spread_arm(test: list[int], n_control: int) -> None:
    t = stats.summarize(np.array(test, dtype=float))
    c = stats.summarize(np.zeros(n_control))
    w = stats.welch_test(t, c)
    assert w.lift.se > math.sqrt(t.var_of_mean)
    assert w.lift.low < w.lift.estimate < w.lift.high


def test_relative_lift_known_answer() -> None:
    # r = −2.5 / 5 = −0.5; Var(r) = (5/12)/25 + 2.5²·(5/3)/5⁴ = 1/60 + 1/60 = 1/30.
    r = stats.relative_lift(stats.summarize(T4), stats.summarize(C4))
    assert r.estimate == -0.5
    assert r.se == pytest.approx(math.sqrt(1 / 30), rel=1e-14)
    z = 1.959963984540054
    assert r.low == pytest.approx(-0.5 - z * math.sqrt(1 / 30), rel=1e-12)
    assert r.high == pytest.approx(-0.5 + z * math.sqrt(1 / 30), rel=1e-12)


def test_relative_lift_zero_control_is_nan() -> None:
    r = stats.relative_lift(stats.summarize([1.0, 2.0]), stats.summarize([0.0, 0.0]))
    assert math.isnan(r.estimate) and math.isnan(r.low)


def test_incremental_total_scales_by_test_units() -> None:
    total = stats.incremental_total(stats.Interval(0.5, 0.25, 0.75, 0.1), 40)
    assert total == stats.Interval(20.0, 10.0, 30.0, 4.0)


def test_mde_known_answer() -> None:
    # (z_0.975 + z_0.8) · √(25/12) = (1.959964 + 0.841621) · 1.443376
    mde = stats.minimum_detectable_effect(stats.summarize(T4), stats.summarize(C4))
    assert mde == pytest.approx((1.959963984540054 + 0.8416212335729143) * math.sqrt(25 / 12))
    looser = stats.minimum_detectable_effect(
        stats.summarize(T4), stats.summarize(C4), alpha=0.1, power=0.5
    )
    assert looser == pytest.approx(1.6448536269514722 * math.sqrt(25 / 12))


@pytest.mark.parametrize(
    ("low", "high", "mde", "mean_control", "flag"),
    [
        (-1.0, 1.0, 2.0, 10.0, True),  # CI has 0, MDE 2 > 10% of 10
        (-1.0, 1.0, 0.5, 10.0, False),  # CI has 0 but MDE 0.5 ≤ 1: a real null
        (0.1, 1.0, 5.0, 10.0, False),  # significant: never flagged
        (-1.0, 1.0, 1.0, 10.0, False),  # MDE exactly 10%: not above it
        (-1.0, 1.0, 1.0, -5.0, True),  # |control mean| is what counts
        (-1.0, 0.0, 0.1, 0.0, True),  # zero control mean: any positive MDE
    ],
)
def test_underpowered_rule(
    low: float, high: float, mde: float, mean_control: float, flag: bool
) -> None:
    lift = stats.Interval((low + high) / 2, low, high, 1.0)
    assert stats.is_underpowered(lift, mde, mean_control) is flag


def test_srm_known_answer() -> None:
    # (100²/5000)·2 = 4.0; p = P(χ²₁ > 4) = 0.0455003
    r = stats.sample_ratio_mismatch([5100, 4900])
    assert r.chi2 == pytest.approx(4.0, rel=1e-14)
    assert r.df == 1
    assert r.p_value == pytest.approx(0.04550026389635842, rel=1e-12)
    assert r.flagged is False


def test_srm_expected_split_and_flag() -> None:
    assert stats.sample_ratio_mismatch([900, 100], [9, 1]).chi2 == 0.0
    # 600 vs 400 at 50:50: chi2 = 2·100²/500 = 40, p ≈ 2.5e-10 → flagged
    r = stats.sample_ratio_mismatch([600, 400], [1, 1])
    assert r.chi2 == pytest.approx(40.0)
    assert r.flagged is True
    with pytest.raises(ValueError):
        stats.sample_ratio_mismatch([10, 10], [1, 0])


def test_bootstrap_constant_arms_is_exact() -> None:
    b = stats.bootstrap_lift([3.0, 3.0, 3.0], [2.0, 2.0], resamples=50, seed=1)
    assert (b.abs_low, b.abs_high, b.rel_low, b.rel_high) == (1.0, 1.0, 0.5, 0.5)


def test_bootstrap_chunking_bounds_memory_only_by_setting() -> None:
    rng = np.random.default_rng(0)
    xt, xc = rng.normal(1.0, 1.0, 200), rng.normal(0.0, 1.0, 300)
    one = stats.bootstrap_lift(xt, xc, resamples=400, seed=3)
    two = stats.bootstrap_lift(xt, xc, resamples=400, seed=3)
    assert one == two
    assert one != stats.bootstrap_lift(xt, xc, resamples=400, seed=4)
    # percentile interval close to the Welch interval on a well-behaved sample
    w = stats.welch_test(stats.summarize(xt), stats.summarize(xc))
    assert one.abs_low == pytest.approx(w.lift.low, abs=0.05)
    assert one.abs_high == pytest.approx(w.lift.high, abs=0.05)


arms = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(arms, arms)
def test_swapping_arms_negates_abs_lift_and_its_interval(a: list[float], b: list[float]) -> None:
    sa, sb = stats.summarize(a), stats.summarize(b)
    ab, ba = stats.welch_test(sa, sb), stats.welch_test(sb, sa)
    assert ab.lift.estimate == -ba.lift.estimate
    assert (ab.lift.low, ab.lift.high) == (-ba.lift.high, -ba.lift.low)
    assert ab.p_value == ba.p_value


@settings(max_examples=150, deadline=None)
@given(arms, arms, st.sampled_from([0.01, 0.05, 0.2]))
def test_intervals_contain_their_estimates(a: list[float], b: list[float], alpha: float) -> None:
    sa, sb = stats.summarize(a), stats.summarize(b)
    w = stats.welch_test(sa, sb, alpha=alpha)
    assert w.lift.low <= w.lift.estimate <= w.lift.high
    assert 0.0 <= w.p_value <= 1.0
    total = stats.incremental_total(w.lift, sa.n)
    assert total.low <= total.estimate <= total.high
    r = stats.relative_lift(sa, sb, alpha=alpha)
    if not math.isnan(r.estimate):
        assert r.low <= r.estimate <= r.high
    assert stats.minimum_detectable_effect(sa, sb, alpha=alpha) >= 0.0


@settings(max_examples=40, deadline=None)
@given(arms, arms, st.integers(min_value=0, max_value=2**32 - 1))
def test_bootstrap_deterministic_under_seed(a: list[float], b: list[float], seed: int) -> None:
    one = stats.bootstrap_lift(a, b, resamples=60, seed=seed)
    two = stats.bootstrap_lift(np.array(a), np.array(b), resamples=60, seed=seed)
    fields = ("abs_low", "abs_high", "rel_low", "rel_high")
    assert np.array_equal(
        [getattr(one, f) for f in fields], [getattr(two, f) for f in fields], equal_nan=True
    )
    assert one.abs_low <= one.abs_high
    assert min(a) - max(b) <= one.abs_low and one.abs_high <= max(a) - min(b)


def test_exposure_adjusted_lift_known_answer() -> None:
    # Test [2, 1, 0, 0] with the first three reached (D = [1, 1, 1, 0]), control [1, 0, 0].
    # Δ = 3/4 − 1/3 = 5/12, r = 3/4, θ = 5/9. Var(x̄t) = (11/12)/4, Var(x̄c) = (1/3)/3,
    # s²_D = (3 − 4·9/16)/3 = 1/4 → Var(r) = 1/16; s_XD = (3 − 4·3/4·3/4)/3 = 1/4 → Cov = 1/16.
    # Var(θ) = (11/48 + 1/9)/(9/16) + (5/12)²(1/16)/(3/4)⁴ − 2(5/12)(1/16)/(3/4)³ = 376/729.
    t, c = stats.summarize([2.0, 1, 0, 0]), stats.summarize([1.0, 0, 0])
    e = stats.exposure_adjusted_lift(t, c, reached=3, reached_total=3.0)
    assert e.estimate == pytest.approx(5 / 9, rel=1e-14)
    assert e.se == pytest.approx(math.sqrt(376 / 729), rel=1e-12)
    z = sps.norm.ppf(0.975)
    assert (e.low, e.high) == pytest.approx((5 / 9 - z * e.se, 5 / 9 + z * e.se), rel=1e-12)


def test_exposure_adjusted_lift_edges() -> None:
    t, c = stats.summarize([2.0, 1, 0, 0]), stats.summarize([1.0, 0, 0])
    assert math.isnan(stats.exposure_adjusted_lift(t, c, reached=0, reached_total=0.0).estimate)
    with pytest.raises(ValueError):
        stats.exposure_adjusted_lift(t, c, reached=5, reached_total=3.0)
    # everyone reached: the lift per reached unit is the ITT lift, with Var(r) = Cov = 0
    full = stats.exposure_adjusted_lift(t, c, reached=4, reached_total=3.0)
    itt = stats.welch_test(t, c).lift
    assert full.estimate == pytest.approx(itt.estimate)
    assert full.se == pytest.approx(itt.se)
