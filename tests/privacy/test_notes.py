"""Per-note buyers, orders and GMV: the unbounded figures are the funnel's; release is noisy."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pytest

from redcat.engine import open_engine
from redcat.funnel import brand_funnel
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.notes import (
    brand_totals,
    note_orders,
    release_brand_totals,
    release_note_orders,
    released_rates,
)
from redcat.settings import PrivacySettings, Settings


def test_raw_figures_equal_the_funnel(world_store: Path) -> None:
    settings = Settings()
    with open_engine(world_store, read_only=True) as engine:
        bounded, union_buyers = note_orders(engine, "B02", settings)
        funnel = brand_funnel(engine, "B02", settings.windows)
        merged = funnel.notes.merge(bounded.frame, on="note_id", how="outer")
        assert len(merged) == len(funnel.notes) == len(bounded.frame)
        assert (merged["raw_users"] == merged["buyers"]).all()
        assert (merged["raw_events"] == merged["orders"]).all()
        assert merged["raw_value"].to_numpy() == pytest.approx(merged["gmv"].to_numpy())
        # Bounds only ever lower a cell's figures.
        assert (bounded.frame["users"] <= bounded.frame["raw_users"]).all()
        assert (bounded.frame["events"] <= bounded.frame["raw_events"]).all()
        # Union of two notes' buyers: at least the larger note, at most their sum.
        two = bounded.frame.nlargest(2, "users")
        union = union_buyers(two)
        assert two["users"].max() <= union <= two["users"].sum()
        del funnel, union_buyers
        gc.collect()  # drop the funnel's cached tables while the store is open


def test_release_with_small_k_shows_noisy_figures(world_store: Path) -> None:
    settings = Settings(privacy=PrivacySettings(k=5))
    with open_engine(world_store, read_only=True) as engine:
        out = release_note_orders(engine, "B02", settings, BudgetLedger.in_memory())
    wide = out.wide()
    released = wide[~wide["suppressed"]]
    assert len(released) >= 1
    assert (released[["buyers", "orders", "gmv"]] >= 0).all().all()
    assert isinstance(out.long, pd.DataFrame) and (out.long["mode"] == "noisy").all()
    assert out.epsilon_spent == 1.0


def test_brand_totals_match_the_funnel_and_rates_come_from_released_parts(
    world_store: Path,
) -> None:
    settings = Settings(privacy=PrivacySettings(k=5))
    with open_engine(world_store, read_only=True) as engine:
        totals = brand_totals(engine, "B02", settings).iloc[0]
        funnel = brand_funnel(engine, "B02", settings.windows)
        kpis, stages = funnel.kpis, funnel.stages.set_index("stage")["users"]
        ledger = BudgetLedger.in_memory(settings.privacy)
        out = release_brand_totals(engine, "B02", settings, ledger)
        del funnel
        gc.collect()
    assert totals["matched_reach"] == kpis["matched_reach"]
    assert totals["buyers"] == stages["order"]
    assert totals["raw_orders"] == kpis["orders"]
    assert totals["raw_gmv"] == pytest.approx(kpis["gmv"])
    assert totals["orders"] <= totals["raw_orders"]
    assert out.spec.kind == "kpi" and out.epsilon_spent == 0.5
    assert ledger.status("B02").spent == 0.5
    long = out.long.set_index("measure")
    rates = released_rates(out).set_index("rate")
    expected = min(
        max(long.loc["buyers", "released"] / long.loc["matched_reach", "released"], 0), 1
    )
    assert rates.loc["purchase_rate", "released"] == pytest.approx(expected)
    assert 0.0 <= rates.loc["purchase_rate", "released"] <= 1.0
    assert rates.loc["purchase_rate", "exact"] == pytest.approx(
        totals["buyers"] / totals["matched_reach"]
    )
