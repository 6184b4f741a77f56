"""Number, money, rate and date formatting for reports, in zh-CN and English.

One rule everywhere, so tables in both languages read the same:

- counts (users, events, orders): whole numbers with thousands separators, ``1,234,567``;
- fractional counts (credited orders of fractional models): one decimal, ``1,234.5``;
- rates (fractions in [0, 1]): percent with two decimals, ``12.34%``; WAPE with one, ``12.3%``;
- money: currency symbol, thousands separators, two decimals, ``¥1,234.50`` (``-¥3.00``);
- ratios (ROI): two decimals, ``3.45``;
- missing values (``None``, NaN, NA): an em dash, ``—``.

Only the *compact* form of the headline cards and chart axes differs by language: Chinese groups by
万 (10^4) and 亿 (10^8), English by K, M and B; values below 10,000 are never shortened. Rounding is
Python's format-spec rounding (half-even on the binary value).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from redcat.report.data import is_missing
from redcat.report.labels import Lang, check_lang

Kind = Literal["count", "decimal", "rate", "rate1", "money", "ratio", "text", "date", "datetime"]

MISSING = "—"

#: How each metric or column is formatted.
COLUMN_KINDS: Mapping[str, Kind] = {
    "spend": "money",
    "impressions": "count",
    "reach": "count",
    "matched_reach": "count",
    "reads": "count",
    "ctr": "rate",
    "interactions": "count",
    "interaction_rate": "rate",
    "back_search_users": "count",
    "back_search_rate": "rate",
    "visitors": "count",
    "visit_rate": "rate",
    "cost_per_visit": "money",
    "carts": "count",
    "orders": "count",
    "gmv": "money",
    "new_customers": "count",
    "roi": "ratio",
    "date": "date",
    "notes": "count",
    "users": "count",
    "rate_from_previous": "rate",
    "rate_from_reach": "rate",
    "conversions": "decimal",
    "value": "money",
    "credited_orders": "decimal",
    "wape": "rate1",
    "rank": "count",
    "true_incremental_orders": "decimal",
    "true_incremental_gmv": "money",
}

_COMPACT_STEPS: Mapping[Lang, tuple[tuple[float, float, str], ...]] = {
    # (from, divisor, suffix), largest first; values below 10^4 stay whole in both languages
    "zh": ((1e8, 1e8, "亿"), (1e4, 1e4, "万")),
    "en": ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K")),
}


def _no_negative_zero(s: str) -> str:
    # "-0" / "-0.00" come from tiny negatives rounding to zero; they read as noise
    return s[1:] if s.startswith("-") and not any(c in "123456789" for c in s) else s


def fmt_count(value: Any) -> str:
    """Format a count as a whole number with thousands separators: ``1234567 -> '1,234,567'``."""
    if is_missing(value):
        return MISSING
    return _no_negative_zero(f"{float(value):,.0f}")


def fmt_decimal(value: Any) -> str:
    """Format a fractional count with one decimal: ``1234.56 -> '1,234.6'``."""
    if is_missing(value):
        return MISSING
    return _no_negative_zero(f"{float(value):,.1f}")


def fmt_rate(value: Any, digits: int = 2) -> str:
    """Format a fraction as a percent with ``digits`` decimals: ``0.12345 -> '12.35%'``."""
    if is_missing(value):
        return MISSING
    return _no_negative_zero(f"{float(value) * 100:,.{digits}f}") + "%"


def fmt_money(value: Any, symbol: str = "¥") -> str:
    """Format money with two decimals: ``1234.5 -> '¥1,234.50'``, ``-3 -> '-¥3.00'``."""
    if is_missing(value):
        return MISSING
    body = _no_negative_zero(f"{float(value):,.2f}")
    return f"-{symbol}{body[1:]}" if body.startswith("-") else f"{symbol}{body}"


def fmt_ratio(value: Any) -> str:
    """Format a ratio such as ROI (GMV per unit of spend) with two decimals: ``3.456 -> '3.46'``."""
    if is_missing(value):
        return MISSING
    return _no_negative_zero(f"{float(value):,.2f}")


def fmt_date(value: Any) -> str:
    """Format a calendar day as ISO ``YYYY-MM-DD`` (both languages)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def fmt_datetime(value: datetime) -> str:
    """Format a timestamp as ``YYYY-MM-DD HH:MM`` plus its UTC offset when it has one."""
    stamp = value.strftime("%Y-%m-%d %H:%M")
    offset = value.strftime("%z")  # '' for naive timestamps
    return f"{stamp} UTC{offset[:3]}:{offset[3:]}" if offset else stamp


def fmt_compact(value: Any, lang: Lang, kind: Kind = "count", symbol: str = "¥") -> str:
    """Format a headline number compactly: ``123456 -> '12.35万'`` (zh) / ``'123.46K'`` (en).

    Counts and money of 10,000 or more are divided into 万/亿 (zh) or K/M/B (en) with two decimals;
    smaller values and every other kind are formatted exactly as :func:`format_value` does.
    """
    if is_missing(value) or kind not in ("count", "decimal", "money"):
        return format_value(value, kind, lang, symbol)
    number = float(value)
    for threshold, divisor, suffix in _COMPACT_STEPS[check_lang(lang)]:
        if abs(number) >= threshold:
            body = f"{number / divisor:,.2f}{suffix}"
            if kind == "money":
                return f"-{symbol}{body[1:]}" if body.startswith("-") else f"{symbol}{body}"
            return body
    return format_value(value, kind, lang, symbol)


def format_value(value: Any, kind: Kind, lang: Lang, symbol: str = "¥") -> str:
    """Format ``value`` as ``kind`` (see the module docstring); missing values become ``—``."""
    check_lang(lang)
    if is_missing(value):
        return MISSING
    if kind == "count":
        return fmt_count(value)
    if kind == "decimal":
        return fmt_decimal(value)
    if kind == "rate":
        return fmt_rate(value)
    if kind == "rate1":
        return fmt_rate(value, digits=1)
    if kind == "money":
        return fmt_money(value, symbol)
    if kind == "ratio":
        return fmt_ratio(value)
    if kind == "date":
        return fmt_date(value)
    if kind == "datetime":
        return fmt_datetime(value) if isinstance(value, datetime) else str(value)
    return str(value)


def column_kind(column: str) -> Kind:
    """Return the format kind of a metric or column name (``text`` if it has none)."""
    return COLUMN_KINDS.get(column, "text")


def format_column(column: str, value: Any, lang: Lang, symbol: str = "¥") -> str:
    """Format one cell of ``column`` by its kind in :data:`COLUMN_KINDS`."""
    return format_value(value, column_kind(column), lang, symbol)
