"""Lift-calibrated attribution: hand-computed scaling, clipping, spreading and pooling, and the
invariants (campaign sums equal the targets; within-campaign proportions kept) on random input."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from redcat.attribution.calibrate import (
    COLUMNS,
    calibrate_credits,
    calibration_scores,
    campaign_targets,
    per_note,
    shrink_per_spend,
)
from redcat.engine import Engine, open_engine
from redcat.errors import AttributionError

Z = float(norm.ppf(0.975))

# n1: C1 only (spend 100); n2: C1 60 + C2 40; n5: C1 40 and never credited; n4: C3 (no
# holdout); n3: unboosted.
SPEND = pd.DataFrame(
    {
        "note_id": ["n1", "n2", "n2", "n4", "n5"],
        "campaign_id": ["C1", "C1", "C2", "C3", "C1"],
        "amount": [100.0, 60.0, 40.0, 10.0, 40.0],
    }
)
# Model a credits n1 3, n2 5 (→ C1 3, C2 2), n3 1, n4 2; model b credits only n3.
CREDITS = pd.DataFrame(
    {
        "model": ["a", "a", "a", "a", "b"],
        "note_id": ["n1", "n2", "n3", "n4", "n3"],
        "conversions": [3.0, 5.0, 1.0, 2.0, 4.0],
    }
)


def lift_rows(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "campaign_id",
            "incremental_orders",
            "incremental_orders_low",
            "incremental_orders_high",
            "spend",
        ],
    )


# C1 measured 9 [−2, 18]; C2 measured −3 [−8, 2].
LIFT = lift_rows([("C1", 9.0, -2.0, 18.0, 200.0), ("C2", -3.0, -8.0, 2.0, 40.0)])


def row(frame: pd.DataFrame, model: str, note: str, campaign: str | None) -> pd.Series:
    sel = (frame["model"] == model) & (frame["note_id"] == note)
    sel &= frame["campaign_id"].isna() if campaign is None else frame["campaign_id"] == campaign
    assert sel.sum() == 1
    return frame[sel].iloc[0]


def test_targets_clip_negative_estimates_and_bounds() -> None:
    t = campaign_targets(LIFT)
    assert t["campaign_id"].tolist() == ["C1", "C2"]
    assert t["target"].tolist() == [9.0, 0.0]
    assert t["target_low"].tolist() == [0.0, 0.0]
    assert t["target_high"].tolist() == [18.0, 2.0]
    assert t["clipped"].tolist() == [False, True]
    assert t["measured"].tolist() == [9.0, -3.0]


def test_calibration_by_hand() -> None:
    out = calibrate_credits(CREDITS, SPEND, campaign_targets(LIFT))
    assert list(out.columns) == list(COLUMNS)
    # model a, C1: raw n1 3 + n2 0.6 × 5 = 3 + n5 0 → 6; target 9 → factor 1.5
    r = row(out, "a", "n1", "C1")
    assert (r.raw_conversions, r.calibrated_conversions, r.factor) == (3.0, 4.5, 1.5)
    assert (r.calibrated_low, r.calibrated_high, r.status) == (0.0, 9.0, "calibrated")
    r = row(out, "a", "n2", "C1")
    assert (r.raw_conversions, r.calibrated_conversions) == pytest.approx((3.0, 4.5))
    r = row(out, "a", "n5", "C1")
    assert (r.raw_conversions, r.calibrated_conversions) == (0.0, 0.0)
    # C2 measured −3: clipped to 0; its upper bound 2 is all n2's part
    r = row(out, "a", "n2", "C2")
    assert (r.raw_conversions, r.calibrated_conversions, r.factor) == pytest.approx((2.0, 0.0, 0.0))
    assert (r.calibrated_high, r.status) == (pytest.approx(2.0), "clipped")
    # outside any holdout: raw, no interval
    for note, campaign, raw in (("n3", None, 1.0), ("n4", "C3", 2.0)):
        r = row(out, "a", note, campaign)
        assert (r.raw_conversions, r.calibrated_conversions, r.status) == (
            raw,
            raw,
            "uncalibrated",
        )
        assert math.isnan(r.factor) and math.isnan(r.calibrated_low)
    # model b credited nothing in C1: its 9 orders spread by C1 spend 100 : 60 : 40
    spread = [row(out, "b", n, "C1") for n in ("n1", "n2", "n5")]
    assert [r.calibrated_conversions for r in spread] == pytest.approx([4.5, 2.7, 1.8])
    assert [r.calibrated_high for r in spread] == pytest.approx([9.0, 5.4, 3.6])
    assert {r.status for r in spread} == {"spread"}
    assert all(math.isnan(r.factor) for r in spread)
    assert row(out, "b", "n3", None).calibrated_conversions == 4.0


def test_brand_factor_for_notes_without_a_holdout() -> None:
    out = calibrate_credits(CREDITS, SPEND, campaign_targets(LIFT), uncalibrated="brand")
    # model a: targets 9 + 0 over raw 6 + 2 → 9/8 (bounds 0/8 and 20/8)
    r = row(out, "a", "n4", "C3")
    assert (r.calibrated_conversions, r.factor, r.status) == (2.25, 1.125, "brand_factor")
    assert (r.calibrated_low, r.calibrated_high) == (0.0, 5.0)
    assert row(out, "a", "n3", None).calibrated_conversions == 1.125
    # model b credited no holdout campaign: nothing to pool, stays raw
    assert row(out, "b", "n3", None).status == "uncalibrated"


def test_unknown_modes_raise() -> None:
    with pytest.raises(AttributionError):
        calibrate_credits(CREDITS, SPEND, campaign_targets(LIFT), uncalibrated="x")
    with pytest.raises(AttributionError):
        campaign_targets(LIFT, pooling="x")


def test_shrinkage_by_hand() -> None:
    # rates 1 and 3 per unit spend, se 1 each: μ = 2, Q = 2, τ² = (2 − 1) / (2 − 1) = 1;
    # posterior means (θ + 2) / 2 = 1.5 and 2.5, posterior variance 1/2.
    est, low, high = (
        np.array([1.0, 3.0]),
        np.array([1.0 - Z, 3.0 - Z]),
        np.array([1.0 + Z, 3.0 + Z]),
    )
    e, lo, hi = shrink_per_spend(est, low, high, np.array([1.0, 1.0]))
    assert e.tolist() == pytest.approx([1.5, 2.5])
    assert (hi - e).tolist() == pytest.approx([Z * math.sqrt(0.5)] * 2)
    assert (e - lo).tolist() == pytest.approx([Z * math.sqrt(0.5)] * 2)
    # with spend 10 and 20 the same rates are estimates 10 and 60 (se 10 and 20)
    e2, _, _ = shrink_per_spend(
        np.array([10.0, 60.0]),
        np.array([10.0 - 10 * Z, 60.0 - 20 * Z]),
        np.array([10.0 + 10 * Z, 60.0 + 20 * Z]),
        np.array([10.0, 20.0]),
    )
    assert e2.tolist() == pytest.approx([15.0, 50.0])


def test_shrinkage_pools_fully_when_campaigns_agree() -> None:
    # rates 1.0 and 1.2 with se 1: Q = 0.02 < k − 1, so τ² = 0 and both take μ = 1.1
    est = np.array([1.0, 1.2])
    e, _, hi = shrink_per_spend(est, est - Z, est + Z, np.array([1.0, 1.0]))
    assert e.tolist() == pytest.approx([1.1, 1.1])
    assert (hi - e).tolist() == pytest.approx([Z * math.sqrt(0.5)] * 2)
    # a campaign without spend or interval keeps its own figures and does not inform μ
    e3, lo3, _ = shrink_per_spend(
        np.array([1.0, 1.2, 7.0]),
        np.array([1.0 - Z, 1.2 - Z, np.nan]),
        np.array([1.0 + Z, 1.2 + Z, np.nan]),
        np.array([1.0, 1.0, 0.0]),
    )
    assert e3.tolist() == pytest.approx([1.1, 1.1, 7.0])
    assert math.isnan(lo3[2])


def test_pooled_targets_go_through_campaign_targets() -> None:
    lift = lift_rows([("C1", 1.0, 1.0 - Z, 1.0 + Z, 1.0), ("C2", -3.0, -3.0 - Z, -3.0 + Z, 1.0)])
    t = campaign_targets(lift, pooling="spend")
    # μ = −1, Q = 8, τ² = 7: posterior means (θ/1 − 1/7) / (8/7) = 0.75 and −2.75 → clipped
    assert t["target"].tolist() == pytest.approx([0.75, 0.0])
    assert t["clipped"].tolist() == [False, True]
    assert t["measured"].tolist() == [1.0, -3.0]


def test_scores_by_hand() -> None:
    out = calibrate_credits(CREDITS, SPEND, campaign_targets(LIFT))
    truth = pd.Series({"n1": 4.0, "n2": 4.0, "n3": 1.0, "n4": 1.0})
    s = calibration_scores(out, truth).set_index("model")
    # a raw: n1 3, n2 5, n3 1, n4 2 → |1| + |1| + 0 + |1| = 3 over 10
    # a calibrated: n1 4.5, n2 4.5, n3 1, n4 2 → 0.5 + 0.5 + 0 + 1 = 2 over 10
    assert (s.loc["a", "raw_wape"], s.loc["a", "calibrated_wape"]) == pytest.approx((0.3, 0.2))
    assert (s.loc["a", "raw_orders"], s.loc["a", "calibrated_orders"]) == (11.0, 12.0)
    assert math.isnan(float(calibration_scores(out, None)["raw_wape"].iloc[0]))
    assert per_note(out).query("model == 'b' and note_id == 'n2'")[
        "calibrated_conversions"
    ].item() == pytest.approx(2.7)


NOTES = [f"n{i}" for i in range(6)]
CAMPAIGNS = ["C0", "C1", "C2"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    spend_rows = []
    for note in NOTES:
        for cid in draw(st.lists(st.sampled_from(CAMPAIGNS), unique=True, max_size=2)):
            spend_rows.append((note, cid, draw(st.just(0.0) | st.floats(0.01, 100.0))))
    spend = pd.DataFrame(spend_rows, columns=["note_id", "campaign_id", "amount"])
    credit_rows = []
    for model in ("m1", "m2"):
        for note in draw(st.lists(st.sampled_from(NOTES), unique=True)):
            credit_rows.append(
                (model, note, draw(st.sampled_from([0.0, 0.5]) | st.floats(0.01, 50.0)))
            )
    credits = pd.DataFrame(credit_rows, columns=["model", "note_id", "conversions"])
    lift_list = []
    for cid in draw(st.lists(st.sampled_from(CAMPAIGNS), unique=True)):
        est = draw(st.floats(-20.0, 80.0))
        half = draw(st.floats(0.0, 40.0))
        amount = draw(st.just(0.0) | st.floats(1.0, 500.0))
        lift_list.append((cid, est, est - half, est + half, amount))
    return credits, spend, lift_rows(lift_list)


@given(worlds(), st.sampled_from(["none", "spend"]))
@settings(max_examples=60, deadline=None)
def test_invariants(world: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], pooling: str) -> None:
    credits, spend, lift = world
    targets = campaign_targets(lift, pooling=pooling)
    out = calibrate_credits(credits, spend, targets)
    if credits.empty:
        assert out.empty
        return
    # every credited order is in exactly one part
    raw = out.groupby(["model", "note_id"])["raw_conversions"].sum()
    given_ = credits.set_index(["model", "note_id"])["conversions"]
    assert raw.reindex(given_.index).to_numpy() == pytest.approx(given_.to_numpy())
    tgt = targets.set_index("campaign_id")
    boosted_notes = set(spend["note_id"])
    for model in credits["model"].unique():
        mine = out[out["model"] == model]
        for cid, part in mine.groupby("campaign_id"):
            if cid not in tgt.index:
                assert (part["status"] == "uncalibrated").all()
                assert part["calibrated_conversions"].tolist() == part["raw_conversions"].tolist()
                continue
            # campaign sum = target (clipped ≥ 0), bounds likewise
            assert part["calibrated_conversions"].sum() == pytest.approx(tgt.loc[cid, "target"])
            assert part["calibrated_high"].sum() == pytest.approx(tgt.loc[cid, "target_high"])
            assert (part["calibrated_conversions"] >= 0).all()
            credited = part[part["raw_conversions"] > 0]
            if len(credited):
                ratio = credited["calibrated_conversions"] / credited["raw_conversions"]
                assert ratio.to_numpy() == pytest.approx(np.full(len(ratio), ratio.iloc[0]))
                assert (part["raw_conversions"] == 0).sum() == 0 or (
                    part.loc[part["raw_conversions"] == 0, "calibrated_conversions"] == 0
                ).all()
            lo, hi = tgt.loc[cid, "target_low"], tgt.loc[cid, "target_high"]
            if lo <= tgt.loc[cid, "target"] <= hi:
                assert (part["calibrated_low"] <= part["calibrated_conversions"] + 1e-9).all()
                assert (part["calibrated_conversions"] <= part["calibrated_high"] + 1e-9).all()
        # unboosted notes keep their credit
        plain = mine[mine["campaign_id"].isna()]
        assert set(plain["note_id"]).isdisjoint(boosted_notes)
        assert (plain["calibrated_conversions"] == plain["raw_conversions"]).all()


@pytest.fixture(scope="module")
def simulated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, dict[str, Any], pd.DataFrame]]:
    """A 20k-user world (seed 4, 1 note per brand per day) ingested and matched."""
    import json

    from redcat.ingest.load import ingest_party
    from redcat.match import run_direct_match
    from redcat.simulate import WorldConfig, simulate_world

    root = tmp_path_factory.mktemp("calibrate")
    world = root / "w"
    simulate_world(WorldConfig(users=20_000, seed=4, notes_per_brand_per_day=1.0), world, "parquet")
    engine = open_engine(root / "s.duckdb")
    ingest_party(engine.duck, "content", world / "content")
    for r in sorted((world / "retailers").iterdir()):
        ingest_party(engine.duck, "retailer", r, r.name)
    run_direct_match(engine.duck, "salt")
    truth = json.loads((world / "truth" / "world.json").read_text())
    notes = pd.read_csv(world / "truth" / "note_truth.csv", dtype={"note_id": "string"})
    yield engine, truth, notes
    engine.close()


def test_simulated_world(simulated: tuple[Engine, dict[str, Any], pd.DataFrame]) -> None:
    from redcat.attribution.calibrate import calibrate_brand, model_credits
    from redcat.attribution.pipeline import journey_rows, journey_table
    from redcat.settings import Settings

    engine, world, note_truth = simulated
    s = Settings()
    truth = note_truth.groupby("note_id")["true_incremental_orders"].sum()
    errors = {"none": 0.0, "spend": 0.0}
    true_total = 0.0
    parts = []
    for brand in sorted(world["brand_category"]):
        credits, _ = model_credits(
            journey_table(journey_rows(engine, brand, s.windows)), ("last", "linear"), s.attribution
        )
        for pooling in ("none", "spend"):
            cal = calibrate_brand(engine, brand, credits, s, pooling=pooling)
            tgt = cal.targets.set_index("campaign_id")
            assert len(tgt) > 0
            for (_model, cid), part in cal.credits.dropna(subset=["campaign_id"]).groupby(
                ["model", "campaign_id"]
            ):
                if cid in tgt.index:
                    assert part["calibrated_conversions"].sum() == pytest.approx(
                        tgt.loc[cid, "target"]
                    )
            for cid, t in tgt["target"].items():
                true = world["campaigns"][cid]["true_incremental_orders_test"]
                errors[pooling] += abs(t - true)
                true_total += true if pooling == "none" else 0
            if pooling == "none":
                parts.append(cal.credits)
                raw = cal.credits.groupby(["model", "note_id"])["raw_conversions"].sum()
                given_ = credits.set_index(["model", "note_id"])["conversions"]
                assert raw.reindex(given_.index).to_numpy() == pytest.approx(given_.to_numpy())
    # Measured: campaign targets' WAPE against the true paid-incremental orders is 0.869 for
    # each campaign's own holdout and 0.615 pooled per spend (random effects).
    assert errors["spend"] / true_total < errors["none"] / true_total
    assert errors["spend"] / true_total == pytest.approx(0.615, abs=0.01)
    scores = calibration_scores(pd.concat(parts), truth)
    assert scores["model"].tolist() == ["last", "linear"]
    assert np.isfinite(scores[["raw_wape", "calibrated_wape"]].to_numpy()).all()


def test_pooling_uses_the_lifts_standard_errors() -> None:
    # Same figures as test_pooled_targets_go_through_campaign_targets, but the intervals are
    # wide (half-width 10) while the lift's own standard errors are 1: the SEs decide.
    lift = lift_rows([("C1", 1.0, -9.0, 11.0, 1.0), ("C2", -3.0, -13.0, 7.0, 1.0)])
    lift["incremental_orders_se"] = [1.0, 1.0]
    t = campaign_targets(lift, pooling="spend")
    assert t["target"].tolist() == pytest.approx([0.75, 0.0])
