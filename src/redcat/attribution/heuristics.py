"""Rule-based models: first, last, linear, position-based and time decay.

Each model gives every touch a weight, the weights of one journey sum to 1, and a touch is
credited ``weight × conversions`` and ``weight × value`` of its journey. Touches are counted one
by one (a path a > a > b gives a two thirds under linear), as ChannelAttribution's heuristics do.

When the journeys carry ``is_click`` flags, first and last prefer clicks: first credits the
earliest click if the journey has one, else its earliest touch (a view); last likewise the
latest click, else the latest view. Multi-touch models weigh clicks and views alike.
"""

from __future__ import annotations

import numpy as np

from redcat.attribution.journeys import (
    Attribution,
    FloatArray,
    IntArray,
    JourneyTable,
    touch_attribution,
)
from redcat.errors import AttributionError

HEURISTIC_MODELS: tuple[str, ...] = ("first", "last", "linear", "position", "time_decay")


def touch_weights(
    table: JourneyTable,
    model: str,
    *,
    half_life_days: float = 7.0,
    position_first: float = 0.4,
    position_last: float = 0.4,
) -> FloatArray:
    """Return each touch's share of its journey (one float per touch; each journey sums to 1).

    ``position``: one touch gets 1; two touches split ``position_first : position_last``
    (0.5 / 0.5 by default); three or more give ``position_first`` to the first touch,
    ``position_last`` to the last and the rest evenly to the middle touches (40/20/40).
    ``time_decay``: weight ``2 ** (-age / half_life_days)`` normalized per journey, where age is
    the touch's ``days_before`` (days before conversion). Without touch times (aggregated path
    files) the age is the number of steps before the conversion (last touch 0, the one before it
    1, …), so ``half_life_days`` then counts steps.
    """
    lengths = table.lengths[table.journey_of_touch]
    pos = table.position
    if model == "first":
        return _pick(table, first=True)
    if model == "last":
        return _pick(table, first=False)
    if model == "linear":
        return 1.0 / lengths.astype(np.float64)
    if model == "position":
        return _position(pos, lengths, position_first, position_last)
    if model == "time_decay":
        return _time_decay(table, half_life_days)
    raise AttributionError(f"unknown heuristic model {model!r}")


def heuristic(
    table: JourneyTable,
    model: str,
    *,
    half_life_days: float = 7.0,
    position_first: float = 0.4,
    position_last: float = 0.4,
    allocations: bool = True,
) -> Attribution:
    """Attribute with a rule-based model (see :func:`touch_weights`); credits in conversions
    (count) and value (currency), with per-touch allocations when ``allocations``."""
    weights = touch_weights(
        table,
        model,
        half_life_days=half_life_days,
        position_first=position_first,
        position_last=position_last,
    )
    notes: tuple[str, ...] = ()
    if model == "time_decay" and table.days_before is None and table.n_touches:
        notes = (
            "time_decay: the journeys carry no touch times, so a touch's age is its number of "
            f"steps before the conversion and the half-life ({half_life_days:g}) counts steps",
        )
    jt = table.journey_of_touch
    touch_conv = weights * table.conversions[jt]
    touch_val = weights * table.value[jt]
    return touch_attribution(
        model, table, touch_conv, touch_val, allocations=allocations, notes=notes
    )


def _pick(table: JourneyTable, *, first: bool) -> FloatArray:
    """One-hot weights on the first (or last) touch, preferring clicks when flags are known."""
    n_touch = table.n_touches
    pos = table.position
    lengths = table.lengths
    chosen: IntArray = np.zeros(table.n_journeys, dtype=np.int64) if first else lengths - 1
    if table.is_click is not None and n_touch:
        clicks = table.is_click
        if first:
            click_pos = np.where(clicks, pos, np.iinfo(np.int64).max)
            best = np.minimum.reduceat(click_pos, table.offsets[:-1])
            has = best != np.iinfo(np.int64).max
        else:
            click_pos = np.where(clicks, pos, -1)
            best = np.maximum.reduceat(click_pos, table.offsets[:-1])
            has = best >= 0
        chosen = np.where(has, best, chosen)
    weights = np.zeros(n_touch, dtype=np.float64)
    weights[table.offsets[:-1] + chosen] = 1.0
    return weights


def _position(
    pos: IntArray, lengths: IntArray, first_share: float, last_share: float
) -> FloatArray:
    if first_share < 0 or last_share < 0 or first_share + last_share > 1:
        raise AttributionError("position weights must be >= 0 and sum to at most 1")
    if first_share + last_share == 0:
        raise AttributionError("position weights for the first and last touch are both 0")
    middle = (1.0 - first_share - last_share) / np.maximum(lengths - 2, 1)
    w = np.where(pos == 0, first_share, np.where(pos == lengths - 1, last_share, middle))
    two = lengths == 2
    w = np.where(
        two,
        np.where(pos == 0, first_share, last_share) / (first_share + last_share),
        w,
    )
    return np.where(lengths == 1, 1.0, w).astype(np.float64)


def _time_decay(table: JourneyTable, half_life_days: float) -> FloatArray:
    if not half_life_days > 0 or not np.isfinite(half_life_days):
        raise AttributionError("the time-decay half-life must be a positive number of days")
    if table.n_touches == 0:
        return np.zeros(0)
    if table.days_before is None:
        age = (table.lengths[table.journey_of_touch] - 1 - table.position).astype(np.float64)
    else:
        age = table.days_before
    # Shift by each journey's youngest touch so old journeys do not underflow to 0 / 0.
    youngest = np.minimum.reduceat(age, table.offsets[:-1])
    raw = np.exp2(-(age - youngest[table.journey_of_touch]) / half_life_days)
    totals = np.add.reduceat(raw, table.offsets[:-1])
    return raw / totals[table.journey_of_touch]
