"""Campaign lift beyond the ITT table: exposure-adjusted lift, bootstrap intervals and the
breakdowns by retailer, note type and creator, on the hand-built store of test_campaign (every
figure by hand) and on a small simulated world (additivity), and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from tests.lift.test_campaign import CONTROL_GMV, CONTROL_ORDERS, TEST_GMV, TEST_ORDERS, hand_store

from redcat.cli.main import main
from redcat.engine import Engine, open_engine
from redcat.ingest.load import ingest_party
from redcat.lift import stats
from redcat.lift.campaign import (
    BOOTSTRAP_COLUMNS,
    COLUMNS,
    GROUP_COLUMNS,
    RETAILER_COLUMNS,
    campaign_lift,
    campaign_lift_by,
)
from redcat.match import run_direct_match
from redcat.simulate import WorldConfig, simulate_world

Z = float(sps.norm.ppf(0.975))


def t4_unreached(path: Path) -> Engine:
    """The hand store with t4's impression gone: t4 stays a matched holdout user (it is on the
    content party's randomized list and on the retailer) but the campaign did not reach it."""
    engine = hand_store(path)
    engine.duck.execute("DELETE FROM content_events WHERE user_key = 't4'")
    run_direct_match(engine.duck, "salt")
    return engine


def test_exposure_adjusted_by_hand(tmp_path: Path) -> None:
    # Reached test users t1, t2, t3 (t4 unreached) → r = 3/4; orders [2, 1, 0, 0] vs [1, 0, 0]:
    # θ = (3/4 − 1/3)/(3/4) = 5/9, Var 376/729 (see test_stats); GMV [40, 20, 0, 0] vs
    # [10, 0, 0]: θ = (15 − 10/3)/(3/4) = 140/9, Var 102400/729 (by the same formula).
    engine = t4_unreached(tmp_path / "s.duckdb")
    try:
        r = campaign_lift(engine, "B1", window_days=2).iloc[0]
    finally:
        engine.close()
    assert (r.n_test, r.n_control) == (4, 3)  # t4 kept although it saw nothing
    assert (r.reached_test, r.reach_test, r.reach_control) == (3, 0.75, 1.0)
    assert r.exposed_lift_orders == pytest.approx(5 / 9)
    se = math.sqrt(376 / 729)
    assert (r.exposed_lift_orders_low, r.exposed_lift_orders_high) == pytest.approx(
        (5 / 9 - Z * se, 5 / 9 + Z * se)
    )
    se_g = 320 / 27
    assert r.exposed_lift_gmv == pytest.approx(140 / 9)
    assert r.exposed_lift_gmv_high == pytest.approx(140 / 9 + Z * se_g)


def test_reach_counts_only_the_spend_days(tmp_path: Path) -> None:
    # an impression after the last spend day (05-03) does not count as reached
    engine = hand_store(tmp_path / "s.duckdb")
    try:
        engine.duck.execute(
            "UPDATE content_events SET ts = TIMESTAMP '2026-05-04 00:00' WHERE user_key = 't1'"
        )
        run_direct_match(engine.duck, "salt")
        r = campaign_lift(engine, "B1", window_days=2).iloc[0]
    finally:
        engine.close()
    assert (r.reached_test, r.reach_test) == (3, 0.75)


def test_bootstrap_columns_match_the_estimator(tmp_path: Path) -> None:
    engine = hand_store(tmp_path / "s.duckdb")
    try:
        a = campaign_lift(engine, "B1", window_days=2, bootstrap=400, seed=7)
        b = campaign_lift(engine, "B1", window_days=2, bootstrap=400, seed=7)
        plain = campaign_lift(engine, "B1", window_days=2)
    finally:
        engine.close()
    assert list(a.columns) == [*COLUMNS, *BOOTSTRAP_COLUMNS]
    assert list(plain.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(a, b)  # seeded: bit for bit
    r = a.iloc[0]
    # each arm's users in ascending (orders, GMV) order, as campaign_lift resamples them
    ref_o = stats.bootstrap_lift(sorted(TEST_ORDERS), sorted(CONTROL_ORDERS), resamples=400, seed=7)
    ref_g = stats.bootstrap_lift(sorted(TEST_GMV), sorted(CONTROL_GMV), resamples=400, seed=7)
    assert r.incremental_orders_boot_low == pytest.approx(4 * ref_o.abs_low)
    assert r.incremental_orders_boot_high == pytest.approx(4 * ref_o.abs_high)
    assert r.incremental_gmv_boot_high == pytest.approx(4 * ref_g.abs_high)
    assert r.iroas_boot_low == pytest.approx(4 * ref_g.abs_low / 100)


def test_breakdowns_on_the_hand_store(tmp_path: Path) -> None:
    engine = hand_store(tmp_path / "s.duckdb")
    try:
        whole = campaign_lift(engine, "B1", window_days=2).iloc[0]
        by_ret = campaign_lift_by(engine, "B1", "retailer", window_days=2)
        by_type = campaign_lift_by(engine, "B1", "note_type", window_days=2)
        by_creator = campaign_lift_by(engine, "B1", "creator", window_days=2)
        with pytest.raises(ValueError):
            campaign_lift_by(engine, "B1", "shop", window_days=2)
    finally:
        engine.close()
    # one retailer: its row is the campaign's
    assert list(by_ret.columns) == list(RETAILER_COLUMNS)
    assert by_ret[["campaign_id", "retailer_id"]].values.tolist() == [["C1", "tmall"]]
    for col in ("n_test", "orders_test", "incremental_orders", "incremental_orders_low", "iroas"):
        assert by_ret.iloc[0][col] == pytest.approx(whole[col])
    # C1's only note n1 is an ad by k1: one group, the campaign, with a normal interval
    assert list(by_type.columns) == ["note_type", *GROUP_COLUMNS]
    assert list(by_creator.columns) == ["creator_id", *GROUP_COLUMNS]
    g = by_type.iloc[0]
    assert (g.note_type, g.campaigns, by_creator.iloc[0].creator_id) == ("ad", "C1", "k1")
    se = whole.incremental_orders_se
    assert se == pytest.approx(
        4 * math.sqrt(np.var(TEST_ORDERS, ddof=1) / 4 + np.var(CONTROL_ORDERS, ddof=1) / 3)
    )
    assert g.incremental_orders == pytest.approx(whole.incremental_orders)
    assert (g.incremental_orders_low, g.incremental_orders_high) == pytest.approx(
        (whole.incremental_orders - Z * se, whole.incremental_orders + Z * se)
    )
    assert g.p_value_orders == pytest.approx(2 * sps.norm.sf(whole.incremental_orders / se))
    assert g.iroas == pytest.approx(whole.iroas)


@pytest.fixture(scope="module")
def sim_engine(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("sim")
    simulate_world(WorldConfig(users=20_000, seed=1), tmp / "w", "parquet")
    engine = open_engine(tmp / "s.duckdb")
    ingest_party(engine.duck, "content", tmp / "w" / "content")
    for r in sorted((tmp / "w" / "retailers").iterdir()):
        ingest_party(engine.duck, "retailer", r, r.name)
    run_direct_match(engine.duck, "salt")
    yield engine
    engine.close()


def test_breakdowns_add_up_on_a_simulated_world(sim_engine: Engine) -> None:
    whole = campaign_lift(sim_engine, "B01", window_days=30).set_index("campaign_id")
    by_ret = campaign_lift_by(sim_engine, "B01", "retailer", window_days=30)
    assert set(by_ret["retailer_id"]) == {"jd", "tmall"}
    sums = by_ret.groupby("campaign_id")[["orders_test", "incremental_orders", "incremental_gmv"]]
    pd.testing.assert_frame_equal(
        sums.sum(),
        whole[["orders_test", "incremental_orders", "incremental_gmv"]],
        check_dtype=False,
        check_names=False,
    )
    for by in ("note_type", "creator"):
        groups = campaign_lift_by(sim_engine, "B01", by, window_days=30)
        listed = sorted(c for cs in groups["campaigns"] for c in cs.split(","))
        assert listed == sorted(whole.index)  # every campaign in exactly one group
        assert groups["incremental_orders"].sum() == pytest.approx(
            whole["incremental_orders"].sum()
        )
    assert ((whole["reach_test"] > whole["reach_control"]) & (whole["reach_test"] <= 1)).all()


def test_cli_campaigns_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = t4_unreached(tmp_path / "s.duckdb")
    engine.close()
    store = str(tmp_path / "s.duckdb")
    base = ["lift", "campaigns", "--brand", "B1", "--days", "2", "--store", store]
    assert main([*base, "--format", "json", "--bootstrap", "200", "--seed", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["reached_test"] == 3
    assert "incremental_orders_boot_low" in rows[0]
    assert main([*base, "--exposure-adjusted"]) == 0
    out = capsys.readouterr().out
    assert "75.0%" in out and "C1" in out
    assert main([*base, "--by", "retailer", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("campaign_id,retailer_id,")
    assert main([*base, "--by", "note_type"]) == 0
    assert "ad" in capsys.readouterr().out
    assert main([*base, "--by", "creator", "--bootstrap", "10"]) == 2  # not with --by
