"""Invariants every model keeps: credits add up, never negative, same bits in any order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redcat.attribution import markov as mk
from redcat.attribution.journeys import Journey, JourneyTable
from redcat.attribution.models import MODELS, attribute
from redcat.errors import AttributionError

channel = st.sampled_from(["n1", "n2", "n3", "n4", "n5", "n6"])


@st.composite
def journey(draw: st.DrawFn, *, with_times: bool) -> Journey:
    path = tuple(draw(st.lists(channel, min_size=1, max_size=6)))
    conv = float(draw(st.integers(0, 4)))
    value = conv * draw(st.floats(0.01, 500.0, allow_nan=False)) if conv else 0.0
    nulls = float(draw(st.integers(0, 4)))
    days = None
    clicks = None
    if with_times:
        days = tuple(draw(st.lists(st.floats(0, 60), min_size=len(path), max_size=len(path))))
        clicks = tuple(draw(st.lists(st.booleans(), min_size=len(path), max_size=len(path))))
    return Journey(path, conv, value, nulls, days, clicks)


@st.composite
def journeys(draw: st.DrawFn) -> list[Journey]:
    with_times = draw(st.booleans())
    return draw(st.lists(journey(with_times=with_times), min_size=1, max_size=25))


ORDERS = {"markov": [1, 2, 3]}


def runs(model: str) -> list[dict[str, object]]:
    return [{"order": k} for k in ORDERS.get(model, [None])]


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(js=journeys(), data=st.data())
def test_credits_add_up_and_are_order_free(
    model: str, js: list[Journey], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(js))
    total_conv = sum(j.conversions for j in js)
    total_val = sum(j.value for j in js)
    for kw in runs(model):
        att = attribute(js, model, **kw)  # type: ignore[arg-type]
        c = att.credits
        assert list(c.columns) == ["channel", "conversions", "value"]
        assert c["channel"].tolist() == sorted({ch for j in js for ch in j.channels})
        assert (c["conversions"] >= 0).all() and (c["value"] >= 0).all()
        assert c["conversions"].sum() == pytest.approx(total_conv, rel=1e-9, abs=1e-9)
        assert c["value"].sum() == pytest.approx(total_val, rel=1e-9, abs=1e-9)
        assert att.total_conversions == pytest.approx(total_conv)
        # Same input twice, and the same journeys in another order: identical bits.
        again = attribute(js, model, **kw)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(c, again.credits, check_exact=True)
        moved = attribute(shuffled, model, **kw)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(c, moved.credits, check_exact=True)
        if att.allocations is not None:
            a = att.allocations
            per_journey = a.groupby("journey")["conversions"].sum()
            for idx, got in per_journey.items():
                assert got == pytest.approx(js[int(idx)].conversions, rel=1e-9)
            assert a["value"].sum() == pytest.approx(total_val, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_empty_input_gives_empty_credits(model: str) -> None:
    att = attribute([], model)
    assert att.credits.empty
    assert att.total_conversions == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": ()}, "at least one touch"),
        ({"channels": ("a",), "days_before": (1.0, 2.0)}, "days_before"),
        ({"channels": ("a",), "is_click": (True, False)}, "is_click"),
    ],
)
def test_journey_records_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AttributionError, match=message):
        Journey(conversions=1.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("journey_", "message"),
    [
        (Journey(("a",), -1.0), "conversions"),
        (Journey(("a",), 1.0, float("nan")), "value"),
        (Journey(("a",), 0.0, 5.0), "value but no conversions"),
        (Journey(("a",), 1.0, nulls=-2.0), "nulls"),
        (Journey(("a",), 1.0, days_before=(-1.0,)), "days_before"),
    ],
)
def test_tables_reject_bad_numbers(journey_: Journey, message: str) -> None:
    with pytest.raises(AttributionError, match=message):
        JourneyTable.from_journeys([journey_])


def test_unknown_model_and_order() -> None:
    js = [Journey(("a",), 1.0)]
    with pytest.raises(AttributionError, match="unknown attribution model"):
        attribute(js, "u_shaped")
    with pytest.raises(AttributionError, match="order"):
        attribute(js, "markov", order=4)
    with pytest.raises(AttributionError, match="order"):
        attribute(js, "markov", order="two")


def test_table_round_trips_journeys() -> None:
    js = [
        Journey(("b", "a"), 1.0, 3.0, 2.0, (2.0, 0.5), (False, True)),
        Journey(("c",), 0.0, 0.0, 1.0, (0.0,), (True,)),
    ]
    table = JourneyTable.from_journeys(js)
    assert table.channels.tolist() == ["a", "b", "c"]
    assert [table.journey(i) for i in range(2)] == js
    assert np.array_equal(table.position, [0, 1, 0])


SPARSE_PATHS = {
    "neumann": {"DENSE_MAX_STATES": 0, "ACYCLIC_SHARE": 1.0},
    "krylov": {"DENSE_MAX_STATES": 0, "ACYCLIC_SHARE": -1.0},
}


@pytest.mark.parametrize("path", list(SPARSE_PATHS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(js=journeys(), data=st.data(), order=st.sampled_from([1, 2, 3]))
def test_sparse_markov_agrees_with_dense_and_is_order_free(
    path: str, js: list[Journey], data: st.DataObject, order: int
) -> None:
    dense = attribute(js, "markov", order=order).credits
    shuffled = data.draw(st.permutations(js))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SPARSE_PATHS[path].items():
            mp.setattr(mk, name, value)
        sparse = attribute(js, "markov", order=order).credits
        moved = attribute(shuffled, "markov", order=order).credits
    pd.testing.assert_frame_equal(sparse, moved, check_exact=True)
    np.testing.assert_allclose(sparse["conversions"], dense["conversions"], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(sparse["value"], dense["value"], rtol=1e-8, atol=1e-9)


def test_from_codes_equals_from_arrays_and_checks_its_codes() -> None:
    names = ["a", "b", "c", "d"]
    codes = [2, 0, 2, 3]
    by_codes = JourneyTable.from_codes(names, codes, [3, 1], conversions=[1.0, 0.0])
    by_names = JourneyTable.from_arrays(["c", "a", "c", "d"], [3, 1], conversions=[1.0, 0.0])
    assert by_codes.channels.tolist() == by_names.channels.tolist() == ["a", "c", "d"]
    assert by_codes.codes.tolist() == by_names.codes.tolist()
    with pytest.raises(AttributionError, match="sorted"):
        JourneyTable.from_codes(["b", "a"], [0], [1], conversions=[1.0])
    with pytest.raises(AttributionError, match="outside"):
        JourneyTable.from_codes(["a"], [1], [1], conversions=[1.0])
