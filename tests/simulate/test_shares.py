"""Buyers' notes (S, shared): written as a note plus a ``post`` event, always after an order."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from redcat.simulate import Behaviour, WorldSummary, simulate_world
from redcat.simulate.shares import AUTHOR_PREFIX, NOTE_PREFIX

# The tiny world with keen sharers, so there are plenty of buyers' notes to check.
SHARE_PROB = 0.5


@pytest.fixture(scope="module")
def sharing(tiny, tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    config = replace(tiny, behaviour=Behaviour(share_prob=SHARE_PROB))
    return simulate_world(config, tmp_path_factory.mktemp("sharing"), "parquet")


def test_buyers_notes_follow_an_order_of_the_brand(sharing, tiny, rows) -> None:
    out: Path = sharing.out
    notes = rows(out / "content" / "notes.parquet")
    events = rows(out / "content" / "content_events.parquet")
    posts = events[events["event"] == "post"]
    assert len(posts) > 5  # the tiny world has buyers' notes to check
    assert set(posts["surface"]) == {"profile"}
    ugc = notes[notes["note_id"].str.startswith(NOTE_PREFIX)]
    # One post per buyer's note, by the note's own author, at its publish time.
    assert sorted(posts["note_id"]) == sorted(ugc["note_id"])
    merged = posts.merge(ugc, on="note_id")
    assert (merged["ts"] == merged["published_at"]).all()
    assert merged["creator_id"].str.startswith(AUTHOR_PREFIX).all()
    assert (merged["note_type"] == "organic").all()
    assert merged.groupby("creator_id")["user_key"].nunique().max() == 1
    # Each note features a product of its brand that the author ordered before posting.
    orders = pd.concat(
        rows(out / "retailers" / rid / "commerce_events.parquet") for rid in tiny.retailer_ids
    )
    orders = orders[orders["event"] == "order"]
    for post in merged.itertuples():
        (product,) = post.product_ids
        assert product.startswith(f"{post.brand_id}-P")
        before = orders[
            (orders["user_key"] == post.user_key)
            & (orders["product_id"] == product)
            & (orders["ts"] < post.ts)
        ]
        assert len(before) >= 1, post.note_id


def test_posts_keep_the_events_file_in_time_order(sharing, rows) -> None:
    events = rows(sharing.out / "content" / "content_events.parquet")
    assert (events["event"] == "post").sum() == sharing.shares > 5
    assert events["ts"].is_monotonic_increasing
    assert events["event_id"].is_unique
    assert events["event_id"].is_monotonic_increasing
    # Posts never count as exposure: the UGC notes have no impressions in this world.
    ugc_events = events[events["note_id"].str.startswith(NOTE_PREFIX)]
    assert set(ugc_events["event"]) == {"post"}


def test_world_json_records_the_shares(written, tiny_world) -> None:
    info = json.loads((written("csv").out / "truth" / "world.json").read_text(encoding="utf-8"))
    shares = info["shares"]
    assert shares["notes"] == len(tiny_world.shares)
    assert sum(b["notes"] for b in shares["by_brand"].values()) == len(tiny_world.shares)
    assert len(shares["by_note"]) == len(tiny_world.shares)
    assert info["config"]["behaviour"]["share_prob"] > 0
    assert written("csv").shares == len(tiny_world.shares)
