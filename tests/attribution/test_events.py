"""Windowing of user-level touches and conversions into journeys."""

from __future__ import annotations

import pandas as pd
import pytest

from redcat.attribution.events import (
    EventJourneys,
    ad_totals,
    conversion_credits,
    journeys_from_events,
    parse_window,
)
from redcat.attribution.models import attribute
from redcat.errors import ConfigError, InputError

HOUR = 3600.0
DAY = 86_400.0


def touches(*rows: tuple[str, float, str, bool]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "ts", "ad_id", "is_click"])


def conversions(*rows: tuple[str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "ts", "value"])


def build(t: pd.DataFrame, c: pd.DataFrame, click: float = DAY, view: float = DAY) -> EventJourneys:
    return journeys_from_events(t, c, click_window_s=click, view_window_s=view)


def paths(ev: EventJourneys) -> list[tuple[tuple[str, ...], float, float, float]]:
    out = []
    for j in range(ev.table.n_journeys):
        rec = ev.table.journey(j)
        out.append((rec.channels, rec.conversions, rec.value, rec.nulls))
    return out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("12h", 43_200), ("1d", 86_400), ("1.5h", 5400), ("90", 90),
     ("2D", 172_800)],
)  # fmt: skip
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-1d", "0s", "d", "1 day"])
def test_parse_window_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_window(text)


def test_touch_at_the_conversion_instant_is_not_eligible() -> None:
    ev = build(touches(("u", 100.0, "a", True)), conversions(("u", 100.0, 5.0)))
    assert ev.n_converting == 0
    assert ev.conversions["journey"].tolist() == [-1]
    # Not followed by the conversion, so it is the user's null journey.
    assert paths(ev) == [(("a",), 0.0, 0.0, 1.0)]


def test_touch_exactly_one_window_before_is_eligible_and_one_second_more_is_not() -> None:
    t = touches(("u", 0.0, "old", False), ("u", 1.0, "edge", False), ("u", 2.0, "in", False))
    ev = build(t, conversions(("u", 1.0 + HOUR, 5.0)), view=HOUR)
    assert paths(ev) == [(("edge", "in"), 1.0, 5.0, 0.0)]


def test_click_and_view_windows_apply_separately() -> None:
    # Conversion at 10 h; click window 1 d, view window 1 h.
    t = touches(
        ("u", 8 * HOUR, "view_2h", False),
        ("u", 8 * HOUR, "click_2h", True),
        ("u", 9.5 * HOUR, "view_30m", False),
    )
    ev = build(t, conversions(("u", 10 * HOUR, 7.0)), click=DAY, view=HOUR)
    assert paths(ev) == [(("click_2h", "view_30m"), 1.0, 7.0, 0.0)]
    assert ev.table.days_before is not None
    assert ev.table.days_before.tolist() == pytest.approx([2 / 24, 0.5 / 24])


def test_last_and_first_prefer_clicks() -> None:
    t = touches(
        ("u", 1.0, "view_first", False),
        ("u", 2.0, "click_early", True),
        ("u", 3.0, "click_late", True),
        ("u", 4.0, "view_last", False),
    )
    ev = build(t, conversions(("u", 10.0, 8.0)))
    last = ad_totals(ev, attribute(ev.table, "last")).set_index("ad_id")["conversions"]
    first = ad_totals(ev, attribute(ev.table, "first")).set_index("ad_id")["conversions"]
    assert last["click_late"] == 1.0 and last.drop("click_late").sum() == 0.0
    assert first["click_early"] == 1.0 and first.drop("click_early").sum() == 0.0


def test_views_only_fall_back_to_the_latest_view() -> None:
    t = touches(("u", 1.0, "v1", False), ("u", 2.0, "v2", False))
    ev = build(t, conversions(("u", 10.0, 8.0)))
    last = ad_totals(ev, attribute(ev.table, "last")).set_index("ad_id")["conversions"]
    assert last.to_dict() == {"v1": 0.0, "v2": 1.0, "(unattributed)": 0.0}


def test_two_conversions_of_one_user_do_not_share_touches() -> None:
    t = touches(
        ("u", 1.0, "a", False),
        ("u", 2.0, "b", True),
        ("u", 15.0, "c", False),
        ("u", 40.0, "d", False),  # after the last conversion: null journey
    )
    c = conversions(("u", 20.0, 30.0), ("u", 10.0, 50.0))
    ev = build(t, c)
    assert paths(ev) == [
        (("a", "b"), 1.0, 50.0, 0.0),
        (("c",), 1.0, 30.0, 0.0),
        (("d",), 0.0, 0.0, 1.0),
    ]
    # Conversions come back sorted by user and time, with their input rows.
    assert ev.conversions["conversion"].tolist() == [1, 0]
    assert ev.conversions["journey"].tolist() == [0, 1]


def test_a_touch_outside_its_next_conversions_window_is_dropped_not_reused() -> None:
    # "a" is 2 h before the first conversion (window 1 h): not credited, and not carried to the
    # second conversion either, nor counted as null.
    t = touches(("u", 0.0, "a", False), ("u", 2.5 * HOUR, "b", False))
    c = conversions(("u", 2 * HOUR, 1.0), ("u", 3 * HOUR, 2.0))
    ev = build(t, c, view=HOUR)
    assert paths(ev) == [(("b",), 1.0, 2.0, 0.0)]
    assert ev.conversions["journey"].tolist() == [-1, 0]


def test_simultaneous_conversions_first_takes_the_touches() -> None:
    t = touches(("u", 1.0, "a", True))
    c = conversions(("u", 5.0, 9.0), ("u", 5.0, 3.0))
    ev = build(t, c)
    assert ev.conversions["value"].tolist() == [3.0, 9.0]
    assert ev.conversions["journey"].tolist() == [0, -1]


def test_users_without_conversions_form_null_journeys_in_user_order() -> None:
    t = touches(("z", 5.0, "b", False), ("y", 1.0, "a", True), ("z", 2.0, "a", True))
    ev = build(t, conversions())
    assert paths(ev) == [(("a",), 0.0, 0.0, 1.0), (("a", "b"), 0.0, 0.0, 1.0)]
    assert ev.table.days_before is not None
    # Null journeys measure ages from the user's last touch.
    assert ev.table.days_before.tolist() == pytest.approx([0.0, 3 / DAY, 0.0])


def test_same_instant_touches_order_views_before_clicks_then_ad() -> None:
    t = touches(("u", 1.0, "b", True), ("u", 1.0, "c", False), ("u", 1.0, "a", False))
    ev = build(t, conversions(("u", 2.0, 1.0)))
    assert paths(ev)[0][0] == ("a", "c", "b")


def test_credits_and_totals_add_up_with_unattributed_conversions() -> None:
    t = touches(
        ("u1", 1.0, "a", False), ("u1", 2.0, "b", True), ("u2", 3.0, "a", True),
        ("u3", 4.0, "b", False),
    )  # fmt: skip
    c = conversions(("u1", 5.0, 10.0), ("u2", 4.0, 6.0), ("u4", 9.0, 2.0))
    ev = build(t, c)
    for model in ("first", "last", "linear", "position", "time_decay", "markov", "shapley"):
        result = attribute(ev.table, model)
        rows = conversion_credits(ev, result)
        totals = ad_totals(ev, result)
        assert totals["conversions"].sum() == pytest.approx(3.0)
        assert totals["value"].sum() == pytest.approx(18.0)
        assert totals.iloc[-1].tolist() == ["(unattributed)", 1.0, 2.0]
        per_conv = rows.groupby(["user_id", "conversion_ts"])["credit"].sum()
        assert per_conv.tolist() == pytest.approx([1.0, 1.0, 1.0])
        assert rows["ad_id"].iloc[-1] == "(unattributed)"


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="is_click"):
        journeys_from_events(
            pd.DataFrame({"user_id": [], "ts": [], "ad_id": []}),
            conversions(),
            click_window_s=1.0,
            view_window_s=1.0,
        )
