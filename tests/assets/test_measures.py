"""Audience assets on a hand-made world, every figure computed by hand.

Windows (days): aware 3, interest 2, purchased 5, shared 4; a purchase is credited to a note
touched at most 2 days before it. Brand B1, May 2026 (day 1 = 05-01):

- a: sees n1 on 1 (A 1-3), likes it on 2 (I 2-3), orders on 4 (P 4-8), writes u1 on 6 (S 6-9):
  A, I, I, P, P, S, S, S, S, none.
- b: sees n2 on 2 (A 2-4), searches "Acme face cream" on 5 (I 5-6): none, A, A, A, I, I, none.
- c: orders on 1 unexposed (P 1-5), sees n1 on 3 (A 3-5, below P): P ×5, then none.
- d: writes u2 on 2 without any order: interest (I 2-3), then none.
- e sees only B2's note and z only shops B2: none throughout. Population: 6 people.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from tests.assets.hand_world import build_store

from redcat.assets import ALL_STAGES, audience_assets
from redcat.errors import ConfigError, StoreError
from redcat.settings import AssetSettings

SETTINGS = AssetSettings(
    aware_days=3, interest_days=2, purchase_days=5, share_days=4, purchase_credit_days=2
)
CONTENT = [
    ("a", "n1", "2026-05-01 10:00", "impression"),
    ("a", "n1", "2026-05-01 10:01", "read"),
    ("a", "n1", "2026-05-02 13:00", "like"),
    ("a", "u1", "2026-05-06 09:00", "post"),
    ("b", "n2", "2026-05-02 08:00", "impression"),
    ("c", "n1", "2026-05-03 08:00", "impression"),
    ("d", "u2", "2026-05-02 20:00", "post"),
    ("e", "n9", "2026-05-02 08:00", "impression"),
]
COMMERCE = [
    ("a", "s1", "2026-05-04 12:00", "order", None),
    ("b", None, "2026-05-05 12:00", "search", "Acme face cream"),
    ("c", "s1", "2026-05-01 12:00", "order", None),
    ("z", "s9", "2026-05-03 12:00", "order", None),
]
# Expected stage per user and day 1..10.
EXPECTED = {
    "a": "A I I P P S S S S none",
    "b": "none A A A I I none none none none",
    "c": "P P P P P none none none none none",
    "d": "none I I none none none none none none none",
    "e": "none " * 9 + "none",
    "z": "none " * 9 + "none",
}


def may(day: int) -> date:
    return date(2026, 5, day)


@pytest.fixture
def assets(store):
    return audience_assets(store(CONTENT, COMMERCE), "B1", SETTINGS)


def expected_sizes() -> pd.DataFrame:
    rows = []
    for day in range(1, 11):
        stages = [EXPECTED[u].split()[day - 1] for u in EXPECTED]
        for stage in ALL_STAGES:
            rows.append({"date": may(day), "stage": stage, "users": stages.count(stage)})
    return pd.DataFrame(rows)


def test_stage_sizes_per_day(assets) -> None:
    assert assets.population == 6
    sizes = assets.stage_sizes(may(1), may(10))
    pd.testing.assert_frame_equal(sizes, expected_sizes(), check_dtype=False)
    # Spot checks of the hand table above.
    wide = sizes.pivot(index="date", columns="stage", values="users")
    assert wide.loc[may(2)].to_dict() == {"A": 1, "I": 2, "P": 1, "S": 0, "none": 2}
    assert wide.loc[may(6)].to_dict() == {"A": 0, "I": 1, "P": 0, "S": 1, "none": 4}


def test_builds_with_other_windows_do_not_clash(assets) -> None:
    other = audience_assets(assets.engine, "B1", AssetSettings())  # default, longer windows
    assert other.stage_sizes(may(10), may(10)).set_index("stage")["users"]["none"] == 2
    pd.testing.assert_frame_equal(
        assets.stage_sizes(may(1), may(10)), expected_sizes(), check_dtype=False
    )


def test_stage_of_each_user(assets) -> None:
    for day in range(1, 11):
        on = assets.engine.execute(assets.stage_on(may(day)))
        got = {k: ALL_STAGES[int(r)] for k, r in zip(on["match_key"], on["rank"], strict=True)}
        for user, stages in EXPECTED.items():
            assert got.get(user, "none") == stages.split()[day - 1], (user, day)


def test_flow_matrix(assets) -> None:
    flows = assets.flows(may(2), may(6))
    assert len(flows) == 25
    got = {(f, t): n for f, t, n in flows.itertuples(index=False) if n}
    assert got == {
        ("I", "S"): 1,  # a
        ("A", "I"): 1,  # b
        ("P", "none"): 1,  # c
        ("I", "none"): 1,  # d
        ("none", "none"): 2,  # e, z
    }


def test_i_to_p_conversion(assets) -> None:
    conv = assets.conversion(may(1), may(10))
    # a, b and d sit in I at some point; only a orders afterwards.
    assert (conv.interest_users, conv.converted_users) == (3, 1)
    assert conv.rate == pytest.approx(1 / 3)
    # Within days 5-10 only b is in I, and never orders.
    late = assets.conversion(may(5), may(10))
    assert (late.interest_users, late.converted_users, late.rate) == (1, 0, 0.0)


def test_assets_each_note_added(assets) -> None:
    added = assets.note_assets(may(1), may(10))
    got = {(n, s): u for n, s, u in added.itertuples(index=False)}
    # a: A and I via n1, P credited to the like of n1 (2 days' window), S via a's own note u1;
    # b: A via n2 (I came from a retailer search: no note); c: P with no touch before, and n1
    # seen below P adds nothing; d: I via the note d wrote without buying.
    assert got == {("n1", "A"): 1, ("n1", "I"): 1, ("n1", "P"): 1, ("n2", "A"): 1,
                   ("u1", "S"): 1, ("u2", "I"): 1}  # fmt: skip
    wide = assets.note_assets_wide(may(1), may(10))
    assert wide.iloc[0].to_dict() == {
        "note_id": "n1",
        "title": "t1",
        "A": 1,
        "I": 1,
        "P": 1,
        "S": 0,
        "total": 3,
    }
    # Entries before the period do not count: from day 3 on only a's P and S entries remain.
    later = assets.note_assets(may(3), may(10))
    assert {(n, s) for n, s, _ in later.itertuples(index=False)} == {("n1", "P"), ("u1", "S")}


def test_purchase_credit_window(store) -> None:
    short = AssetSettings(aware_days=3, interest_days=2, purchase_days=5, share_days=4,
                          purchase_credit_days=1)  # fmt: skip
    assets = audience_assets(store(CONTENT, COMMERCE), "B1", short)
    added = assets.note_assets(may(1), may(10))
    # a's like (05-02 13:00) is 47 hours before the order: outside a 1-day credit window.
    assert ("n1", "P") not in {(n, s) for n, s, _ in added.itertuples(index=False)}


def test_stages_decay_and_return(store) -> None:
    content = [
        ("a", "n1", "2026-05-01 10:00", "impression"),
        ("a", "n1", "2026-05-03 10:00", "impression"),  # touching spans merge: A 1-5
        ("a", "n1", "2026-05-09 10:00", "impression"),  # after a gap: A again 9-11
    ]
    assets = audience_assets(store(content, []), "B1", SETTINGS)
    sizes = assets.stage_sizes(may(1), may(12))
    aware = sizes[sizes["stage"] == "A"]["users"].tolist()
    assert aware == [1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0]
    entries = assets.engine.execute(assets.segments)
    assert sorted(entries["entered"].tolist()) == [True, True]
    added = assets.note_assets(may(1), may(12))
    assert added.to_dict("records") == [{"note_id": "n1", "stage": "A", "users": 1}]


def test_population_counts_people_with_only_a_holdout_row() -> None:
    engine = build_store(CONTENT, COMMERCE, holdouts=("a", "h"))
    try:
        assets = audience_assets(engine, "B1", SETTINGS)
        assert assets.population == 7  # a..e, z and h, who is randomized but has no events
        day = assets.stage_sizes(may(1), may(1))
        assert dict(zip(day["stage"], day["users"], strict=True))["none"] == 5
    finally:
        engine.close()


def test_default_period_and_errors(assets, store) -> None:
    assert assets.period() == (may(1), may(6))  # first B1 note … last matched event
    with pytest.raises(ConfigError):
        assets.period(may(5), may(4))
    with pytest.raises(StoreError):
        audience_assets(store(CONTENT, COMMERCE), "B7", SETTINGS)
