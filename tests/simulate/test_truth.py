"""Ground truth agrees with what the simulator generated, and means what it says."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd

from redcat.simulate import Behaviour, WorldConfig, build_world
from redcat.simulate.commerce import CE
from redcat.simulate.truth import campaign_truth, caused_orders, note_truth


def test_note_truth_counts_exactly_the_caused_orders(tiny_world, tiny, written) -> None:
    truth = pd.read_csv(written("csv").out / "truth" / "note_truth.csv")
    assert list(truth.columns) == [
        "note_id",
        "brand_id",
        "retailer_id",
        "true_incremental_orders",
        "true_incremental_gmv",
    ]
    notes = tiny_world.content.notes
    assert len(truth) == len(notes.note_ids) * tiny.retailers  # zeros included
    caused = [caused_orders(e) for e in tiny_world.commerce]
    n_caused = sum(len(c) for c in caused)
    assert n_caused > 10  # the tiny world has real effects to check
    assert truth["true_incremental_orders"].sum() == n_caused
    gmv = sum(e.amount[c].sum() for e, c in zip(tiny_world.commerce, caused, strict=True))
    assert abs(truth["true_incremental_gmv"].sum() - gmv) < 0.01 * len(truth)
    for r, (events, idx) in enumerate(zip(tiny_world.commerce, caused, strict=True)):
        per_note = np.bincount(events.cause_note[idx], minlength=len(notes.note_ids))
        rows = truth[truth["retailer_id"] == tiny.retailer_ids[r]]
        assert rows["note_id"].tolist() == list(notes.note_ids)
        assert rows["true_incremental_orders"].tolist() == per_note.tolist()


def test_caused_orders_are_written_orders(tiny_world, tiny, written, rows) -> None:
    out = written("parquet").out
    for r, events in enumerate(tiny_world.commerce):
        frame = rows(out / "retailers" / tiny.retailer_ids[r] / "commerce_events.parquet")
        orders = frame[frame["event"] == "order"]
        assert len(orders) == int((events.event == CE["order"]).sum())
        idx = caused_orders(events)
        written_ids = set(orders["order_id"])
        rid = tiny.retailer_ids[r]
        assert {f"{rid}-o{n:09d}" for n in events.order_no[idx]} <= written_ids
        # Caused journeys happen after the note that caused them was published.
        published = tiny_world.content.notes.published[events.cause_note[idx]]
        assert (events.ts[idx] > published).all()


def test_no_internal_truth_in_party_files(written) -> None:
    out = written("csv").out
    for path in list((out / "content").iterdir()) + list((out / "retailers").rglob("*.csv")):
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert "cause" not in header and "paid" not in header and "caused" not in header


def test_world_json_records_parameters_maps_and_rows(tiny_world, tiny, written) -> None:
    summary = written("jsonl")
    meta = json.loads((summary.out / "truth" / "world.json").read_text(encoding="utf-8"))
    assert meta["config"]["seed"] == tiny.seed
    assert meta["config"]["start_date"] == "2026-05-01"
    assert meta["timeline"]["start"] == "2026-05-01T00:00:00"
    assert meta["brand_category"] == {"B01": "skincare", "B02": "makeup", "B03": "baby_food"}
    for f in summary.files:
        assert meta["rows"][f.path] == f.rows
        path = summary.out / f.path
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines == f.rows + (1 if path.suffix == ".csv" else 0)
    notes = tiny_world.content.notes
    camps = tiny_world.content.campaigns
    for c, cid in enumerate(camps.campaign_ids):
        entry = meta["campaigns"][cid]
        assert entry["notes"] == [notes.note_ids[n] for n in np.flatnonzero(notes.campaign == c)]
        assert entry["test_users"] + entry["control_users"] == len(camps.users[c])
        assert entry["true_incremental_orders_test"] <= entry["caused_orders_all_exposures"]
    assert meta["totals"]["caused_orders"] == summary.caused_orders


def test_campaign_truth_is_the_paid_part_of_note_truth(tiny_world) -> None:
    content, commerce = tiny_world.content, tiny_world.commerce
    by_note = note_truth(content, commerce).orders.sum(axis=1)
    for c, t in enumerate(campaign_truth(content, commerce)):
        mine = np.flatnonzero(content.notes.campaign == c)
        assert sum(t.all_orders) == by_note[mine].sum()
        assert sum(t.test_orders) <= sum(t.all_orders)


def test_no_effect_no_caused_orders(tiny_world, tiny) -> None:
    assert sum(len(caused_orders(e)) for e in tiny_world.commerce) > 0
    world = build_world(replace(tiny, effect_scale=0.0))
    assert note_truth(world.content, world.commerce).orders.sum() == 0
    assert all(len(caused_orders(e)) == 0 for e in world.commerce)
    assert all((e.event == CE["order"]).sum() > 0 for e in world.commerce)  # baseline remains
    # Exposure does not depend on the effect: the content side is the same world.
    assert np.array_equal(world.content.events.ts, tiny_world.content.events.ts)


def test_holdout_difference_estimates_the_campaign_truth() -> None:
    # Randomization makes test − control brand orders per user an unbiased estimate of the
    # paid impressions' true effect; check it lands within 4 standard errors for each campaign.
    # Balanced arms, heavy boosting and strong effects give the check power in a small world.
    config = WorldConfig(
        users=60_000,
        days=20,
        brands=2,
        retailers=2,
        seed=3,
        effect_scale=10.0,
        control_share=(0.4, 0.5),
        behaviour=Behaviour(paid_daily_rate=(0.05, 0.1)),
    )
    world = build_world(config)
    tl = world.timeline
    truths = campaign_truth(world.content, world.commerce)
    camps = world.content.campaigns
    checked = powered = 0
    for c, t in enumerate(truths):
        counts = np.zeros(world.population.n)
        for r, events in enumerate(world.commerce):
            shop_brand = world.catalog.shops[r].shop_brand[np.maximum(events.shop, 0)]
            hit = (events.event == CE["order"]) & (events.ts >= tl.start)
            hit &= (events.shop >= 0) & (shop_brand == camps.brand[c])
            np.add.at(counts, events.user[hit], 1)
        y = counts[camps.users[c]]
        control = camps.control[c]
        diff = y[~control].mean() - y[control].mean()
        se = np.sqrt(y[~control].var() / (~control).sum() + y[control].var() / control.sum())
        true = sum(t.test_orders) / t.test_users
        assert abs(diff - true) < 4 * se, (t.campaign_id, diff, true, se)
        powered += true > 4 * se
        checked += 1
    assert checked >= 2 and powered >= 1  # the check could see a broken holdout


def test_more_effect_more_caused_orders(tiny) -> None:
    small = build_world(replace(tiny, effect_scale=1.0))
    large = build_world(replace(tiny, effect_scale=6.0))
    count = [sum(len(caused_orders(e)) for e in w.commerce) for w in (small, large)]
    assert count[1] > 2 * count[0]
