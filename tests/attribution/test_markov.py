"""Markov removal effects: hand-solved chains, a brute-force cross-check, order selection."""

from __future__ import annotations

import numpy as np
import pytest

from redcat.attribution import markov as mk
from redcat.attribution.journeys import Journey, JourneyTable
from redcat.attribution.models import attribute


def result(journeys: list[Journey], order: int = 1) -> dict[str, tuple[float, float, float]]:
    att = attribute(journeys, "markov", order=order)
    re = att.removal_effects
    assert re is not None
    merged = att.credits.merge(re, on="channel")
    return {r.channel: (r.conversions, r.value, r.removal_effect) for r in merged.itertuples()}


# Three paths with a loop B > A:
#   A > B       → 1 conversion, value 30
#   A           → 1 null
#   B > A       → 1 conversion, value 10
# Transition counts: start→A 2, start→B 1; A→B 1, A→null 1, A→conv 1; B→conv 1, B→A 1.
# Probabilities: start→A 2/3, start→B 1/3; A→B, A→null, A→conv 1/3 each; B→conv, B→A 1/2 each.
# Conversion probability x solves x_A = x_B/3 + 1/3, x_B = 1/2 + x_A/2:
#   x_A = 1/6 + x_A/6 + 1/3 → x_A = 3/5, x_B = 4/5, x_start = 2/3·3/5 + 1/3·4/5 = 2/3.
# Remove A (x_A = 0): x_B = 1/2, x_start = 1/3·1/2 = 1/6 → RE_A = 1 - (1/6)/(2/3) = 3/4.
# Remove B (x_B = 0): x_A = 1/3, x_start = 2/3·1/3 = 2/9 → RE_B = 1 - (2/9)/(2/3) = 2/3.
# Credits of 2 conversions: A = 2·(3/4)/(17/12) = 18/17, B = 2·(2/3)/(17/12) = 16/17.
# Value: each conversion exit pays the mean value of the conversions that left that state:
#   r_v(A) = 10 / 3 (value 10 over A's 3 departures), r_v(B) = 30 / 2 = 15.
#   v_A = v_B/3 + 10/3, v_B = 15 + v_A/2 → v_A = 10, v_B = 20, v_start = 2/3·10 + 1/3·20 = 40/3.
#   Remove A: v_B = 15, v_start = 5 → RE = 1 - 5/(40/3) = 5/8.
#   Remove B: v_A = 10/3, v_start = 20/9 → RE = 1 - (20/9)/(40/3) = 5/6.
#   Value 40 split 5/8 : 5/6 = 3 : 4 → A = 120/7, B = 160/7.
LOOP = [
    Journey(("A", "B"), 1.0, 30.0),
    Journey(("A",), 0.0, 0.0, nulls=1.0),
    Journey(("B", "A"), 1.0, 10.0),
]


def test_order_one_by_hand() -> None:
    got = result(LOOP)
    assert got["A"] == pytest.approx((18 / 17, 120 / 7, 3 / 4), rel=1e-13)
    assert got["B"] == pytest.approx((16 / 17, 160 / 7, 2 / 3), rel=1e-13)


def test_order_one_by_hand_on_the_sparse_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mk, "DENSE_MAX_STATES", 0)
    got = result(LOOP)
    assert got["A"] == pytest.approx((18 / 17, 120 / 7, 3 / 4), rel=1e-11)
    assert got["B"] == pytest.approx((16 / 17, 160 / 7, 2 / 3), rel=1e-11)


# Order 2 on:  A > A > B > C → 1 conversion (collapsed to A > B > C)
#              A > C         → 1 null
#              B > C         → 1 conversion
# States: start→(A,B)→(B,C)→conv; start→(A,C)→null; start→(B,C)→conv; each start move 1/3.
# x(B,C) = 1, x(A,B) = 1, x(A,C) = 0, x_start = 2/3.
# Remove A kills (A,B), (A,C): x_start = 1/3 → RE_A = 1/2.
# Remove B kills (A,B), (B,C): x_start = 0 → RE_B = 1.  Remove C kills (A,C), (B,C): RE_C = 1.
# 2 conversions split 1/2 : 1 : 1 → A 2/5, B 4/5, C 4/5.
# Order 1 on the same paths tells a different story: start→A 2/3, start→B 1/3, A→B 1/2,
# A→C 1/2, B→C 1, C→conv 2/3: x_C = x_B = x_A = 2/3 = x_start. Remove A: 2/9 → RE 2/3;
# remove B: x_A = 1/3, x_start = 2/9 → RE 2/3; remove C: RE 1 → split 2 : 2 : 3.
ORDER2 = [
    Journey(("A", "A", "B", "C"), 1.0, 1.0),
    Journey(("A", "C"), 0.0, 0.0, nulls=1.0),
    Journey(("B", "C"), 1.0, 1.0),
]


def test_order_two_by_hand() -> None:
    got = result(ORDER2, order=2)
    assert [got[c][0] for c in "ABC"] == pytest.approx([2 / 5, 4 / 5, 4 / 5], rel=1e-13)
    assert [got[c][2] for c in "ABC"] == pytest.approx([1 / 2, 1, 1], rel=1e-13)


def test_order_one_differs_on_the_same_paths() -> None:
    got = result(ORDER2, order=1)
    assert [got[c][0] for c in "ABC"] == pytest.approx([4 / 7, 4 / 7, 6 / 7], rel=1e-13)


def test_chain_states_collapse_repeats_and_slide() -> None:
    table = JourneyTable.from_journeys(ORDER2)
    chain = mk.build_chain(table, order=2)
    names = [tuple(str(table.channels[c]) for c in row if c >= 0) for row in chain.states]
    assert sorted(names[1:]) == [("A", "B"), ("A", "C"), ("B", "C")]
    moves = dict(zip(names, np.asarray(chain.Q.sum(axis=1)).ravel(), strict=True))
    conv = dict(zip(names, chain.r_conv, strict=True))
    assert moves == {(): 1.0, ("A", "B"): 1.0, ("A", "C"): 0.0, ("B", "C"): 0.0}
    assert conv == {(): 0.0, ("A", "B"): 0.0, ("A", "C"): 0.0, ("B", "C"): 1.0}


def brute_force(journeys: list[Journey], order: int) -> np.ndarray:
    """Removal effects by one dense solve of each reduced chain (no shortcut)."""
    table = JourneyTable.from_journeys(journeys)
    chain = mk.build_chain(table, order)
    Q = chain.Q.toarray()
    n = Q.shape[0]
    full = np.linalg.solve(np.eye(n) - Q, chain.r_conv)[0]
    out = []
    for c in range(table.n_channels):
        keep = np.array([c not in row for row in chain.states])
        sub = Q[np.ix_(keep, keep)]
        x = np.linalg.solve(np.eye(keep.sum()) - sub, chain.r_conv[keep])
        out.append(1 - x[0] / full)
    return np.array(out)


def random_journeys(rng: np.random.Generator, n: int, channels: str) -> list[Journey]:
    out = []
    for _ in range(n):
        path = tuple(rng.choice(list(channels), size=int(rng.integers(1, 6))))
        conv = float(rng.integers(0, 3))
        value = conv * float(rng.integers(1, 50))
        out.append(Journey(path, conv, value, float(rng.integers(0, 3))))
    return out


SOLVERS = {
    "dense": {},
    "neumann": {"DENSE_MAX_STATES": 0, "ACYCLIC_SHARE": 1.0},
    "krylov": {"DENSE_MAX_STATES": 0, "ACYCLIC_SHARE": -1.0},
    "neumann_then_krylov": {"DENSE_MAX_STATES": 0, "ACYCLIC_SHARE": 1.0, "NEUMANN_MAX_STEPS": 2},
}


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_removal_effects_match_brute_force(
    order: int, solver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SOLVERS[solver].items():
        monkeypatch.setattr(mk, name, value)
    journeys = random_journeys(np.random.default_rng(order), 60, "ABCDE")
    att = attribute(journeys, "markov", order=order)
    assert att.removal_effects is not None
    expected = brute_force(journeys, order)
    np.testing.assert_allclose(att.removal_effects["removal_effect"], expected, rtol=1e-9)
    assert att.credits["conversions"].sum() == pytest.approx(att.total_conversions)


def test_acyclic_chain_is_summed_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Order 3 over distinct channels never revisits a state: the Neumann series is finite.
    monkeypatch.setattr(mk, "DENSE_MAX_STATES", 0)
    table = JourneyTable.from_journeys(ORDER2)
    assert mk._mostly_acyclic(mk.build_chain(table, 3).Q)
    got = result(ORDER2, order=3)
    # Order 3 states: (A,B,C), (A,C), (B,C) — each path is its own chain of states, so removing
    # any of its channels kills it: RE_A = 1/2 (A,B,C lost; B,C remains), RE_B = RE_C = 1.
    assert [got[c][2] for c in "ABC"] == [0.5, 1.0, 1.0]


def test_no_conversions_credits_nothing_without_fallback() -> None:
    att = attribute([Journey(("A", "B"), 0.0, nulls=3.0)], "markov")
    assert att.credits["conversions"].tolist() == [0.0, 0.0]
    assert att.notes == ()


def test_all_zero_removal_effects_fall_back_to_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a degenerate system whose removal effects all vanish.
    real = mk.removal_effects

    def zero(chain: mk.Chain, n_channels: int) -> mk.RemovalEffects:
        eff = real(chain, n_channels)
        return mk.RemovalEffects(
            eff.p_conversion, eff.p_value, eff.conversion * 0, eff.value * 0, ()
        )

    monkeypatch.setattr(mk, "removal_effects", zero)
    att = attribute([Journey(("A", "B"), 2.0, 4.0)], "markov")
    assert att.credits["conversions"].tolist() == [1.0, 1.0]
    assert att.credits["value"].tolist() == [2.0, 2.0]
    assert any("linear" in n for n in att.notes)


def test_ill_conditioned_chain_gives_no_negative_or_nan_credit() -> None:
    # A 100,000-touch loop A ⇄ B with one exit: absorption 1e-5 per step, so (I - Q) is
    # within about 1e-5 of singular. Credits must stay finite, >= 0 and sum to the total.
    journeys = [
        Journey(("A", "B") * 50_000, 1.0, 5.0),
        Journey(("C", "A"), 1.0, 1.0),
        Journey(("B",), 0.0, nulls=1.0),
    ]
    for order in (1, 2, 3):
        att = attribute(journeys, "markov", order=order)
        got = att.credits[["conversions", "value"]].to_numpy()
        assert np.isfinite(got).all()
        assert (got >= 0).all()
        assert got[:, 0].sum() == pytest.approx(2.0, rel=1e-12)
        assert got[:, 1].sum() == pytest.approx(6.0, rel=1e-12)


def test_select_order_prefers_the_generating_order() -> None:
    rng = np.random.default_rng(5)
    channels = list("ABCD")

    def second_order_path() -> tuple[str, ...]:
        # The next channel is fixed by the previous two: a strongly second-order process.
        path = [str(rng.choice(channels)), str(rng.choice(channels))]
        while len(path) < 7 and rng.random() < 0.8:
            a, b = channels.index(path[-2]), channels.index(path[-1])
            path.append(channels[(a + 2 * b + 1) % 4])
        return tuple(path)

    def first_order_path() -> tuple[str, ...]:
        path = [str(rng.choice(channels))]
        while len(path) < 7 and rng.random() < 0.7:
            path.append(str(rng.choice(channels)))
        return tuple(path)

    second = [Journey(second_order_path(), 1.0, 1.0) for _ in range(3000)]
    first = [Journey(first_order_path(), 1.0, 1.0) for _ in range(3000)]
    t2 = JourneyTable.from_journeys(second)
    t1 = JourneyTable.from_journeys(first)
    assert mk.select_markov_order(t2) >= 2
    assert mk.select_markov_order(t1) == 1
    assert mk.select_markov_order(first) == 1  # records work as well as tables
    # Deterministic and order-free.
    assert mk.select_markov_order(JourneyTable.from_journeys(second[::-1])) == (
        mk.select_markov_order(t2)
    )
    assert attribute(second, "markov", order="auto").order == mk.select_markov_order(t2)


def test_select_order_rejects_bad_fraction() -> None:
    table = JourneyTable.from_journeys(LOOP)
    with pytest.raises(Exception, match="holdout_fraction"):
        mk.select_markov_order(table, holdout_fraction=1.0)


def test_journey_shares_follow_removal_effects() -> None:
    table = JourneyTable.from_journeys([Journey(("A", "B", "A"), 1.0, 1.0)])
    shares = mk.journey_shares(table, np.array([0.5, 1.0]))
    # A has 1/3 of the effect mass, split over its two touches; B has 2/3.
    assert shares.tolist() == pytest.approx([1 / 6, 2 / 3, 1 / 6])
