"""Per-user contribution bounds in the engine (hand-computed)."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.privacy.bounds import ContributionBounds, bound_contributions, bounded_aggregate
from redcat.settings import PrivacySettings


@pytest.fixture()
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    with open_engine(tmp_path / "b.duckdb") as eng:
        yield eng


def _orders() -> ibis.Table:
    # u1: 7 orders of 500 at n1 (3500 before clipping), 1 order of 10 at n2;
    # u2: one order of 50 at n1; u3: one order of -5 (a refund row) at n2.
    rows = [("u1", "n1", 500.0)] * 7 + [
        ("u1", "n2", 10.0),
        ("u2", "n1", 50.0),
        ("u3", "n2", -5.0),
    ]
    return ibis.memtable(pd.DataFrame(rows, columns=["match_key", "note_id", "amount"]))


def test_sensitivity_from_bounds() -> None:
    b = ContributionBounds(max_cells_per_user=3, max_events_per_cell=2, value_bound=100.0)
    assert dict(b.sensitivity()) == {"users": 3.0, "events": 6.0, "value": 300.0}
    s = ContributionBounds.from_settings(PrivacySettings())
    assert s.max_cells_per_user == 4 and s.value_bound == 1000.0
    with pytest.raises(ConfigError):
        ContributionBounds(max_cells_per_user=0)


def test_events_capped_and_money_clipped(engine) -> None:  # type: ignore[no-untyped-def]
    b = ContributionBounds(max_cells_per_user=5, max_events_per_cell=5, value_bound=2000.0)
    out = bounded_aggregate(engine, _orders(), keys=["note_id"], bounds=b, value="amount")
    f = out.frame.set_index("note_id")
    # n1: u1 counts 5 of 7 orders and 2000 of 3500; u2 counts 1 order and 50.
    assert f.loc["n1", "users"] == 2
    assert f.loc["n1", "events"] == 6
    assert f.loc["n1", "value"] == pytest.approx(2050.0)
    assert f.loc["n1", "raw_events"] == 8
    assert f.loc["n1", "raw_value"] == pytest.approx(3550.0)
    # n2: u1 10, u3's negative amount clipped to 0.
    assert f.loc["n2", "events"] == 2
    assert f.loc["n2", "value"] == pytest.approx(10.0)
    assert f.loc["n2", "raw_value"] == pytest.approx(5.0)
    assert dict(out.sensitivity) == {"users": 5.0, "events": 25.0, "value": 10000.0}


def test_cells_per_user_capped(engine) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame(
        {"match_key": ["u1"] * 6 + ["u2"], "note_id": [f"n{i}" for i in range(6)] + ["n0"]}
    )
    b = ContributionBounds(max_cells_per_user=2, max_events_per_cell=1, value_bound=1.0)
    kept = engine.execute(bound_contributions(ibis.memtable(rows), keys=["note_id"], bounds=b))
    assert (kept.groupby("match_key").size() == pd.Series({"u1": 2, "u2": 1})).all()
    out = bounded_aggregate(engine, ibis.memtable(rows), keys=["note_id"], bounds=b)
    assert out.frame["users"].sum() == 3  # u1 in 2 cells, u2 in 1
    assert out.frame["raw_users"].sum() == 7
    # The same input keeps the same cells (a keyed hash, not a fresh random draw).
    again = bounded_aggregate(engine, ibis.memtable(rows), keys=["note_id"], bounds=b)
    assert again.frame.equals(out.frame)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", "u3", "u4"]),
            st.sampled_from(["n1", "n2", "n3", "n4", "n5"]),
            st.floats(-50, 3000, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    ),
    cells=st.integers(1, 3),
    events=st.integers(1, 3),
)
def test_no_user_exceeds_the_bounds(
    rows: list[tuple[str, str, float]], cells: int, events: int, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    b = ContributionBounds(max_cells_per_user=cells, max_events_per_cell=events, value_bound=500.0)
    frame = pd.DataFrame(rows, columns=["match_key", "note_id", "amount"])
    with open_engine(tmp_path_factory.mktemp("h") / "h.duckdb") as eng:
        kept = eng.execute(
            bound_contributions(ibis.memtable(frame), keys=["note_id"], bounds=b, value="amount")
        )
        out = bounded_aggregate(eng, ibis.memtable(frame), keys=["note_id"], bounds=b,
                                value="amount")  # fmt: skip
    assert (kept.groupby("match_key").size() <= cells).all()
    assert (kept["events"] <= events).all()
    assert ((kept["value"] >= 0) & (kept["value"] <= 500.0)).all()
    # Removing one user changes each column by at most its sensitivity (L1 over cells).
    per_user = kept.groupby("match_key").agg(events=("events", "sum"), value=("value", "sum"))
    assert (per_user["events"] <= out.sensitivity["events"]).all()
    assert (per_user["value"] <= out.sensitivity["value"] + 1e-9).all()
    assert (out.frame["users"] <= out.frame["raw_users"]).all()
    assert out.frame["raw_events"].sum() == len(frame)
