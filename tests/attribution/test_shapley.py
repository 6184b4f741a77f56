"""Shapley attribution with the conversion-rate value function."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from redcat.attribution.journeys import Journey, JourneyTable
from redcat.attribution.models import attribute
from redcat.attribution.shapley import set_values, shapley
from redcat.settings import AttributionSettings

# Two channels.  Journeys touching exactly {A}: 1 conversion, 3 nulls → v(A) = 1/4;
# exactly {B}: 1 conversion, 1 null → v(B) = 1/2; exactly {A, B}: 3 conversions (value 30),
# 1 null → v(AB) = 3/4.
# φ_A = ½·(v(A) − 0) + ½·(v(AB) − v(B)) = ½·¼ + ½·¼ = 1/4
# φ_B = ½·(v(B) − 0) + ½·(v(AB) − v(A)) = ½·½ + ½·½ = 1/2   (φ_A + φ_B = v(AB) ✓)
# The A>B journey's 3 conversions split 1 : 2 → A 1, B 2 (value 10, 20); the single-channel
# journeys keep theirs → A 2 conversions, B 3.
TWO = [
    Journey(("A",), 1.0, 4.0, nulls=3.0),
    Journey(("B",), 1.0, 6.0, nulls=1.0),
    Journey(("A", "B"), 3.0, 30.0, nulls=1.0),
]


def credits(journeys: list[Journey], **kw: object) -> dict[str, tuple[float, float]]:
    frame = attribute(journeys, "shapley", **kw).credits  # type: ignore[arg-type]
    return {r.channel: (r.conversions, r.value) for r in frame.itertuples()}


def test_two_channels_by_hand() -> None:
    got = credits(TWO)
    assert got["A"] == pytest.approx((2.0, 14.0), rel=1e-14)
    assert got["B"] == pytest.approx((3.0, 26.0), rel=1e-14)


def test_value_function_is_exposed() -> None:
    v = set_values(JourneyTable.from_journeys(TWO))
    assert v["channels"].tolist() == ["A", "A,B", "B"]
    assert v["rate"].tolist() == [0.25, 0.75, 0.5]


def test_does_not_collapse_to_an_equal_split() -> None:
    # The trap in DESIGN.md: with v(S) = conversions inside S every journey is split equally.
    # Here A > B would then give 1.5 / 1.5; the conversion-rate game gives 1 / 2.
    alloc = attribute(TWO, "shapley").allocations
    assert alloc is not None
    ab = alloc[alloc["journey"] == 2]
    assert ab["conversions"].tolist() == pytest.approx([1.0, 2.0])


def brute_shapley(journeys: list[Journey], s: tuple[str, ...]) -> dict[str, float]:
    """Shapley values of the restricted game by averaging over every ordering."""
    conv: dict[frozenset[str], float] = {}
    tot: dict[frozenset[str], float] = {}
    for j in journeys:
        key = frozenset(j.channels)
        conv[key] = conv.get(key, 0.0) + j.conversions
        tot[key] = tot.get(key, 0.0) + j.conversions + j.nulls

    def v(t: frozenset[str]) -> float:
        return conv.get(t, 0.0) / tot[t] if tot.get(t, 0.0) > 0 else 0.0

    phi = dict.fromkeys(s, 0.0)
    perms = list(itertools.permutations(s))
    for p in perms:
        seen: set[str] = set()
        for c in p:
            phi[c] += v(frozenset(seen | {c})) - v(frozenset(seen))
            seen.add(c)
    return {c: x / len(perms) for c, x in phi.items()}


def test_exact_matches_brute_force_over_orderings() -> None:
    rng = np.random.default_rng(3)
    journeys = []
    for _ in range(300):
        path = tuple(rng.choice(list("ABCDE"), size=int(rng.integers(1, 6))))
        journeys.append(Journey(path, float(rng.integers(0, 3)), 0.0, float(rng.integers(0, 3))))
    journeys = [Journey(j.channels, j.conversions, 2.0 * j.conversions, j.nulls) for j in journeys]
    alloc = attribute(journeys, "shapley").allocations
    assert alloc is not None
    for idx in (0, 5, 17, 42):
        j = journeys[idx]
        if j.conversions == 0:
            continue
        s = tuple(sorted(set(j.channels)))
        phi = brute_shapley(journeys, s)
        pos = {c: max(x, 0.0) for c, x in phi.items()}
        want = {c: j.conversions * x / sum(pos.values()) for c, x in pos.items()}
        got = alloc[alloc["journey"] == idx].groupby("channel")["conversions"].sum()
        assert got.to_dict() == pytest.approx(want, rel=1e-12)


def test_sampling_beyond_the_exact_limit_is_close_and_reports_an_error() -> None:
    rng = np.random.default_rng(8)
    journeys = []
    for _ in range(400):
        path = tuple(rng.choice(list("ABCDEF"), size=int(rng.integers(1, 8))))
        journeys.append(Journey(path, float(rng.integers(0, 2)), 0.0, float(rng.integers(0, 2))))
    table = JourneyTable.from_journeys(journeys)
    exact = shapley(table, exact_max_channels=15)
    sampled = shapley(table, exact_max_channels=3, samples=4000, seed=1)
    again = shapley(table, exact_max_channels=3, samples=4000, seed=1)
    assert sampled.credits.equals(again.credits)
    se = sampled.standard_errors
    assert se is not None and (se["conversions_se"] > 0).any()
    diff = (sampled.credits["conversions"] - exact.credits["conversions"]).abs()
    assert (diff <= 4 * se["conversions_se"] + 1e-9).all()
    assert sampled.credits["conversions"].sum() == pytest.approx(table.conversions.sum())
    assert any("permutations" in n for n in sampled.notes)
    assert exact.standard_errors is not None
    assert (exact.standard_errors["conversions_se"] == 0).all()


def test_exact_weights_sum_like_shapley_efficiency() -> None:
    # Efficiency: Σ φ_i = v(S) for the full set, checked through a three-channel game.
    journeys = [
        Journey(("A",), 1, 0, 1), Journey(("B",), 0, 0, 2), Journey(("C",), 2, 0, 2),
        Journey(("A", "B"), 1, 0, 0), Journey(("B", "C"), 1, 0, 3),
        Journey(("A", "B", "C"), 3, 0, 1),
    ]  # fmt: skip
    phi = brute_shapley(journeys, ("A", "B", "C"))
    assert sum(phi.values()) == pytest.approx(0.75)
    alloc = attribute(journeys, "shapley").allocations
    assert alloc is not None
    got = alloc[alloc["journey"] == 5].set_index("channel")["conversions"]
    assert got.to_dict() == pytest.approx({c: 3 * phi[c] / 0.75 for c in "ABC"})


def test_repeated_touches_share_their_channel_credit() -> None:
    alloc = attribute([Journey(("A", "B", "A"), 1.0, 3.0)], "shapley").allocations
    assert alloc is not None
    # v({A,B}) = 1 and no other set observed: φ_A = φ_B = 1/2; A's half over two touches.
    assert alloc["conversions"].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert math.isclose(alloc["value"].sum(), 3.0)


def test_settings_control_exactness() -> None:
    cfg = AttributionSettings(shapley_exact_max_channels=1, shapley_samples=50, seed=3)
    att = attribute(TWO, "shapley", settings=cfg)
    assert att.standard_errors is not None
    assert att.credits["conversions"].sum() == pytest.approx(5.0)
