from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from redcat.report.fmt import (
    MISSING,
    fmt_compact,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_money,
    fmt_rate,
    format_column,
    format_value,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (7, "7"),
        (1234567, "1,234,567"),
        (np.int64(9999), "9,999"),
        (12.6, "13"),
        (-1500, "-1,500"),
        (-0.2, "0"),
    ],
)
def test_count(value, expected):
    assert fmt_count(value) == expected


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.12345, 2, "12.35%"),
        (0.05, 2, "5.00%"),
        (1.0, 2, "100.00%"),
        (0.003125, 2, "0.31%"),
        (0.123, 1, "12.3%"),
        (0.0, 2, "0.00%"),
        (-0.00001, 2, "0.00%"),
    ],
)
def test_rate(value, digits, expected):
    assert fmt_rate(value, digits) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, "¥1,234.50"),
        (0, "¥0.00"),
        (-3, "-¥3.00"),
        (4500.5, "¥4,500.50"),
        (1e7, "¥10,000,000.00"),
    ],
)
def test_money(value, expected):
    assert fmt_money(value) == expected


def test_money_symbol():
    assert fmt_money(2.5, "$") == "$2.50"


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_missing_is_a_dash_in_every_kind(missing):
    for kind in ("count", "decimal", "rate", "rate1", "money", "ratio", "date", "text"):
        for lang in ("zh", "en"):
            assert format_value(missing, kind, lang) == MISSING == "—"


@pytest.mark.parametrize(
    ("value", "kind", "zh", "en"),
    [
        (9999, "count", "9,999", "9,999"),
        (12345, "count", "1.23万", "12.35K"),
        (1234567, "count", "123.46万", "1.23M"),
        (250_000_000, "count", "2.50亿", "250.00M"),
        (3_200_000_000, "count", "32.00亿", "3.20B"),
        (4500.5, "money", "¥4,500.50", "¥4,500.50"),
        (123456.78, "money", "¥12.35万", "¥123.46K"),
        (-50000, "money", "-¥5.00万", "-¥50.00K"),
        (0.0523, "rate", "5.23%", "5.23%"),
        (3.14159, "ratio", "3.14", "3.14"),
    ],
)
def test_compact_differs_by_language_only_above_ten_thousand(value, kind, zh, en):
    assert fmt_compact(value, "zh", kind) == zh
    assert fmt_compact(value, "en", kind) == en


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("reach", 8000, "8,000"),
        ("ctr", 0.08, "8.00%"),
        ("gmv", 4500.5, "¥4,500.50"),
        ("cost_per_visit", 15, "¥15.00"),
        ("roi", 3.0003333, "3.00"),
        ("credited_orders", 12.25, "12.2"),
        ("conversions", 8.56, "8.6"),
        ("wape", 2 / 17, "11.8%"),
        ("date", date(2025, 5, 1), "2025-05-01"),
        ("title", "春季新品", "春季新品"),
    ],
)
def test_columns_use_their_kind_in_both_languages(column, value, expected):
    assert format_column(column, value, "zh") == expected
    assert format_column(column, value, "en") == expected


def test_dates_and_timestamps():
    assert fmt_date(pd.Timestamp("2025-05-01 13:00")) == "2025-05-01"
    assert fmt_date("2025-05-01") == "2025-05-01"
    assert fmt_datetime(datetime(2025, 5, 4, 9, 30)) == "2025-05-04 09:30"
    tz = timezone(timedelta(hours=8))
    assert fmt_datetime(datetime(2025, 5, 4, 9, 30, tzinfo=tz)) == "2025-05-04 09:30 UTC+08:00"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_count_round_trips_through_the_separators(n):
    assert int(fmt_count(n).replace(",", "")) == n


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_compact_stays_within_rounding_of_the_value(x):
    for lang, units in (("zh", {"万": 1e4, "亿": 1e8}), ("en", {"K": 1e3, "M": 1e6, "B": 1e9})):
        s = fmt_compact(x, lang)
        unit = next((u for u in units if s.endswith(u)), None)
        if unit is None:
            assert x < 10_000
            assert s == fmt_count(x)
        else:
            assert x >= 10_000
            assert (
                abs(float(s[: -len(unit)].replace(",", "")) * units[unit] - x)
                <= units[unit] * 0.005 + 1e-9
            )
