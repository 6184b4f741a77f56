"""Differencing attacks against released tables, and why they fail to learn a suppressed cell.

The attacker is a brand. It sees only released figures: the notes table after the threshold
(suppressed rows withheld, the other row released), brand totals, and any other question it pays
for. Two classic attacks:

1. *Total minus the other rows.* Released total − every released note = the suppressed note?
   No: a lone small note is never alone in the other row. Complementary suppression puts the
   smallest released note with it, so the difference is the other row (n2 + n3 = 733 orders),
   and a world where n3 had 23 orders and n2 710 releases exactly the same figures.
2. *Two overlapping filters.* Brand orders in May, minus brand orders in May without the 20th
   (the only day note n3 sold): both totals pass the threshold, and exact totals would reveal
   n3's 7 orders. Released noisily, the difference is 7 + (noise₁ − noise₂) with each noise of
   scale 20 (sensitivity 5 orders per user, ε 0.25 per measure): its spread (sd ≈ 40) swamps 7.
   Asking the same question again returns the stored answer (no fresh noise to average), and
   fresh questions cost budget: when it runs out, the average of every affordable pair still
   misses by about 13 orders.

Noise is unseedable (OpenDP's CSPRNG): each claim is checked over many independent attacks with
tolerances about 4 standard errors wide or more.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from redcat.errors import PrivacyBudgetExceeded
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.release import Measure, ReleaseSpec, release_table
from redcat.privacy.thresholds import OTHER, released_total, suppress_small_cells
from redcat.settings import PrivacySettings

# --- attack 1: total minus the other rows -------------------------------------------------


def _notes(n2_orders: int, n3_orders: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "users": [900, 600, 30],
            "orders": [1200, n2_orders, n3_orders],
        }
    )


def _thresholded(frame: pd.DataFrame) -> pd.DataFrame:
    return suppress_small_cells(frame, keys=["note_id"], users="users", measures=["orders"], k=50)


def test_total_minus_released_rows_gives_the_other_row_not_the_cell() -> None:
    released = _thresholded(_notes(700, 33))
    total = released_total(released, "orders")  # what the brand's total shows: 1933
    assert total == 1933.0
    visible = released[~released["suppressed"] & ~released["is_other"]]
    guess = total - visible["orders"].sum()
    assert guess == 733.0  # n2 + n3: the other row, not n3's 33
    assert guess != 33.0
    assert released.loc[released["note_id"] == OTHER, "orders"].item() == 733.0


def test_different_suppressed_values_release_identical_tables() -> None:
    # n3 = 33 or n3 = 23 (n2 making up the difference): the brand sees the same table and total,
    # so nothing it can compute from them tells the two apart.
    world_a = _thresholded(_notes(700, 33))
    world_b = _thresholded(_notes(710, 23))
    pd.testing.assert_frame_equal(world_a, world_b)


# --- attack 2: two overlapping filters ------------------------------------------------------

CAP = 5  # events per user counted (max_events_per_cell); one cell per user in a brand total


def _orders_by_user() -> pd.DataFrame:
    """Brand B01's buyers in May: 400 people buying on days 1-19 (notes n1, n2), and note n3's
    6 buyers (7 orders) all on May 20th."""
    rng = np.random.default_rng(7)
    rows = [
        {"match_key": f"u{i}", "note_id": "n1" if i % 2 else "n2", "day": int(d), "orders": 1}
        for i, d in enumerate(rng.integers(1, 20, 400))
    ]
    rows += [
        {"match_key": f"s{i}", "note_id": "n3", "day": 20, "orders": 2 if i == 0 else 1}
        for i in range(6)
    ]
    return pd.DataFrame(rows)


@functools.cache
def _brand_total(days: range) -> pd.DataFrame:
    rows = _orders_by_user()
    rows = rows[rows["day"].isin(days)]
    per_user = rows.groupby("match_key")["orders"].sum().clip(upper=CAP)
    return pd.DataFrame(
        {"brand_id": ["B01"], "users": [len(per_user)], "orders": [int(per_user.sum())]}
    )


def _total_spec(days: range, label: str) -> ReleaseSpec:
    return ReleaseSpec(
        name="brand.orders",
        keys=("brand_id",),
        users="users",
        measures=(Measure("users", 1.0), Measure("orders", float(CAP))),
        owners=("content", "retailer:tmall"),
        epsilon=0.5,
        k=50,
        kind="kpi",
        params={"days": [days.start, days.stop - 1], "label": label},
    )


MAY = range(1, 32)
MAY_BUT_20TH = range(1, 20)
TRUE_N3_ORDERS = 7


def _orders(out: object) -> float:
    long = out.long  # type: ignore[attr-defined]
    return float(long.loc[long["measure"] == "orders", "released"].item())


def test_exact_totals_would_reveal_the_cell() -> None:
    # Why thresholds alone are not enough: both totals hold hundreds of people.
    whole, without = _brand_total(MAY), _brand_total(MAY_BUT_20TH)
    assert whole["users"].item() >= 50 and without["users"].item() >= 50
    assert whole["orders"].item() - without["orders"].item() == TRUE_N3_ORDERS


def _attack_once(ledger: BudgetLedger, label: str = "") -> float:
    a = release_table(_brand_total(MAY), _total_spec(MAY, label), "noisy", ledger, "B01")
    b = release_table(
        _brand_total(MAY_BUT_20TH), _total_spec(MAY_BUT_20TH, label), "noisy", ledger, "B01"
    )
    return _orders(a) - _orders(b)


def _rich_ledger() -> BudgetLedger:
    # Independent attacks: one ledger with budget for all of them, a new question each time.
    return BudgetLedger.in_memory(PrivacySettings(epsilon_per_period=1e6))


def test_noisy_totals_hide_the_cell() -> None:
    ledger = _rich_ledger()
    guesses = np.array([_attack_once(ledger, label=f"a{i}") for i in range(150)])
    errors = guesses - TRUE_N3_ORDERS
    # Difference of two discrete Laplace(20) draws: sd ≈ 40; |error| < 3.5 about 9% of the time.
    assert np.mean(np.abs(errors) < 3.5) < 0.2
    assert 25 < np.std(errors) < 60
    # Deciding "n3 sold something" vs "n3 sold nothing" from the difference is barely better
    # than a coin: compare with the same attack in a world where n3 sold nothing.
    null_world = _brand_total(MAY_BUT_20TH)
    null_guesses = np.array(
        [
            _orders(release_table(null_world, _total_spec(MAY, f"n{i}"), "noisy", ledger, "B01"))
            - _orders(
                release_table(
                    null_world, _total_spec(MAY_BUT_20TH, f"n{i}"), "noisy", ledger, "B01"
                )
            )
            for i in range(150)
        ]
    )
    accuracy = (np.mean(guesses > 3.5) + np.mean(null_guesses <= 3.5)) / 2
    assert accuracy < 0.68  # about 0.54 expected (standard error 0.03)


def test_asking_again_gives_no_fresh_noise() -> None:
    ledger = BudgetLedger.in_memory()
    first = _attack_once(ledger)
    spent = ledger.status("B01").spent
    repeats = [_attack_once(ledger) for _ in range(5)]
    assert repeats == [first] * 5  # the stored answers: averaging them learns nothing new
    assert ledger.status("B01").spent == spent == 1.0


def test_budget_stops_averaging_before_the_cell_is_learned() -> None:
    # The attacker rewords the question (a new label) to get fresh noise until refused:
    # 10 ε buys 10 pairs at 0.5 each, and their average still misses by ~13 orders (sd 40/√10).
    finals = []
    for _ in range(20):
        ledger = BudgetLedger.in_memory(PrivacySettings())
        pairs = []
        with pytest.raises(PrivacyBudgetExceeded):
            for i in range(100):
                pairs.append(_attack_once(ledger, label=f"try-{i}"))
        assert len(pairs) == 10
        finals.append(np.mean(pairs))
    rms = float(np.sqrt(np.mean((np.array(finals) - TRUE_N3_ORDERS) ** 2)))
    # Expected about 12.6; below 5 with 20 attacks happens with probability about 1e-5.
    assert rms > 5.0
