import json
import math

import pytest

from redcat.report.charts import (
    HIGHLIGHT,
    MUTED,
    build_charts,
    dumps_for_script,
    funnel_option,
    funnel_width,
    models_option,
    notes_option,
    number,
    short_title,
    trend_option,
    wape_option,
)


def test_funnel_values_equal_the_input_in_stage_order(small):
    option = funnel_option(small, "zh")
    items = option["series"][0]["data"]
    assert [it["stage"] for it in items] == [
        "reach",
        "read",
        "interaction",
        "back_search",
        "visit",
        "cart",
        "order",
    ]
    assert [it["users"] for it in items] == [8000, 800, 200, 160, 100, 40, 25]
    assert [it["value"] for it in items] == [
        round(funnel_width(u), 6) for u in (8000, 800, 200, 160, 100, 40, 25)
    ]
    assert funnel_width(999) == pytest.approx(3.0) and funnel_width(0) == 0.0
    assert [it["name"] for it in items] == ["曝光", "阅读", "互动", "回搜", "进店", "加购", "成交"]
    assert items[3]["label"]["formatter"] == "回搜  160 人\n环节转化 80.00% · 占曝光 2.00%"
    assert items[0]["label"]["formatter"] == "曝光  8,000 人\n占曝光 100.00%"
    en = funnel_option(small, "en")["series"][0]["data"]
    assert en[6]["label"]["formatter"] == "Order  25 users\nstep 62.50% · of reach 0.31%"
    assert items[0]["rate_from_previous"] is None
    assert option["series"][0]["sort"] == "none"
    assert funnel_option(small, "en")["series"][0]["data"][4]["name"] == "Store visit"


def test_trend_has_four_lines_and_gmv_bars_on_a_second_axis(small):
    option = trend_option(small, "en")
    assert option["xAxis"][1]["data"] == ["2025-05-01", "2025-05-02", "2025-05-03"]
    by_name = {s["name"]: s for s in option["series"]}
    assert by_name["Reach"]["data"] == [3500, 2800, 1700]
    assert by_name["Back-search users"]["data"] == [70, 50, 40]
    assert by_name["Store visitors"]["data"] == [45, 35, 20]
    assert by_name["Orders"]["data"] == [12, 8, 5]
    assert by_name["GMV"]["type"] == "bar" and by_name["GMV"]["yAxisIndex"] == 2
    assert by_name["GMV"]["data"] == [2100.25, 1500.0, 900.25]
    assert "dataZoom" not in option


def test_notes_bar_is_orders_of_the_top_notes(small):
    option = notes_option(small, "zh", top=2)
    assert option["note_ids"] == ["n1", "n2"]
    assert option["series"][0]["data"] == [15, 8]
    assert option["yAxis"]["data"][0] == "春季新品测评"


def test_models_chart_has_one_series_per_model_and_truth(small):
    option = models_option(small, "en")
    assert option["note_ids"] == ["n1", "n2", "n3"]  # by true incremental orders
    series = {s["model"]: s["data"] for s in option["series"]}
    assert list(series) == ["first", "last", "linear", "markov", "truth"]
    assert series["markov"] == [11.0, 5.5, 2.5]
    assert series["truth"] == [10.0, 5.0, 2.0]


def test_models_chart_without_truth_has_no_truth_series(small_no_truth):
    option = models_option(small_no_truth, "en")
    assert [s["model"] for s in option["series"]] == ["first", "last", "linear", "markov"]
    # notes ranked by the largest credit any model gives them
    assert option["note_ids"] == ["n1", "n2", "n3"]


def test_wape_chart_highlights_only_the_closest(small, small_no_truth):
    option = wape_option(small, "zh")
    assert option["closest"] == "markov"
    items = option["series"][0]["data"]
    colors = {it["model"]: it["itemStyle"]["color"] for it in items}
    assert colors == {"first": MUTED, "last": MUTED, "linear": MUTED, "markov": HIGHLIGHT}
    assert items[3]["value"] == pytest.approx(200 / 17)
    assert items[3]["label"]["formatter"] == "11.8%"
    assert wape_option(small_no_truth, "zh") is None
    assert list(build_charts(small_no_truth, "zh")) == [
        "funnel",
        "trend",
        "notes",
        "models",
        "model_totals",
    ]
    assert list(build_charts(small, "zh")) == ["funnel", "trend", "notes", "models", "wape"]


def test_options_are_strict_json(demo):
    for lang in ("zh", "en"):
        for option in build_charts(demo, lang).values():
            json.loads(dumps_for_script(option))  # raises on NaN / inf


def test_dumps_for_script_cannot_close_the_script_element():
    raw = dumps_for_script({"t": "</script><script>alert(1)</script>&\u2028"})
    assert "<" not in raw and ">" not in raw and "&" not in raw and "\u2028" not in raw
    assert json.loads(raw) == {"t": "</script><script>alert(1)</script>&\u2028"}
    with pytest.raises(ValueError):
        dumps_for_script({"x": math.nan})


def test_number_and_short_title():
    import numpy as np

    assert number(np.int64(3)) == 3 and isinstance(number(np.int64(3)), int)
    assert number(np.float64(2.5)) == 2.5
    assert number(None) is None and number(math.inf) is None and number(np.nan) is None
    assert short_title("一二三四五六七八九十一二三四五") == "一二三四五六七八九十一二三…"
    assert short_title("  a \n b ") == "a b"
