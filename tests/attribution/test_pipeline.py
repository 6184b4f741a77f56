import pytest
from tests.tiny_world import build

from redcat.attribution.pipeline import aggregate_paths, journey_frame, journey_rows
from redcat.match import run_direct_match
from redcat.settings import Windows


@pytest.fixture
def engine(tmp_path):
    eng = build(tmp_path / "s.duckdb")
    run_direct_match(eng.duck, "salt")
    yield eng
    eng.close()


def test_journeys_by_hand(engine):
    j = journey_frame(journey_rows(engine, "B1", Windows()), "B1")
    assert j[["journey_id", "converted", "value", "path", "kinds"]].values.tolist() == [
        ["tmall:order:o1", True, 99.5, "n1 > n1 > n1", "view > view > click"],
        ["tmall:order:o2", True, 10.0, "n2", "view"],
    ]
    # o1 at 05-02 10:10; u1 saw n1 at 05-01 10:00 and read it at 12:00.
    # u1's events on n1 are an hour apart, so three touches (the gap that joins events is 30 min)
    ages = [(24 * 60 + 10) / 1440, (23 * 60 + 10) / 1440, (22 * 60 + 10) / 1440]
    assert j.loc[0, "days_before"] == " > ".join(f"{a:.6f}" for a in ages)
    assert j.loc[0, "touch_ts"] == (
        "2026-05-01T10:00:00 > 2026-05-01T11:00:00 > 2026-05-01T12:00:00"
    )


def test_click_and_view_windows_apply_separately(engine):
    # o1's views of n1 are 1.007 and 0.965 days old and its read 0.924 days: 1-day windows drop
    # the oldest view, which then waits in an open journey of u1's.
    j = journey_frame(journey_rows(engine, "B1", Windows(click_days=1, view_days=1)), "B1")
    converting = j[j["converted"]]
    assert converting["path"].tolist() == ["n1 > n1", "n2"]
    assert converting["kinds"].tolist() == ["view > click", "view"]


def test_a_touch_serves_one_order_and_leftovers_form_open_journeys(engine):
    # With 30-day windows o4 (05-20) could reach back to n1, but o1 came in between.
    j = journey_frame(journey_rows(engine, "B1", Windows(click_days=30, view_days=30)), "B1")
    assert "tmall:order:o4" not in set(j["journey_id"])
    engine.duck.execute(
        "INSERT INTO cr_content_events SELECT 'e99', match_key, 'n2', TIMESTAMP '2026-05-25',"
        " 'impression', 'feed' FROM cr_content_events WHERE event_id = 'e1'"
    )
    j = journey_frame(journey_rows(engine, "B1", Windows()), "B1")
    open_rows = j[~j["converted"]]
    assert open_rows["path"].tolist() == ["n2"]
    assert open_rows["value"].tolist() == [0.0]


def test_aggregate_paths(engine):
    agg = aggregate_paths(journey_frame(journey_rows(engine, "B1", Windows()), "B1"))
    assert agg.values.tolist() == [["n1 > n1 > n1", 1, 99.5, 0], ["n2", 1, 10.0, 0]]


def test_credits_roll_up_to_creators_and_campaigns():
    import pandas as pd

    from redcat.attribution.pipeline import credits_by

    credits = pd.DataFrame(
        {
            "model": ["last", "last", "last", "linear"],
            "note_id": ["n1", "n2", "n3", "n1"],
            "conversions": [1.0, 2.0, 0.5, 3.0],
            "value": [10.0, 20.0, 5.0, 30.0],
        }
    )
    notes = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "creator_id": ["c1", "c1", "c2"],
            "campaign_id": ["C1", None, "C1"],
        }
    )
    assert credits_by(credits, notes, "creator_id").values.tolist() == [
        ["last", "c1", 3.0, 30.0],
        ["last", "c2", 0.5, 5.0],
        ["linear", "c1", 3.0, 30.0],
    ]
    assert credits_by(credits, notes, "campaign_id").values.tolist() == [
        ["last", "C1", 1.5, 15.0],
        ["linear", "C1", 3.0, 30.0],
    ]


def test_credits_split_by_campaign_share():
    import pandas as pd

    from redcat.attribution.pipeline import credits_by

    credits = pd.DataFrame(
        {
            "model": ["last", "last"],
            "note_id": ["n1", "n2"],
            "conversions": [3.0, 1.0],
            "value": [30.0, 8.0],
        }
    )
    shares = pd.DataFrame(
        {
            "note_id": ["n1", "n1", "n2"],
            "campaign_id": ["C1", "C2", "C2"],
            "share": [2 / 3, 1 / 3, 1.0],
        }
    )
    out = credits_by(credits, shares, "campaign_id")
    assert out["campaign_id"].tolist() == ["C1", "C2"]
    assert out["conversions"].tolist() == pytest.approx([2.0, 2.0])
    assert out["value"].tolist() == pytest.approx([20.0, 18.0])
    assert out["conversions"].sum() == pytest.approx(credits["conversions"].sum())
