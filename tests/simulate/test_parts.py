"""Building blocks: keys, ids, vectorized draws, writers, settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import ConfigError
from redcat.ingest.contract import BRAND_TERMS
from redcat.simulate.catalog import brand_ids
from redcat.simulate.config import DAY, WorldConfig, retailer_ids, stream
from redcat.simulate.population import phone_numbers, user_keys
from redcat.simulate.sampling import row_choice, times_in_days, weighted_picks
from redcat.simulate.writer import TableSink, fixed_ids, id_width, lookup


def test_user_key_is_sha256_of_the_normalized_phone() -> None:
    keys = user_keys(np.array([13800000123]))
    # sha256("+8613800000123"), computed once by hand with hashlib
    expected = "84bf6c4d8c00da113baab7a266bf220fd93da68c308860a4172455b296a42362"
    assert bytes(keys[0]).decode() == expected


def test_phone_numbers_are_distinct_mobile_numbers() -> None:
    phones = phone_numbers(50_000, seed=1)
    assert len(np.unique(phones)) == len(phones)
    assert phones.min() >= 13_000_000_000 and phones.max() < 20_000_000_000
    assert np.array_equal(phones, phone_numbers(50_000, seed=1))


def test_ids() -> None:
    assert retailer_ids(5) == ("tmall", "jd", "vip", "r4", "r5")
    assert brand_ids(3) == ("B01", "B02", "B03")
    assert brand_ids(120)[-1] == "B120" and brand_ids(120)[0] == "B001"
    assert id_width(5) == 9 and id_width(12_345_678_901) == 11
    ids = fixed_ids("tmall-o", np.array([1, -1, 123456789]), 9)
    assert ids.to_pylist() == ["tmall-o000000001", None, "tmall-o123456789"]


@given(st.lists(st.integers(min_value=0, max_value=10**12 - 1), max_size=50))
def test_fixed_ids_match_python_formatting(numbers: list[int]) -> None:
    arr = fixed_ids("ce", np.array(numbers, dtype=np.int64), 12)
    assert arr.to_pylist() == [f"ce{n:012d}" for n in numbers]


def test_lookup_with_missing_values() -> None:
    assert lookup(["a", "b"], np.array([1, -1, 0])).to_pylist() == ["b", None, "a"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.floats(0, 10), min_size=3, max_size=3), min_size=1, max_size=30),
    st.integers(0, 2**32 - 1),
)
def test_row_choice_never_picks_a_zero_weight(rows: list[list[float]], seed: int) -> None:
    weights = np.array(rows)
    picks = row_choice(np.random.default_rng(seed), weights)
    for row, pick in zip(weights, picks, strict=True):
        if row.sum() == 0:
            assert pick == 3
        else:
            assert row[pick] > 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 5), min_size=1, max_size=40), st.integers(0, 200))
def test_weighted_picks_stay_on_positive_weights(weights: list[float], k: int) -> None:
    w = np.array(weights)
    picks = weighted_picks(np.random.default_rng(0), w, k)
    if w.sum() == 0:
        assert len(picks) == 0
    else:
        assert len(picks) == k and (w[picks] > 0).all()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 1000), st.integers(-2 * DAY, 2 * DAY), st.integers(1, 200))
def test_times_fall_in_their_day_and_after_not_before(day: int, offset: int, k: int) -> None:
    start = 1_777_593_600 + day * DAY
    day_start = np.full(k, start)
    not_before = np.full(k, start + offset)
    ts = times_in_days(np.random.default_rng(day), day_start, not_before)
    if offset < DAY:
        assert (ts >= day_start).all() and (ts >= np.minimum(not_before, start + DAY - 1)).all()
        assert (ts < start + DAY).all()


def test_weighted_picks_follow_the_weights() -> None:
    picks = weighted_picks(np.random.default_rng(0), np.array([1.0, 3.0, 0.0]), 40_000)
    share = np.bincount(picks, minlength=3) / 40_000
    assert abs(share[1] - 0.75) < 0.01 and share[2] == 0


def test_streams_are_independent_and_reproducible() -> None:
    a = stream(1, "x").random(3)
    assert np.array_equal(a, stream(1, "x").random(3))
    assert not np.array_equal(a, stream(1, "y").random(3))
    assert not np.array_equal(a, stream(2, "x").random(3))


def test_csv_quotes_only_when_a_value_needs_it(tmp_path: Path) -> None:
    schema = pa.schema(
        [pa.field("brand_id", pa.string(), False), pa.field("term", pa.string(), False)]
    )
    path = tmp_path / "brand_terms.csv"
    with TableSink(path, BRAND_TERMS, "csv") as sink:
        sink.write(pa.table({"brand_id": ["B01"], "term": ["兰月"]}, schema=schema))
        sink.write(pa.table({"brand_id": ["B02"], "term": ['a,"b"']}, schema=schema))
    assert path.read_text(encoding="utf-8") == 'brand_id,term\nB01,兰月\n"B02","a,""b"""\n'
    assert sink.rows == 2


def test_sink_rejects_chunks_off_contract(tmp_path: Path) -> None:
    sink = TableSink(tmp_path / "brand_terms.parquet", BRAND_TERMS, "parquet")
    with sink, pytest.raises(ValueError):
        sink.write(pa.table({"term": ["x"], "brand_id": ["B01"]}))
    with pytest.raises(ConfigError):
        TableSink(tmp_path / "x.xml", BRAND_TERMS, "xml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"users": 0}, "users"),
        ({"days": 0}, "days"),
        ({"brands": 0}, "brands"),
        ({"retailers": 100}, "retailers"),
        ({"history_days": -1}, "history"),
        ({"seed": -1}, "seed"),
        ({"control_share": (0.3, 0.2)}, "control share"),
        ({"effect_scale": -1.0}, "effect"),
    ],
)
def test_config_rejects_impossible_worlds(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorldConfig(**change)  # type: ignore[arg-type]
