"""Edge cases of the derived tables, each built by hand."""

import pytest

from redcat.engine import open_engine
from redcat.engine.derived import conversions, journey_touches, outcomes, touches
from redcat.match import run_direct_match


@pytest.fixture
def engine(tmp_path):
    eng = open_engine(tmp_path / "s.duckdb")
    con = eng.duck
    con.execute(
        "INSERT INTO notes VALUES ('n1','B1','c1','ad',NULL,'2026-05-01','t1'),"
        "('n2','B2','c2','ad',NULL,'2026-05-01','t2')"
    )
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1'),('tmall','s2','B2')")
    con.execute("INSERT INTO brand_terms VALUES ('tmall','B1','Ann'),('tmall','B2','Anna Sui')")
    con.execute(
        """INSERT INTO content_events VALUES
        ('e1','uD','n1','2026-05-01 10:00','impression','feed'),
        ('e2','uE','n1','2026-05-01 10:00','impression','feed'),
        ('e3','uH','n1','2026-05-03 10:00','impression','feed')"""
    )
    con.execute(
        """INSERT INTO commerce_events VALUES
        ('tmall','oE','uD','s1','2026-05-02 10:00','order',NULL,'p',NULL,7),
        ('tmall','x2','uE','s1','2026-05-02 11:00','order',NULL,'p','oE',5),
        ('tmall','x3','uD',NULL,'2026-05-02 12:00','search','anna sui lipstick',NULL,NULL,NULL),
        ('tmall','x4','uE',NULL,'2026-05-02 12:00','search','ANN cream',NULL,NULL,NULL),
        ('tmall','x5','uH','s1','2026-05-03 10:00','order',NULL,'p','oH1',1),
        ('tmall','x6','uH','s1','2026-05-05 10:00','order',NULL,'p','oH2',2)"""
    )
    run_direct_match(con, "salt")
    yield eng
    eng.close()


def test_an_order_without_id_never_merges_with_another(engine):
    orders = engine.execute(conversions(engine, "B1")).sort_values("event_key")
    assert orders[["event_key", "amount"]].values.tolist() == [
        ["tmall:event:oE", 7.0],  # uD's order had no order_id: keyed by its event id
        ["tmall:order:oE", 5.0],
        ["tmall:order:oH1", 1.0],
        ["tmall:order:oH2", 2.0],
    ]


def test_a_search_belongs_to_the_brand_of_its_longest_term(engine):
    def searches(brand):
        out = engine.execute(outcomes(engine, brand))
        return sorted(out.loc[out["event"] == "search", "event_key"])

    assert searches("B1") == ["tmall:x4"]  # "ANN cream"; "anna sui lipstick" is B2's
    assert searches("B2") == ["tmall:x3"]
    assert sorted(searches(None)) == ["tmall:x3", "tmall:x4"]


def test_a_touch_at_an_orders_instant_serves_the_next_order(engine):
    rows = engine.execute(journey_touches(engine, "B1", click_days=15, view_days=30))
    served = rows.loc[rows["converted"], "journey_id"].tolist()
    assert "tmall:order:oH2" in served  # uH saw n1 at the very second of oH1
    assert "tmall:order:oH1" not in served


@pytest.fixture
def visits(tmp_path):
    eng = open_engine(tmp_path / "v.duckdb")
    con = eng.duck
    con.execute("INSERT INTO notes VALUES ('n1','B1','c1','ad',NULL,'2026-05-01','t1')")
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1')")
    con.execute(
        """INSERT INTO content_events VALUES
        ('a1','uA','n1','2026-05-01 10:00:00','impression','feed'),
        ('a2','uA','n1','2026-05-01 10:00:12','read','feed'),
        ('a3','uA','n1','2026-05-01 23:00:00','impression','feed'),
        ('g1','uG','n1','2026-05-01 09:00:00','impression','feed')"""
    )
    con.execute(
        """INSERT INTO commerce_events VALUES
        ('tmall','x1','uA','s1','2026-05-31 22:00','order',NULL,'p','oA',9),
        ('tmall','x2','uG','s1','2026-06-15 09:00','order',NULL,'p','oG',4)"""
    )
    run_direct_match(con, "salt")
    yield eng
    eng.close()


def test_a_read_seconds_after_its_impression_is_one_click_touch(visits):
    rows = visits.execute(touches(visits, "B1")).sort_values("ts")
    # uG's 09:00 view; uA's 10:00 impression and read 12 s later (one click touch); uA's 23:00 view
    assert [t.strftime("%H:%M") for t in rows["ts"]] == ["09:00", "10:00", "23:00"]
    assert rows["is_click"].tolist() == [False, True, False]


def test_each_visit_keeps_its_own_time_and_stale_touches_wait_in_open_journeys(visits):
    rows = visits.execute(journey_touches(visits, "B1", click_days=15, view_days=30))
    # oA is 30 days 23 hours after the 23:00 view: inside the 30-day view window; the 10:00
    # click visit is outside the 15-day click window and waits in uA's open journey before oA.
    oa = rows[rows["journey_id"] == "tmall:order:oA"]
    assert oa["is_click"].tolist() == [False]
    idle = rows[~rows["converted"]].sort_values("ts")
    assert idle["is_click"].tolist() == [False, True]  # uG's view (45 days before oG), uA's click
    assert all(j.endswith(":0") for j in idle["journey_id"])  # both before any order
