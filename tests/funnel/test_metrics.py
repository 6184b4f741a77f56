import pytest
from tests.tiny_world import build

from redcat.errors import ConfigError, StoreError
from redcat.funnel import brand_funnel
from redcat.match import run_direct_match
from redcat.settings import Windows


@pytest.fixture
def engine(tmp_path):
    eng = build(tmp_path / "s.duckdb")
    run_direct_match(eng.duck, "salt")
    yield eng
    eng.close()


def test_brand_kpis_by_hand(engine):
    f = brand_funnel(engine, "B1")
    assert f.kpis == {
        "spend": 150.0,
        "impressions": 4.0,  # e1, e2, e4, e5
        "reach": 3.0,  # u1, u2, u3 (the content platform's own figure, all users)
        "matched_reach": 2.0,  # u1, u2: u3 is on no retailer
        "reads": 1.0,
        "ctr": 0.25,
        "interactions": 0.0,
        "interaction_rate": 0.0,
        "back_search_users": 1.0,  # u1 searched "acme cream" after seeing n1
        "back_search_rate": 1 / 2,  # over matched reach: the same population as the numerator
        "visitors": 1.0,
        "visit_rate": 1 / 2,
        "cost_per_visit": 150.0,
        "carts": 0.0,
        "orders": 2.0,  # o1 (u1 after n1), o2 (u2 after n2); o3's buyer was never exposed
        "gmv": 109.5,
        "new_customers": 2.0,
        "roi": 109.5 / 150.0,
    }


def test_per_note_outcomes(engine):
    notes = brand_funnel(engine, "B1").notes.set_index("note_id")
    assert list(notes.index) == ["n1", "n2"]  # n9 belongs to B2
    assert notes.loc["n1", ["campaign_id", "spend", "orders", "gmv"]].tolist() == [
        "C1",
        150.0,
        1,
        99.5,
    ]
    assert notes.loc["n2", ["orders", "gmv", "reach", "back_search_users"]].tolist() == [
        1,
        10.0,
        2,
        0,
    ]
    assert notes.loc["n1", "roi"] == pytest.approx(99.5 / 150.0)


def test_window_bounds_outcomes(engine):
    # o4 comes 19 days after u1's last touch of n1: outside 15 days, inside 20; it is u1's second
    # order at B1 on tmall within 365 days, so not a new customer.
    assert brand_funnel(engine, "B1", Windows(funnel_days=15)).kpis["orders"] == 2.0
    wide = brand_funnel(engine, "B1", Windows(funnel_days=20)).kpis
    assert (wide["orders"], wide["gmv"], wide["new_customers"]) == (3.0, 129.5, 2.0)
    with pytest.raises(ConfigError, match="positive"):
        Windows(funnel_days=0)


def test_stages_are_distinct_users(engine):
    stages = brand_funnel(engine, "B1").stages
    assert stages["stage"].tolist() == [
        "reach",
        "read",
        "interaction",
        "back_search",
        "visit",
        "cart",
        "order",
    ]
    # matched people throughout: reach 2 → read 1 → interaction 0 → back-search 1 (not a subset
    # of 0) → visit 1 → cart 0 → order 2 (more buyers than cart users: buying needs no cart event)
    assert stages["users"].tolist() == [2, 1, 0, 1, 1, 0, 2]
    assert stages["rate_from_reach"].tolist()[-1] == 1.0
    steps = stages["rate_from_previous"]
    assert steps.isna().tolist() == [True, False, False, True, False, False, True]
    assert steps.dropna().tolist() == [1 / 2, 0.0, 1.0, 0.0]


def test_daily_outcomes_fall_on_their_own_day(engine):
    daily = brand_funnel(engine, "B1").daily
    assert [str(d) for d in daily["date"]] == ["2026-05-01", "2026-05-02", "2026-05-03"]
    assert daily["orders"].tolist() == [0, 1, 1]
    assert daily["spend"].tolist() == [150.0, 0.0, 0.0]


def test_unknown_brand(engine):
    with pytest.raises(StoreError, match="B7"):
        brand_funnel(engine, "B7")
