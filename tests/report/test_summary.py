import math

import pandas as pd
from tests.report.conftest import make_demo

from redcat.report.summary import brands_view, model_summary, model_summary_view


def _with_scores(data, brand, wapes):
    scores = pd.DataFrame(
        {"model": list(wapes), "credited_orders": 1.0, "wape": list(wapes.values()), "rank": 1}
    )
    return data.__class__(**{**data.__dict__, "brand_id": brand, "model_scores": scores})


def test_models_ranked_by_mean_wape_across_brands():
    base = make_demo()
    a = _with_scores(base, "B01", {"last": 0.2, "markov": 0.4})
    b = _with_scores(base, "B02", {"last": 0.6, "markov": 0.2})
    summary = model_summary([a, b])
    assert summary["model"].tolist() == ["markov", "last"]  # means 0.3 and 0.4
    assert summary["mean_wape"].tolist() == [0.30000000000000004, 0.4]
    view = model_summary_view([a, b], "en")
    assert view.rows[0] == ("Markov chain", "40.0%", "20.0%", "30.0%")
    assert view.caption == "Closest to causal truth: Markov chain (WAPE 30.0%)"
    assert view.highlight == frozenset({0})


def test_without_truth_no_model_is_named():
    base = make_demo()
    a = _with_scores(base, "B01", {"last": math.nan, "markov": math.nan})
    view = model_summary_view([a], "zh")
    assert view.highlight == frozenset()
    assert "无因果真值" in (view.caption or "")


def test_brands_view_shortens_large_numbers():
    base = make_demo()
    view = brands_view([base], "en")
    assert view.columns[0].header == "Brand"
    assert len(view.rows) == 1 and view.rows[0][0] == base.brand_id


def test_brand_gmv_is_compact():
    base = make_demo()
    data = base.__class__(**{**base.__dict__, "kpis": {**base.kpis, "gmv": 31292.5}})
    row = brands_view([data], "en").rows[0]
    assert row[6] == "¥31.29K"
    assert brands_view([data], "zh").rows[0][6] == "¥3.13万"
