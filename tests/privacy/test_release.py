"""release_table: modes, thresholds + noise + ledger together, cached answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import AccessDenied, ConfigError, PrivacyBudgetExceeded
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.release import (
    LONG_COLUMNS,
    OTHER,
    Measure,
    ReleaseSpec,
    release_table,
)
from redcat.settings import PrivacySettings

OWNERS = ("content", "retailer:tmall")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3", "n4"],
            "users": [900, 600, 30, 25],
            "orders": [1200, 700, 33, 30],
            "gmv": [240_000.0, 150_000.0, 6_000.0, 5_000.0],
        }
    )


def _spec(epsilon: float = 1.0, owners: tuple[str, ...] = OWNERS) -> ReleaseSpec:
    return ReleaseSpec(
        name="notes.orders",
        keys=("note_id",),
        users="users",
        measures=(
            Measure("users", 10.0),
            Measure("orders", 50.0),
            Measure("gmv", 20_000.0, integer=False),
        ),
        owners=owners,
        epsilon=epsilon,
        k=50,
        params={"brand": "B01", "period": "2026-05"},
    )


def test_exact_mode_only_for_the_single_owner() -> None:
    spec = _spec(owners=("content",))
    out = release_table(_frame(), spec, "exact", None, "B01", requester="content")
    assert list(out.long.columns) == ["note_id", *LONG_COLUMNS]
    assert (out.long["mode"] == "exact").all()
    assert (out.long["released"] == out.long["value"]).all()
    assert not out.long["suppressed"].any()  # the owner holds these rows anyway
    assert out.epsilon_spent == 0.0
    with pytest.raises(AccessDenied, match="single owner"):
        release_table(_frame(), spec, "exact", None, "B01")  # the brand asks
    with pytest.raises(AccessDenied):
        release_table(_frame(), _spec(), "exact", None, "B01", requester="content")
    with pytest.raises(ConfigError):
        release_table(_frame(), spec, "fuzzy", None, "B01")


def test_noisy_release_thresholds_noises_and_spends() -> None:
    ledger = BudgetLedger.in_memory(PrivacySettings(epsilon_per_period=2.0))
    # n3 and n4 share no buyer: their other row holds 55 people.
    out = release_table(
        _frame(), _spec(), "noisy", ledger, "B01", union_users=lambda rows: int(rows.users.sum())
    )
    wide = out.wide()
    assert wide["note_id"].tolist() == ["n1", "n2", "n3", "n4", OTHER]
    assert wide["suppressed"].tolist() == [False, False, True, True, False]
    assert wide.loc[2:3, ["users", "orders", "gmv"]].isna().all().all()
    long = out.long
    assert (long["mode"] == "noisy").all()
    other = long[long["is_other"]].set_index("measure")
    assert other.loc["orders", "value"] == 63.0  # exact sum of n3 + n4
    # ε = 1 split over 3 measures: scale = sensitivity × 3.
    scales = long.dropna(subset=["scale"]).groupby("measure")["scale"].first()
    assert scales["orders"] == pytest.approx(150.0)
    assert scales["gmv"] == pytest.approx(60_000.0)
    bounds = out.error_bounds()
    assert bounds["gmv"] == pytest.approx(60_000.0 * math.log(20))
    released = long[~long["suppressed"]]
    assert (released["released"] >= 0).all()
    assert (released.loc[released["measure"] != "gmv", "released"] % 1 == 0).all()
    assert out.epsilon_spent == 1.0 and not out.cached
    assert ledger.status("B01").spent == 1.0
    assert "value" not in out.public().columns


def test_same_question_same_answer_no_spend() -> None:
    ledger = BudgetLedger.in_memory(PrivacySettings(epsilon_per_period=1.0))
    first = release_table(_frame(), _spec(), "noisy", ledger, "B01")
    again = release_table(_frame(), _spec(), "noisy", ledger, "B01")
    assert again.cached and again.epsilon_spent == 0.0
    pd.testing.assert_series_equal(first.long["released"], again.long["released"])
    # Another question (another period parameter) is new and the budget is gone.
    other = ReleaseSpec(**{**_spec().__dict__, "params": {"brand": "B01", "period": "2026-06"}})
    with pytest.raises(PrivacyBudgetExceeded):
        release_table(_frame(), other, "noisy", ledger, "B01")
    # Another brand asking the same question pays its own budget and gets fresh noise.
    b02 = release_table(_frame(), _spec(), "noisy", ledger, "B02")
    assert not b02.cached


def test_released_values_center_on_exact_values() -> None:
    # 60 independent releases (fresh ledgers): noise averages out around the exact value and
    # stays within its 95% bound about 95% of the time (tolerances: > 5 standard errors).
    errors: list[float] = []
    inside: list[bool] = []
    for _ in range(60):
        ledger = BudgetLedger.in_memory()
        long = release_table(_frame(), _spec(epsilon=1.0), "noisy", ledger, "B01").long
        row = long[(long["note_id"] == "n1") & (long["measure"] == "orders")].iloc[0]
        errors.append(row["released"] - row["value"])
        inside.append(abs(row["released"] - row["value"]) <= row["error_bound"])
    # Laplace scale 150: sd 212, standard error of a 60-mean 27.
    assert abs(np.mean(errors)) < 150
    assert np.mean(inside) > 0.8


def test_missing_columns_and_no_ledger() -> None:
    with pytest.raises(ConfigError, match="gmv"):
        release_table(_frame().drop(columns="gmv"), _spec(), "noisy", None, "B01")
    with pytest.raises(ConfigError, match="ledger"):
        release_table(_frame(), _spec(), "noisy", None, "B01")


@settings(max_examples=30, deadline=None)
@given(
    cells=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 600)), min_size=1, max_size=8),
    k=st.integers(1, 100),
)
def test_release_invariants(cells: list[tuple[int, int]], k: int) -> None:
    frame = pd.DataFrame(
        {
            "note_id": [f"n{i}" for i in range(len(cells))],
            "users": [u for u, _ in cells],
            "orders": [o for _, o in cells],
        }
    )
    spec = ReleaseSpec(
        name="p",
        keys=("note_id",),
        users="users",
        measures=(Measure("users", 2.0), Measure("orders", 6.0)),
        owners=OWNERS,
        epsilon=1.0,
        k=k,
    )
    ledger = BudgetLedger.in_memory(PrivacySettings(epsilon_per_period=5.0))
    out = release_table(frame, spec, "noisy", ledger, "B01")
    long = out.long
    assert out.epsilon_spent == 1.0 and ledger.status("B01").spent == 1.0
    released = long[~long["suppressed"]]
    hidden = long[long["suppressed"]]
    assert released["released"].notna().all() and hidden["released"].isna().all()
    assert (released["released"] >= 0).all() and (released["released"] % 1 == 0).all()
    # Every released row holds at least k people; the exact users of a released row say so.
    users = released[released["measure"] == "users"]
    assert (users["value"] >= k).all()
    lone = long[(long["measure"] == "users") & long["suppressed"] & ~long["is_other"]]
    assert len(lone) != 1 or len(frame) == 1
    # Scale is sensitivity / (ε / measures).
    scales = released.groupby("measure")["scale"].first().to_dict()
    assert all(scales[m] == {"users": 4.0, "orders": 12.0}[m] for m in scales)
