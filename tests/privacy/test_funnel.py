"""Cell-level thresholds on funnel tables (hand-computed) and on a simulated brand's notes."""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pandas as pd
import pytest

from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.funnel import brand_funnel
from redcat.privacy.funnel import threshold_funnel_table, withheld_cells
from redcat.privacy.thresholds import OTHER


def _notes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "impressions": [9000, 5000, 40],
            "matched_reach": [800, 600, 30],
            "visitors": [120, 40, 20],
            "buyers": [70, 60, 3],
            "orders": [80, 65, 3],
            "gmv": [8000.0, 6500.0, 300.0],
            "spend": [100.0, 0.0, 50.0],
            "visit_rate": [0.15, 0.0667, 0.6667],
            "roi": [80.0, None, 6.0],
        }
    )


def test_each_outcome_group_is_thresholded_on_its_own_people() -> None:
    out = threshold_funnel_table(_notes(), "note_id", 50)
    assert out["note_id"].tolist() == ["n1", "n2", "n3", OTHER]
    # Content figures stay (single owner); the other row has none.
    assert out["impressions"].tolist()[:3] == [9000, 5000, 40]
    assert math.isnan(out.loc[3, "impressions"])
    # matched_reach: n3 (30) is small, n2 (600) joins it; other = 630 people.
    assert out["suppressed_matched_reach"].tolist()[:3] == [False, True, True]
    assert out.loc[3, "matched_reach"] == 630
    # visitors: n2 (40) and n3 (20) small; the union is at least 40 < 50, so n1 joins too:
    # the whole column goes to the other row (180).
    assert out["suppressed_visitors"].tolist()[:3] == [True, True, True]
    assert out.loc[3, "visitors"] == 180
    # buyers, orders, GMV: n3 (3 buyers) with the smallest released note n2 (60).
    assert out["suppressed_buyers"].tolist()[:3] == [False, True, True]
    assert out.loc[0, "orders"] == 80 and math.isnan(out.loc[1, "gmv"])
    assert out.loc[3, "orders"] == 68 and out.loc[3, "gmv"] == 6800.0
    # Every outcome column adds up to its exact total.
    for col in ("matched_reach", "visitors", "buyers", "orders", "gmv"):
        assert out[col].sum() == pytest.approx(_notes()[col].sum())
    # Rates from released parts only.
    assert math.isnan(out.loc[0, "visit_rate"])  # visitors withheld
    assert out.loc[0, "roi"] == 80.0 and math.isnan(out.loc[2, "roi"])
    assert withheld_cells(out, "note_id") == 2 + 3 + 2


def test_nothing_small_adds_no_other_row() -> None:
    out = threshold_funnel_table(_notes(), "note_id", 3)
    assert len(out) == 3 and withheld_cells(out, "note_id") == 0
    with pytest.raises(ConfigError):
        threshold_funnel_table(_notes(), "creator_id", 3)


def test_simulated_notes_table(world_store: Path) -> None:
    with open_engine(world_store, read_only=True) as engine:
        notes = brand_funnel(engine, "B02").notes
        gc.collect()
    out = threshold_funnel_table(notes, "note_id", 50)
    for users in ("matched_reach", "back_search_users", "visitors", "buyers"):
        released = out.loc[~out[f"suppressed_{users}"].astype(bool), users].dropna()
        assert (released >= 50).all()
        assert out[users].sum() == pytest.approx(notes[users].sum()) or bool(
            out[f"suppressed_{users}"].iloc[-1]
        )
