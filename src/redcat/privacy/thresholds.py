"""Aggregation thresholds: no released cell comes from fewer than k distinct matched users.

A table row (a note, a day, a creator...) whose distinct-user count is below ``k`` is *suppressed*:
its figures are withheld and shown as ``<k``. The suppressed rows are released together as one
*other* row so that the table's figures still add up to its total. Two traps are closed here:

- **Differencing one suppressed row.** If a single row were suppressed, "total minus every
  released row" would be that row. The other row therefore always merges at least two rows and
  at least ``k`` users; when the small rows alone do not reach that, the smallest released rows
  are suppressed too (*complementary suppression*) until they do. The attacker's difference is
  then the other row, a sum over several rows, which many different splits produce alike.
- **The other row itself below k.** It is thresholded like any row; when even all rows together
  do not reach ``k`` users, the whole table is suppressed.

Differencing *two overlapping releases* (a brand total with and without a date filter) is not
something thresholds can stop: each total is large, only their difference is small. That attack
is answered by noise on every released figure (:mod:`redcat.privacy.noise`), so the difference
of two totals is the small cell plus two independent noise draws, and by the ledger, which
returns the same answer to the same question and refuses questions beyond the budget.

Users are distinct matched people (``match_key``); the threshold is decided on exact counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from redcat.errors import ConfigError

#: Key value naming the row that releases suppressed rows together.
OTHER = "(other)"

UnionUsers = Callable[[pd.DataFrame], int]


def strictest_k(*thresholds: int | None) -> int:
    """Return the threshold that applies when several parties set one: the largest (the strictest;
    ``None`` means that party set none). Raises :class:`ConfigError` when none is set or one is
    below 1."""
    given = [int(t) for t in thresholds if t is not None]
    if not given:
        raise ConfigError("no aggregation threshold given")
    if min(given) < 1:
        raise ConfigError(f"an aggregation threshold must be at least 1 user, not {min(given)}")
    return max(given)


def below_k_label(k: int) -> str:
    """Return how a suppressed cell is displayed (``"<50"`` for k = 50)."""
    return f"<{k}"


def _max_users(group: pd.DataFrame, users: str) -> int:
    # Without the engine's count of the union, the largest member is the only safe lower bound
    # on how many distinct people the merged rows hold (the same people may sit in every row).
    return int(group[users].max()) if len(group) else 0


def suppress_small_cells(
    frame: pd.DataFrame,
    *,
    keys: Sequence[str],
    users: str,
    measures: Sequence[str],
    k: int,
    union_users: UnionUsers | None = None,
) -> pd.DataFrame:
    """Apply the aggregation threshold ``k`` to ``frame`` (one row per cell, ``users`` = distinct
    matched users of that row, ``measures`` = additive figures: user counts, event counts, money).

    Returns a copy with the rows in their original order followed, when rows are suppressed, by
    one other row (first key = :data:`OTHER`, other keys null) holding the sum of every suppressed
    row's measures and users. Added columns: ``suppressed`` (bool: this row's figures are
    withheld, its ``users`` and ``measures`` are NaN) and ``is_other`` (bool). The other row is
    itself suppressed only when all rows together stay below ``k`` users; a table of one row
    below ``k`` is just that row, suppressed.

    ``union_users(rows)`` returns the distinct users of several rows together (the engine knows,
    the frame does not); by default the largest row's count is used, a lower bound, so the other
    row's threshold is never judged too leniently. The other row's ``users`` is that count.
    Measures that are not additive (rates, averages) must not be passed: compute them afterwards
    from released parts.
    """
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    missing = [c for c in (*keys, users, *measures) if c not in frame.columns]
    if missing:
        raise ConfigError(f"threshold input lacks column(s) {', '.join(missing)}")
    count_union = union_users or (lambda g: _max_users(g, users))
    table = frame.reset_index(drop=True).copy()
    table[users] = table[users].astype("float64")
    for col in measures:
        table[col] = table[col].astype("float64")
    small = table[users] < k
    group = set(table.index[small])
    if group:
        # Complementary suppression: grow the group with the smallest released rows until it
        # holds at least two rows and k users, so no row can be recovered by subtraction.
        by_size = table.loc[~small].sort_values(users, kind="stable").index.tolist()
        while len(group) < 2 or count_union(table.loc[sorted(group)]) < k:
            if not by_size:
                break
            group.add(by_size.pop(0))
    suppressed = table.index.isin(sorted(group))
    members = table.loc[suppressed]
    out = table.assign(suppressed=suppressed, is_other=False)
    out.loc[suppressed, [users, *measures]] = np.nan
    if len(group) < 2:
        # Nothing suppressed, or a one-row table below k: an other row would repeat that row.
        return out
    other: dict[str, object] = {key: None for key in keys}
    other[keys[0]] = OTHER
    other_users = count_union(members)
    other_ok = len(group) >= 2 and other_users >= k
    other[users] = float(other_users) if other_ok else np.nan
    for col in measures:
        other[col] = float(members[col].sum()) if other_ok else np.nan
    other["suppressed"] = not other_ok
    other["is_other"] = True
    other_frame = pd.DataFrame([other]).astype({"suppressed": bool, "is_other": bool})
    return pd.concat([out, other_frame], ignore_index=True)


def released_total(table: pd.DataFrame, column: str) -> float:
    """Return the total of ``column`` over the released rows of a thresholded table (other row
    included, suppressed rows excluded): equal to the exact total whenever the other row is
    released. NaN when nothing in the table is released."""
    kept = table.loc[~table["suppressed"], column]
    return float(kept.sum()) if len(kept) else float("nan")
