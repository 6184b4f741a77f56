from tests.tiny_world import build

from redcat.match import run_direct_match


def test_only_matched_users_reach_the_clean_room(tmp_path):
    engine = build(tmp_path / "s.duckdb")
    report = run_direct_match(engine.duck, "salt")
    assert [
        (r.retailer_id, r.content_users, r.retailer_users, r.matched_users)
        for r in report.retailers
    ] == [("tmall", 3, 3, 2)]
    assert report.matched_people == 2  # u1 and u2; u3 has no retailer, u9 no content
    assert report.content_rows == 5  # u1's three events and u2's two
    assert report.commerce_rows == 5  # u9's order stays out
    for table in ("cr_content_events", "cr_commerce_events", "cr_holdouts"):
        assert "user_key" not in engine.table(table).columns
    keys = {r[0] for r in engine.duck.execute("SELECT match_key FROM cr_content_events").fetchall()}
    assert not keys & {"u1", "u2", "u3", "u9"}


def test_match_is_repeatable(tmp_path):
    engine = build(tmp_path / "s.duckdb")
    run_direct_match(engine.duck, "salt")
    first = engine.duck.execute("SELECT * FROM cr_commerce_events ORDER BY event_id").fetchall()
    run_direct_match(engine.duck, "salt")
    assert (
        engine.duck.execute("SELECT * FROM cr_commerce_events ORDER BY event_id").fetchall()
        == first
    )
