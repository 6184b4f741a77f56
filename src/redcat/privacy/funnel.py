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
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from redcat.errors import ConfigError
from redcat.funnel.metrics import ratio
from redcat.privacy.thresholds import OTHER, suppress_small_cells

#: Outcome groups of a funnel table: the people column each is thresholded on → the columns
#: released with it (people and events and money counted from those people).
OUTCOME_GROUPS: Mapping[str, tuple[str, ...]] = {
    "matched_reach": ("matched_reach",),
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


def threshold_funnel_table(table: pd.DataFrame, key: str, k: int) -> pd.DataFrame:
    """Return ``table`` (a funnel level table with key column ``key``) with every outcome cell
    from fewer than ``k`` matched people withheld (NaN) and an other row (``key`` =
    :data:`OTHER`) holding, per outcome group, the sum of its withheld cells (NaN where the group
    withheld nothing or its other cell is itself below ``k``). Added columns
    ``suppressed_<people column>`` (bool, per group) say which cells were withheld; content
    figures stay as they are and are empty in the other row. Rates are recomputed from the
    released parts."""
    if key not in table.columns:
        raise ConfigError(f"funnel table lacks its key column {key!r}")
    groups = {u: cols for u, cols in OUTCOME_GROUPS.items() if u in table.columns}
    out = table.reset_index(drop=True).copy()
    other: dict[str, object] = {c: np.nan for c in out.columns}
    other[key] = OTHER
    for users, columns in groups.items():
        measures = [c for c in columns if c != users and c in out.columns]
        done = suppress_small_cells(out, keys=[key], users=users, measures=measures, k=k)
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
