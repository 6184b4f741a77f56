import dataclasses

import numpy as np
import pandas as pd
import pytest

from redcat.errors import InputError
from redcat.report.data import FUNNEL_STAGES, closest_model, is_missing


def test_closest_model_is_the_lowest_wape(small):
    assert closest_model(small.model_scores) == ("markov", pytest.approx(2 / 17))
    assert small.has_scores and small.has_truth


def test_closest_model_ties_break_by_rank_then_name():
    scores = pd.DataFrame(
        {
            "model": ["b", "a", "c"],
            "credited_orders": [1.0, 1.0, 1.0],
            "wape": [0.1, 0.1, 0.1],
            "rank": [1, 2, None],
        }
    )
    assert closest_model(scores) == ("b", 0.1)
    scores["rank"] = [None, None, None]
    assert closest_model(scores) == ("a", 0.1)


def test_no_finite_wape_means_no_closest_model(small_no_truth, parts):
    assert closest_model(small_no_truth.model_scores) is None
    assert not small_no_truth.has_scores and not small_no_truth.has_truth
    inf = parts["scores"]().assign(wape=[np.inf, np.nan, None, np.inf])
    assert closest_model(inf) is None


def test_funnel_in_order_reorders_shuffled_stages(make_report, parts):
    shuffled = make_report(funnel=parts["funnel"]().iloc[[3, 0, 6, 1, 5, 2, 4]])
    assert list(shuffled.funnel_in_order()["stage"]) == list(FUNNEL_STAGES)
    assert list(shuffled.funnel_in_order()["users"]) == [8000, 800, 200, 160, 100, 40, 25]


def test_missing_column_kpi_or_bad_stage_is_an_input_error(small):
    with pytest.raises(InputError, match="notes lacks column"):
        dataclasses.replace(small, notes=small.notes.drop(columns=["gmv"]))
    kpis = dict(small.kpis)
    del kpis["roi"]
    with pytest.raises(InputError, match="roi"):
        dataclasses.replace(small, kpis=kpis)
    with pytest.raises(InputError, match="unknown funnel stage"):
        dataclasses.replace(small, funnel=small.funnel.replace({"stage": {"cart": "basket"}}))
    with pytest.raises(InputError, match="before it starts"):
        dataclasses.replace(small, period_end=small.period_start.replace(day=1, month=1))


def test_extra_columns_are_tolerated(small):
    data = dataclasses.replace(small, notes=small.notes.assign(extra=1))
    assert "extra" in data.notes.columns


def test_is_missing():
    assert all(is_missing(v) for v in (None, np.nan, pd.NA, pd.NaT, float("nan")))
    assert not any(is_missing(v) for v in (0, "", "x", 0.0, [1, 2]))
