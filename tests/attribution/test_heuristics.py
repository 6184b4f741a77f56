"""Exact known answers of the rule-based models."""

from __future__ import annotations

import pytest

from redcat.attribution.heuristics import touch_weights
from redcat.attribution.journeys import Journey, JourneyTable
from redcat.attribution.models import attribute

HOUR = 1 / 24


def credits(journeys: list[Journey], model: str, **kw: object) -> dict[str, tuple[float, float]]:
    frame = attribute(journeys, model, **kw).credits  # type: ignore[arg-type]
    return {r.channel: (r.conversions, r.value) for r in frame.itertuples()}


def weights(path: tuple[str, ...], model: str, **kw: object) -> list[float]:
    table = JourneyTable.from_journeys([Journey(path, 1.0, 0.0)])
    return list(touch_weights(table, model, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "path", "expected"),
    [
        ("first", ("A", "B", "C"), [1, 0, 0]),
        ("last", ("A", "B", "C"), [0, 0, 1]),
        ("linear", ("A", "B", "C", "D"), [0.25, 0.25, 0.25, 0.25]),
        ("position", ("A",), [1.0]),
        ("position", ("A", "B"), [0.5, 0.5]),
        ("position", ("A", "B", "C"), [0.4, 0.2, 0.4]),
        ("position", ("A", "B", "C", "D"), [0.4, 0.1, 0.1, 0.4]),
        # Without touch times the age is steps before conversion: 2, 1, 0 with half-life 1
        # step gives 1/4, 1/2, 1 → 1/7, 2/7, 4/7.
        ("time_decay", ("A", "B", "C"), [1 / 7, 2 / 7, 4 / 7]),
    ],
)
def test_touch_weights(model: str, path: tuple[str, ...], expected: list[float]) -> None:
    kw = {"half_life_days": 1.0} if model == "time_decay" else {}
    assert weights(path, model, **kw) == pytest.approx(expected, abs=1e-15)


def test_time_decay_one_hour_half_life_over_touch_times() -> None:
    # Touches 2 h, 1 h and 0 h before the conversion, half-life 1 h (1/24 day):
    # raw weights 2^-2, 2^-1, 2^0 = 1/4, 1/2, 1 → normalized 1/7, 2/7, 4/7.
    j = Journey(("A", "B", "C"), 7.0, 70.0, days_before=(2 * HOUR, HOUR, 0.0))
    got = credits([j], "time_decay", half_life_days=HOUR)
    assert got["A"] == pytest.approx((1.0, 10.0), rel=1e-14)
    assert got["B"] == pytest.approx((2.0, 20.0), rel=1e-14)
    assert got["C"] == pytest.approx((4.0, 40.0), rel=1e-14)


def test_time_decay_survives_very_old_touches() -> None:
    # Ages of 10,000 half-lives would underflow 2^-age to 0; shifting by the youngest keeps them.
    j = Journey(("A", "B"), 1.0, days_before=(20_001.0, 20_000.0))
    got = credits([j], "time_decay", half_life_days=1.0)
    assert got["A"][0] == pytest.approx(1 / 3)
    assert got["B"][0] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # Journeys: A>B>C (2 conv, value 20), B>A (1 conv, value 30), C (0 conv, 4 nulls).
        ("first", {"A": (2.0, 20.0), "B": (1.0, 30.0), "C": (0.0, 0.0)}),
        ("last", {"A": (1.0, 30.0), "B": (0.0, 0.0), "C": (2.0, 20.0)}),
        ("linear", {"A": (2 / 3 + 0.5, 20 / 3 + 15), "B": (2 / 3 + 0.5, 20 / 3 + 15),
                    "C": (2 / 3, 20 / 3)}),
        ("position", {"A": (0.8 + 0.5, 8 + 15), "B": (0.4 + 0.5, 4 + 15), "C": (0.8, 8.0)}),
    ],
)  # fmt: skip
def test_heuristic_credits(model: str, expected: dict[str, tuple[float, float]]) -> None:
    journeys = [
        Journey(("A", "B", "C"), 2.0, 20.0),
        Journey(("B", "A"), 1.0, 30.0),
        Journey(("C",), 0.0, 0.0, nulls=4.0),
    ]
    got = credits(journeys, model)
    assert set(got) == set(expected)
    for channel, (conv, val) in expected.items():
        assert got[channel] == pytest.approx((conv, val), rel=1e-14, abs=1e-14)


def test_linear_counts_each_touch_of_a_repeated_channel() -> None:
    got = credits([Journey(("A", "A", "B"), 3.0, 3.0)], "linear")
    assert got == {"A": pytest.approx((2.0, 2.0)), "B": pytest.approx((1.0, 1.0))}


@pytest.mark.parametrize(
    ("clicks", "first", "last"),
    [
        ((False, True, True, False), "B", "C"),  # clicks win over the views around them
        ((False, False, False, False), "A", "D"),  # no click: plain first / last view
        ((True, False, False, False), "A", "A"),  # one click is both first and last click
    ],
)
def test_first_and_last_prefer_clicks(clicks: tuple[bool, ...], first: str, last: str) -> None:
    j = Journey(("A", "B", "C", "D"), 1.0, 5.0, is_click=clicks)
    assert credits([j], "first")[first] == (1.0, 5.0)
    assert credits([j], "last")[last] == (1.0, 5.0)


def test_allocations_are_per_touch_of_converting_journeys() -> None:
    journeys = [Journey(("A", "B", "C"), 1.0, 10.0), Journey(("C",), 0.0, nulls=1.0)]
    alloc = attribute(journeys, "position").allocations
    assert alloc is not None
    assert alloc["journey"].tolist() == [0, 0, 0]
    assert alloc["position"].tolist() == [0, 1, 2]
    assert alloc["channel"].tolist() == ["A", "B", "C"]
    assert alloc["conversions"].tolist() == pytest.approx([0.4, 0.2, 0.4])
    assert alloc["value"].tolist() == pytest.approx([4.0, 2.0, 4.0])
