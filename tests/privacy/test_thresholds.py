"""Aggregation thresholds: suppression, the other row, complementary suppression (hand-computed)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import ConfigError
from redcat.privacy.thresholds import (
    OTHER,
    below_k_label,
    released_total,
    strictest_k,
    suppress_small_cells,
)


def _notes(users: list[int], orders: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note_id": [f"n{i}" for i in range(len(users))],
            "users": users,
            "orders": orders,
        }
    )


def test_strictest_threshold_applies() -> None:
    assert strictest_k(50, 100, None) == 100
    assert strictest_k(None, 20) == 20
    with pytest.raises(ConfigError):
        strictest_k(None)
    with pytest.raises(ConfigError):
        strictest_k(50, 0)
    assert below_k_label(50) == "<50"


def test_nothing_small_nothing_suppressed() -> None:
    out = suppress_small_cells(
        _notes([60, 70], [5, 6]), keys=["note_id"], users="users", measures=["orders"], k=50
    )
    assert len(out) == 2
    assert not out["suppressed"].any()
    assert out["orders"].tolist() == [5.0, 6.0]


def test_two_small_rows_become_one_other_row() -> None:
    # n2 (30 users, 7 orders) and n3 (20, 4) are small; together they hold at least 30 people,
    # so with the engine's union count (50) the other row is released with 11 orders.
    frame = _notes([500, 400, 30, 20], [90, 80, 7, 4])
    out = suppress_small_cells(
        frame,
        keys=["note_id"],
        users="users",
        measures=["orders"],
        k=50,
        union_users=lambda rows: 50,
    )
    assert out["note_id"].tolist() == ["n0", "n1", "n2", "n3", OTHER]
    assert out["suppressed"].tolist() == [False, False, True, True, False]
    assert out["is_other"].tolist() == [False, False, False, False, True]
    assert math.isnan(out.loc[2, "orders"]) and math.isnan(out.loc[2, "users"])
    assert out.loc[4, "orders"] == 11.0
    assert out.loc[4, "users"] == 50.0
    assert released_total(out, "orders") == 181.0  # = exact total


def test_single_small_row_gets_a_complementary_partner() -> None:
    # Only n2 is small: alone in the other row it would be exactly total - n0 - n1. The smallest
    # released row (n1, 400 users) is suppressed with it.
    frame = _notes([500, 400, 30], [90, 80, 7])
    out = suppress_small_cells(frame, keys=["note_id"], users="users", measures=["orders"], k=50)
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out.loc[3, "orders"] == 87.0
    assert out.loc[3, "users"] == 400.0  # largest member: a lower bound of the union
    assert released_total(out, "orders") == 177.0


def test_small_rows_below_k_together_pull_in_a_released_row() -> None:
    # 30 and 10 users: by default the union is at least 30 < 50, so n1 (60) joins the group.
    frame = _notes([100, 60, 30, 10], [9, 8, 7, 1])
    out = suppress_small_cells(frame, keys=["note_id"], users="users", measures=["orders"], k=50)
    assert out["suppressed"].tolist() == [False, True, True, True, False]
    assert out.loc[4, "orders"] == 16.0


def test_whole_table_below_k_is_suppressed() -> None:
    frame = _notes([30, 10], [7, 1])
    out = suppress_small_cells(
        frame, keys=["note_id"], users="users", measures=["orders"], k=50, union_users=len
    )
    assert out["suppressed"].all()
    assert math.isnan(released_total(out, "orders"))


def test_one_row_below_k_is_suppressed_without_an_other_row() -> None:
    out = suppress_small_cells(_notes([30], [7]), keys=["note_id"], users="users",
                               measures=["orders"], k=50)  # fmt: skip
    assert out["suppressed"].tolist() == [True] and not out["is_other"].any()


def test_missing_column_and_bad_k() -> None:
    with pytest.raises(ConfigError, match="gmv"):
        suppress_small_cells(
            _notes([1], [1]), keys=["note_id"], users="users", measures=["gmv"], k=5
        )
    with pytest.raises(ConfigError):
        suppress_small_cells(
            _notes([1], [1]), keys=["note_id"], users="users", measures=["orders"], k=0
        )


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(1, 200), st.integers(0, 1000)), min_size=1, max_size=12),
    k=st.integers(1, 120),
)
def test_released_rows_meet_k_and_totals_add_up(rows: list[tuple[int, int]], k: int) -> None:
    frame = _notes([u for u, _ in rows], [o for _, o in rows])
    out = suppress_small_cells(frame, keys=["note_id"], users="users", measures=["orders"], k=k)
    released = out[~out["suppressed"]]
    # Every released row (other row included) has at least k users.
    assert (released["users"] >= k).all()
    suppressed_cells = out[out["suppressed"] & ~out["is_other"]]
    other = out[out["is_other"]]
    if len(suppressed_cells):
        # Never exactly one suppressed row: subtraction would reveal it.
        assert len(suppressed_cells) >= 2 or (len(frame) == 1 and len(out) == 1)
        if not other["suppressed"].all():
            assert released_total(out, "orders") == sum(o for _, o in rows)
    else:
        assert released_total(out, "orders") == sum(o for _, o in rows)


def test_settings_threshold_is_the_strictest_party() -> None:
    from redcat.settings import PrivacySettings

    assert PrivacySettings().threshold() == 50
    assert PrivacySettings(k=50, party_k={"tmall": 100, "content": 20}).threshold() == 100
    with pytest.raises(ConfigError):
        PrivacySettings(party_k={"jd": 0})
