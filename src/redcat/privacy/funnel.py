"""Aggregation thresholds on the funnel's tables (notes, creators, campaigns, days), cell by cell.

A funnel table row mixes figures from different populations: the content platform's own counts
(impressions, reach, reads, interactions, spend: one owner, left exact) and clean-room outcomes
over matched people, each counted from its own people — back-search users, visitors, cart users,
buyers (orders and GMV), new customers. :func:`threshold_funnel_table` applies the aggregation
threshold to each outcome group separately: a cell whose people number fewer than ``k`` is
withheld, and each group's withheld cells are released together in the table's other row
(complementary suppression as in :func:`~redcat.privacy.thresholds.suppress_small_cells`), so
every outcome column still adds up to its total. Rates are recomputed from what is released
(NaN where a part is withheld).

:func:`bounded_outcomes` computes those outcome columns from the engine with each person's
contribution bounded (:mod:`redcat.privacy.bounds`), so that noise can be scaled to them: the
brand view of a report (:mod:`redcat.report.brand`) thresholds and noises exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from redcat.engine.core import Engine
from redcat.errors import ConfigError
from redcat.funnel.metrics import FunnelSources, ratio, touched_outcomes
from redcat.privacy.bounds import ContributionBounds, bound_contributions
from redcat.privacy.release import Measure
from redcat.privacy.thresholds import OTHER, UnionUsers, suppress_small_cells
from redcat.settings import INTERACTION_EVENTS

#: Outcome groups of a funnel table: the people column each is thresholded on → the columns
#: released with it (people and events and money counted from those people).
OUTCOME_GROUPS: Mapping[str, tuple[str, ...]] = {
    "matched_reach": ("matched_reach",),
    "matched_read_users": ("matched_read_users",),
    "matched_interaction_users": ("matched_interaction_users",),
    "back_search_users": ("back_search_users",),
    "visitors": ("visitors",),
    "cart_users": ("cart_users", "carts"),
    "buyers": ("buyers", "orders", "gmv"),
    "new_customers": ("new_customers",),
}
#: Rates recomputed from released parts: rate → (numerator, denominator).
RATES: Mapping[str, tuple[str, str]] = {
    "back_search_rate": ("back_search_users", "matched_reach"),
    "visit_rate": ("visitors", "matched_reach"),
    "cost_per_visit": ("spend", "visitors"),
    "roi": ("gmv", "spend"),
}


def threshold_funnel_table(
    table: pd.DataFrame, key: str, k: int, union_users: Mapping[str, UnionUsers] | None = None
) -> pd.DataFrame:
    """Return ``table`` (a funnel level table with key column ``key``) with every outcome cell
    from fewer than ``k`` matched people withheld (NaN) and an other row (``key`` =
    :data:`OTHER`) holding, per outcome group, the sum of its withheld cells (NaN where the group
    withheld nothing or its other cell is itself below ``k``). Added columns
    ``suppressed_<people column>`` (bool, per group) say which cells were withheld; content
    figures stay as they are and are empty in the other row. Rates are recomputed from the
    released parts. ``union_users`` maps a people column to the function counting the distinct
    people of several of its cells together (:func:`bounded_outcomes` returns them); without one
    the other row's threshold is judged on the largest member cell, a lower bound."""
    unions = union_users or {}
    if key not in table.columns:
        raise ConfigError(f"funnel table lacks its key column {key!r}")
    groups = {u: cols for u, cols in OUTCOME_GROUPS.items() if u in table.columns}
    out = table.reset_index(drop=True).copy()
    other: dict[str, object] = {c: np.nan for c in out.columns}
    other[key] = OTHER
    for users, columns in groups.items():
        measures = [c for c in columns if c != users and c in out.columns]
        done = suppress_small_cells(
            out, keys=[key], users=users, measures=measures, k=k, union_users=unions.get(users)
        )
        flags = done["suppressed"].to_numpy()[: len(out)]
        exact_people = out.loc[flags, users].sum()
        out[f"suppressed_{users}"] = flags
        for col in (users, *measures):
            out[col] = done[col].to_numpy()[: len(out)]
        if len(done) > len(out):
            for col in measures:
                other[col] = done[col].iloc[-1]
            # People of the other row are summed over its cells like every other figure (one
            # person in two withheld notes counts twice, as in the rows), so the column adds up;
            # the threshold itself was judged on distinct people.
            released = not done["suppressed"].iloc[-1]
            other[users] = float(exact_people) if released else np.nan
        other[f"suppressed_{users}"] = bool(len(done) > len(out) and done["suppressed"].iloc[-1])
    if any(out[f"suppressed_{u}"].any() for u in groups):
        out = pd.concat([out, pd.DataFrame([other])], ignore_index=True)
    _rates(out)
    return out


def _rates(out: pd.DataFrame) -> None:
    for rate, (num, den) in RATES.items():
        if rate in out.columns and num in out.columns and den in out.columns:
            out[rate] = ratio(out[num], out[den])


def withheld_cells(table: pd.DataFrame, key: str) -> int:
    """Return how many outcome cells a thresholded table withholds (its other row excluded)."""
    rows = table[table[key] != OTHER]
    flags = [c for c in rows.columns if c.startswith("suppressed_")]
    return int(sum(int(rows[c].sum()) for c in flags))


#: Outcome columns :func:`bounded_outcomes` computes from touched outcomes: people column →
#: (outcome event, events column or None, money column or None). ``new`` = an order of a new
#: customer.
TOUCHED: Mapping[str, tuple[str, str | None, str | None]] = {
    "back_search_users": ("search", None, None),
    "visitors": ("visit", None, None),
    "cart_users": ("cart", "carts", None),
    "buyers": ("order", "orders", "gmv"),
    "new_customers": ("new", None, None),
}
#: Matched people columns computed from the clean room's content events: column → events.
MATCHED_PEOPLE: Mapping[str, tuple[str, ...]] = {
    "matched_reach": ("impression",),
    "matched_read_users": ("read",),
    "matched_interaction_users": INTERACTION_EVENTS,
}


@dataclass(frozen=True, eq=False)
class BoundedOutcomes:
    """Bounded outcome columns per key (``frame``: the key column, then people, events and money
    columns), each column's :class:`~redcat.privacy.release.Measure` (L1 sensitivity) and, per
    people column, the function counting the distinct bounded people of several cells together
    (for the threshold's other row)."""

    frame: pd.DataFrame
    measures: tuple[Measure, ...]
    union_users: Mapping[str, UnionUsers]


def bounded_outcomes(
    engine: Engine,
    sources: FunnelSources,
    key: str,
    bounds: ContributionBounds,
    *,
    columns: Sequence[str] | None = None,
) -> BoundedOutcomes:
    """Return the outcome columns of a funnel table per ``key`` with every person's contribution
    bounded in the engine (:class:`BoundedOutcomes`).

    ``key`` is note_id, creator_id, campaign_id, brand_id or ``date`` (the outcome's calendar
    day; matched reach by the exposure's day). ``columns`` picks among :data:`TOUCHED`'s people,
    events and money columns and :data:`MATCHED_PEOPLE` (default: all of :data:`TOUCHED`'s and
    ``matched_reach``); a people column is always computed with the events and money released
    with it. People columns count distinct matched people (each in at most
    ``bounds.max_cells_per_user`` cells of that column), events at most
    ``max_events_per_cell`` per person and cell, money (GMV, currency) clipped to
    ``value_bound`` per person and cell. One row per key value any outcome has; missing cells
    are 0."""
    wanted = set(columns) if columns is not None else {*TOUCHED, "matched_reach"}
    # One bounded aggregate per people column, all run as one query (column name in ``_col``).
    groups: list[ir.Table] = []
    measures: list[Measure] = []
    unions: dict[str, UnionUsers] = {}
    sens = bounds.sensitivity()
    if key == "date":
        rows = touched_outcomes(sources, "brand_id")
        rows = rows.mutate(date=rows.ts.date())
    else:
        rows = touched_outcomes(sources, key)
    released_with: dict[str, tuple[str | None, str | None]] = {}
    for people, (event, events, money) in TOUCHED.items():
        if not wanted & {people, events, money} - {None}:
            continue
        picked = (
            rows.filter((rows.event == "order") & rows.is_new)
            if event == "new"
            else rows.filter(rows.event == event)
        )
        groups.append(_bounded(picked, key, bounds, people, value="amount" if money else None))
        unions[people] = _union(engine, picked, key, bounds)
        released_with[people] = (events, money)
        measures.append(Measure(people, sens["users"]))
        if events:
            measures.append(Measure(events, sens["events"]))
        if money:
            measures.append(Measure(money, sens["value"], integer=False))
    m = sources.matched
    by = "day" if key == "date" else key
    for people, events_in in MATCHED_PEOPLE.items():
        if people not in wanted:
            continue
        seen = m.filter(m.event.isin(list(events_in)))
        seen = seen.mutate(**{key: seen[by]}) if by != key else seen
        groups.append(_bounded(seen, key, bounds, people, value=None))
        unions[people] = _union(engine, seen, key, bounds)
        released_with[people] = (None, None)
        measures.append(Measure(people, sens["users"]))
    if not groups:
        return BoundedOutcomes(pd.DataFrame({key: []}), (), {})
    long = engine.execute(ibis.union(*groups) if len(groups) > 1 else groups[0])
    if key == "date":  # calendar days as the funnel's daily table holds them
        long[key] = pd.to_datetime(long[key]).dt.date
    out = pd.DataFrame({key: pd.Series(long[key].drop_duplicates().tolist(), dtype="object")})
    for people, (events, money) in released_with.items():
        part = long[long["_col"] == people].set_index(key)
        for column, source in ((people, "users"), (events, "events"), (money, "value")):
            if column is not None:
                out[column] = out[key].map(part[source])
    for measure in measures:
        out[measure.column] = (
            out[measure.column].fillna(0).astype("int64" if measure.integer else "float64")
        )
    out = out.sort_values(key, kind="stable").reset_index(drop=True)
    return BoundedOutcomes(out, tuple(measures), unions)


def _bounded(
    rows: ir.Table, key: str, bounds: ContributionBounds, column: str, *, value: str | None
) -> ir.Table:
    """Return the per-cell aggregate of ``rows`` after the contribution bounds: ``key``,
    ``_col`` (= ``column``), ``users`` (distinct people), ``events`` and ``value`` (money)."""
    kept = bound_contributions(rows, keys=[key], bounds=bounds, value=value)
    return kept.group_by(key).agg(
        _col=ibis.literal(column),
        users=kept.match_key.nunique(),
        events=kept.events.sum().cast("int64"),
        value=kept.value.sum().cast("float64"),
    )


def _union(engine: Engine, rows: ir.Table, key: str, bounds: ContributionBounds) -> UnionUsers:
    """Return a function counting the distinct bounded people of several cells together. The
    (person, cell) pairs are fetched once, on the first call: complementary suppression asks
    for several unions of the same column."""
    kept = bound_contributions(rows, keys=[key], bounds=bounds)
    pairs: list[pd.DataFrame] = []

    def union(group: pd.DataFrame) -> int:
        if not pairs:
            frame = engine.execute(kept.select("match_key", key))
            pairs.append(frame.assign(_cell=frame[key].map(str)))
        ids = {str(v) for v in group[key].tolist() if v is not None and v == v}
        cells = pairs[0]
        return int(cells.loc[cells["_cell"].isin(ids), "match_key"].nunique())

    return union
