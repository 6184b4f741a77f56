"""Invariants of audience assets on random worlds, against a brute-force reference.

The reference applies the stage rules directly: on day d a user sits in the highest stage with a
qualifying event on a day e where d − window < e ≤ d. Every user sits in exactly one stage per
day; flow-matrix rows sum to the stage sizes on the from date and columns to those on the to date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.assets.hand_world import build_store

from redcat.assets import ALL_STAGES, audience_assets
from redcat.settings import AssetSettings

USERS = ("a", "b", "c", "d")
DAY0 = date(2026, 5, 1)
DAYS = 12
# (kind, stage rank when it qualifies): content events on B1's note n1 and retailer events.
KINDS = ("impression", "like", "search", "order", "post")

event = st.tuples(
    st.sampled_from(USERS),
    st.sampled_from(KINDS),
    st.integers(0, DAYS - 1),  # day
    st.integers(0, 86_399),  # second of the day
)
windows = st.builds(
    AssetSettings,
    aware_days=st.integers(1, 5),
    interest_days=st.integers(1, 5),
    purchase_days=st.integers(1, 8),
    share_days=st.integers(1, 5),
)


def stamp(day: int, second: int) -> str:
    return (datetime(2026, 5, 1) + timedelta(days=day, seconds=second)).isoformat(sep=" ")


def reference(events: list[tuple[str, str, int, int]], cfg: AssetSettings) -> dict:
    """Stage name per (user, day index) by the rules, straight from the events."""
    ranked: list[tuple[str, int, int]] = []  # (user, rank, day)
    for user, kind, day, second in events:
        if kind == "impression":
            ranked.append((user, 1, day))
        elif kind in ("like", "search"):
            ranked.append((user, 2, day))
        elif kind == "order":
            ranked.append((user, 3, day))
        else:  # a post is S after an earlier order of the brand, else interest
            earlier = any(
                u == user and k == "order" and (d, s) < (day, second) for u, k, d, s in events
            )
            ranked.append((user, 4 if earlier else 2, day))
    window = {1: cfg.aware_days, 2: cfg.interest_days, 3: cfg.purchase_days, 4: cfg.share_days}
    out = {}
    for user in USERS:
        for d in range(DAYS):
            alive = [r for u, r, e in ranked if u == user and d - window[r] < e <= d]
            out[(user, d)] = ALL_STAGES[max(alive, default=0)]
    return out


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event, min_size=1, max_size=14, unique_by=lambda e: (e[2], e[3])),
    cfg=windows,
    dates=st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)),
)
def test_stages_sizes_and_flows_agree_with_the_rules(events, cfg, dates) -> None:
    content = [(u, "n1", stamp(d, s), k) for u, k, d, s in events if k in ("impression", "like")]
    content += [(u, "u1", stamp(d, s), "post") for u, k, d, s in events if k == "post"]
    commerce = [
        (u, "s1" if k == "order" else None, stamp(d, s), k, "acme" if k == "search" else None)
        for u, k, d, s in events
        if k in ("search", "order")
    ]
    # Every user exists in the clean room, so the population is all four of them.
    commerce += [(u, "s9", stamp(0, 1), "visit", None) for u in USERS]
    engine = build_store(content, commerce)
    try:
        assets = audience_assets(engine, "B1", cfg)
        expected = reference(events, cfg)
        last = DAY0 + timedelta(days=DAYS - 1)
        sizes = assets.stage_sizes(DAY0, last)
        for d in range(DAYS):
            day = sizes[sizes["date"] == DAY0 + timedelta(days=d)]
            got = dict(zip(day["stage"], day["users"], strict=True))
            want = {s: sum(expected[(u, d)] == s for u in USERS) for s in ALL_STAGES}
            assert got == want, d
            assert sum(got.values()) == len(USERS)  # everyone in exactly one stage
        lo, hi = (DAY0 + timedelta(days=d) for d in dates)
        flows = assets.flows(lo, hi)
        by_from = flows.groupby("from_stage")["users"].sum().to_dict()
        by_to = flows.groupby("to_stage")["users"].sum().to_dict()
        at = {x: sizes[sizes["date"] == x].set_index("stage")["users"].to_dict() for x in (lo, hi)}
        assert by_from == at[lo]
        assert by_to == at[hi]
        pairs = {
            (f, t): n for f, t, n in flows.itertuples(index=False) if n
        }  # each user's own move
        want_pairs: dict[tuple[str, str], int] = {}
        for u in USERS:
            key = (expected[(u, dates[0])], expected[(u, dates[1])])
            want_pairs[key] = want_pairs.get(key, 0) + 1
        assert pairs == want_pairs
    finally:
        engine.close()
