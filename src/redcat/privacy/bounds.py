"""Per-user contribution bounds, applied in the engine before aggregation.

Noise can only hide a person whose largest possible effect on the released figures is known (the
*sensitivity*). Before a table is aggregated, each matched user's rows are bounded:

- at most ``max_cells_per_user`` cells (notes, days...) per user; a user in more cells keeps a
  pseudo-random subset chosen by a keyed hash of (user, cell), independent of anyone else's data;
- at most ``max_events_per_cell`` events of that user counted in one cell;
- the user's money in one cell (e.g. GMV of their orders at a note) clipped to
  ``[0, value_bound]``.

Then adding or removing one user changes the column of distinct users by at most
``max_cells_per_user`` in total (L1), the event counts by ``max_cells_per_user ×
max_events_per_cell`` and the money sums by ``max_cells_per_user × value_bound``: the L1
sensitivities that :mod:`redcat.privacy.noise` scales its noise to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import ibis
import ibis.expr.types as ir
import pandas as pd

from redcat.engine.core import Engine
from redcat.errors import ConfigError
from redcat.settings import PrivacySettings


@dataclass(frozen=True)
class ContributionBounds:
    """How much one user may contribute to one table: cells, events per cell, money per cell."""

    max_cells_per_user: int = 4
    max_events_per_cell: int = 3
    value_bound: float = 1000.0

    def __post_init__(self) -> None:
        if self.max_cells_per_user < 1 or self.max_events_per_cell < 1 or self.value_bound <= 0:
            raise ConfigError("contribution bounds must be positive")

    @classmethod
    def from_settings(cls, settings: PrivacySettings) -> ContributionBounds:
        """Return the bounds set in ``settings``."""
        return cls(
            max_cells_per_user=settings.max_cells_per_user,
            max_events_per_cell=settings.max_events_per_cell,
            value_bound=settings.value_bound,
        )

    def sensitivity(self) -> Mapping[str, float]:
        """Return the L1 sensitivity of each bounded column over a whole table: ``users``
        (distinct users per cell), ``events`` (event count per cell) and ``value`` (money)."""
        return MappingProxyType(
            {
                "users": float(self.max_cells_per_user),
                "events": float(self.max_cells_per_user * self.max_events_per_cell),
                "value": float(self.max_cells_per_user) * self.value_bound,
            }
        )


@dataclass(frozen=True, eq=False)
class BoundedTable:
    """Per-cell aggregates of bounded contributions (pandas), with their sensitivities.

    ``frame`` has the key columns, then ``users`` (distinct users kept in the cell), ``events``
    (their events, at most ``max_events_per_cell`` each) and ``value`` (their money, each clipped
    to ``value_bound``), and the unbounded figures ``raw_users``, ``raw_events``, ``raw_value``
    (what the cell holds before bounding, for measuring the bias bounds cause; never released).
    ``sensitivity`` maps ``users``, ``events``, ``value`` to their L1 sensitivity.
    """

    keys: tuple[str, ...]
    frame: pd.DataFrame
    bounds: ContributionBounds
    sensitivity: Mapping[str, float] = field(default_factory=dict)


def bound_contributions(
    rows: ir.Table,
    *,
    keys: Sequence[str],
    bounds: ContributionBounds,
    user: str = "match_key",
    value: str | None = None,
    salt: str = "redcat-bounds-v1",
) -> ir.Table:
    """Return one row per (user, cell) of ``rows`` (one row per event; cells are the distinct
    values of ``keys``) with the user's bounded contribution: ``events`` (min(events,
    max_events_per_cell)), ``value`` (sum of ``value`` clipped to [0, value_bound]; 0 without a
    value column) and the unbounded ``raw_events`` and ``raw_value``. Only ``max_cells_per_user``
    cells per user remain, chosen by a salted hash of (user, cell)."""
    keys = list(keys)
    amount = rows[value].fill_null(0.0).cast("float64") if value else ibis.literal(0.0)
    per = rows.mutate(_amount=amount).group_by([user, *keys])
    per_cell = per.agg(raw_events=ibis._.count(), raw_value=ibis._["_amount"].sum())
    cell_id = ibis.literal(salt)
    for key in keys:
        cell_id = cell_id + "|" + per_cell[key].cast("string").fill_null("")
    draw = (cell_id + "|" + per_cell[user].cast("string")).hash()
    rank = ibis.row_number().over(group_by=per_cell[user], order_by=[draw, *keys])
    kept = per_cell.mutate(_rank=rank).filter(ibis._["_rank"] < bounds.max_cells_per_user)
    return kept.select(
        user,
        *keys,
        events=ibis.least(kept.raw_events, bounds.max_events_per_cell),
        value=ibis.greatest(ibis.least(kept.raw_value, bounds.value_bound), 0.0),
        raw_events=kept.raw_events,
        raw_value=kept.raw_value,
    )


def bounded_aggregate(
    engine: Engine,
    rows: ir.Table,
    *,
    keys: Sequence[str],
    bounds: ContributionBounds,
    user: str = "match_key",
    value: str | None = None,
) -> BoundedTable:
    """Aggregate ``rows`` (one row per event of a matched user) per cell of ``keys`` after
    :func:`bound_contributions` and return a :class:`BoundedTable` (users, events, money per cell,
    bounded and raw, with L1 sensitivities). Raw figures count every user and event, including
    cells a user lost to the cell cap."""
    keys = list(keys)
    kept = bound_contributions(rows, keys=keys, bounds=bounds, user=user, value=value)
    bounded = kept.group_by(keys).agg(
        users=kept[user].nunique(), events=kept.events.sum(), value=kept.value.sum()
    )
    amount = rows[value].fill_null(0.0).cast("float64") if value else ibis.literal(0.0)
    raw_rows = rows.mutate(_amount=amount)
    raw = raw_rows.group_by(keys).agg(
        raw_users=raw_rows[user].nunique(),
        raw_events=raw_rows.count(),
        raw_value=raw_rows["_amount"].sum(),
    )
    frame = engine.execute(raw.left_join(bounded, keys).drop(*[f"{k}_right" for k in keys]))
    for col in ("users", "events", "raw_users", "raw_events"):
        frame[col] = frame[col].fillna(0).astype("int64")
    for col in ("value", "raw_value"):
        frame[col] = frame[col].fillna(0.0).astype("float64")
    frame = frame[[*keys, "users", "events", "value", "raw_users", "raw_events", "raw_value"]]
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return BoundedTable(
        keys=tuple(keys), frame=frame, bounds=bounds, sensitivity=bounds.sensitivity()
    )
