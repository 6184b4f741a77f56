"""Holdout lift as a brand may receive it: each campaign arm's sums, bounded, thresholded, noisy.

A campaign's randomized arms (:mod:`redcat.lift.campaign`) are large cohorts of matched people;
what the lift needs from each arm is its size and three sums over its people: buyers
(converters), orders and GMV in the outcome window. Here every person's contribution is bounded
in the engine before summing — at most ``max_cells_per_user`` campaign arms per person (chosen by
the same keyed hash as every table, :func:`~redcat.privacy.bounds.bound_contributions`), orders
clipped to ``max_events_per_cell`` and GMV to ``value_bound`` per person and arm — so each sum's
L1 sensitivity is known, and an arm whose buyers number fewer than ``k`` is withheld
(:func:`~redcat.privacy.thresholds.suppress_small_cells`: other row, complementary suppression).

The lift itself is computed afterwards from the released sums (:func:`lift_from_sums`); its
sampling intervals are not released, since the noise is not folded into them yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from redcat.engine.core import Engine
from redcat.lift.campaign import campaign_windows, user_outcomes
from redcat.privacy.bounds import ContributionBounds, bound_contributions
from redcat.privacy.release import Measure
from redcat.privacy.thresholds import OTHER, suppress_small_cells

#: The key of an arm's row: ``<campaign_id>:<arm>``.
CELL = "cell"
ARMS: tuple[str, ...] = ("test", "control")
#: Columns of :func:`lift_from_sums`.
LIFT_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "spend",
    "n_test",
    "n_control",
    "orders_test",
    "orders_control",
    "gmv_test",
    "gmv_control",
    "conv_rate_test",
    "conv_rate_control",
    "rel_lift_orders",
    "incremental_orders",
    "incremental_gmv",
    "iroas",
)


@dataclass(frozen=True, eq=False)
class ArmSums:
    """Bounded, thresholded arm sums of a brand's holdout campaigns.

    ``frame``: one row per campaign arm (``cell`` = ``<campaign>:<arm>``, ``campaign_id``,
    ``arm``) and the other row when arms are withheld, with ``n`` (matched people in the arm),
    ``converters`` (of them with an order), ``orders`` (each person's clipped), ``gmv``
    (currency, each person's clipped) — NaN where withheld — and ``suppressed``, ``is_other``;
    ``measures``: the released columns with their L1 sensitivities; ``spend``: each campaign's
    spend (currency; the content platform's own figure, exact)."""

    frame: pd.DataFrame
    measures: tuple[Measure, ...]
    spend: pd.DataFrame


def arm_sums(
    engine: Engine, brand_id: str, bounds: ContributionBounds, *, window_days: int, k: int
) -> ArmSums:
    """Return ``brand_id``'s bounded, thresholded arm sums (:class:`ArmSums`; the outcome window
    is ``window_days`` after each campaign's last spend day, as in
    :func:`redcat.lift.campaign.user_outcomes`). The threshold counts converters: an arm from
    fewer than ``k`` buyers is withheld."""
    per_user = user_outcomes(engine, brand_id, window_days=window_days)
    # The cell cap and GMV clip of every table: one row per person and arm goes in as one event.
    kept = bound_contributions(per_user, keys=["campaign_id", "arm"], bounds=bounds, value="gmv")
    orders = per_user.select("match_key", "campaign_id", "arm", "orders")
    both = kept.join(orders, ["match_key", "campaign_id", "arm"])
    clipped = ibis.least(both.orders, float(bounds.max_events_per_cell))
    sums = both.group_by(["campaign_id", "arm"]).agg(
        n=both.count(),
        converters=(both.orders > 0).cast("int64").sum(),
        orders=clipped.sum(),
        gmv=both.value.sum(),
    )
    frame = engine.execute(sums).sort_values(["campaign_id", "arm"]).reset_index(drop=True)
    frame.insert(0, CELL, frame["campaign_id"].astype(str) + ":" + frame["arm"].astype(str))
    for col in ("n", "converters"):
        frame[col] = frame[col].fillna(0).astype("int64")
    for col in ("orders", "gmv"):
        frame[col] = frame[col].fillna(0.0).astype("float64")
    cells = float(bounds.max_cells_per_user)
    measures = (
        Measure("n", cells),
        Measure("converters", cells),
        Measure("orders", cells * bounds.max_events_per_cell),
        Measure("gmv", cells * bounds.value_bound, integer=False),
    )
    done = suppress_small_cells(
        frame[[CELL, "n", "converters", "orders", "gmv"]],
        keys=[CELL],
        users="converters",
        measures=["n", "orders", "gmv"],
        k=k,
    )
    if len(done) > len(frame) and not done["suppressed"].iloc[-1]:
        # Like every other row's, the other row's buyers are summed over its arms, so the
        # column adds up; its threshold was judged on distinct people.
        members = done["suppressed"].to_numpy()[: len(frame)]
        done.loc[done.index[-1], "converters"] = float(frame.loc[members, "converters"].sum())
    done["campaign_id"] = [*frame["campaign_id"].astype(str), *([None] * (len(done) - len(frame)))]
    done["arm"] = [*frame["arm"].astype(str), *([None] * (len(done) - len(frame)))]
    camps = campaign_windows(engine, brand_id, window_days=window_days)
    spend = engine.execute(camps.select("campaign_id", "spend"))
    return ArmSums(done, measures, spend)


def lift_from_sums(released: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Return one row per campaign whose two arms were both released: ``campaign_id``,
    ``spend``, ``n_test``, ``n_control``, ``orders_test``, ``orders_control``, ``gmv_test``,
    ``gmv_control`` (released), ``conv_rate_test`` / ``conv_rate_control`` (converters ÷ n,
    clipped to [0, 1]), ``rel_lift_orders`` (orders per person, test ÷ control − 1; NaN without
    control orders), ``incremental_orders`` and ``incremental_gmv`` ((test mean − control mean)
    × test size) and ``iroas`` (incremental GMV ÷ spend). ``released`` holds the released arm
    rows (``cell`` as ``<campaign>:<arm>``, NaN where withheld)."""
    rows = released[released[CELL] != OTHER]
    split = rows[CELL].astype(str).str.rsplit(":", n=1, expand=True)
    arms = rows.assign(campaign_id=split[0], arm=split[1]).set_index(["campaign_id", "arm"])
    by_spend = dict(zip(spend["campaign_id"].astype(str), spend["spend"], strict=True))
    out = []
    for cid in sorted({c for c, _ in arms.index}):
        if (cid, "test") not in arms.index or (cid, "control") not in arms.index:
            continue
        t, c = arms.loc[(cid, "test")], arms.loc[(cid, "control")]
        if t[["n", "orders", "gmv"]].isna().any() or c[["n", "orders", "gmv"]].isna().any():
            continue
        nt, nc = float(t["n"]), float(c["n"])
        if nt <= 0 or nc <= 0:
            continue
        mo_t, mo_c = t["orders"] / nt, c["orders"] / nc
        inc_gmv = (t["gmv"] / nt - c["gmv"] / nc) * nt
        cost = float(by_spend.get(cid, np.nan))
        out.append(
            {
                "campaign_id": cid,
                "spend": cost,
                "n_test": nt,
                "n_control": nc,
                "orders_test": float(t["orders"]),
                "orders_control": float(c["orders"]),
                "gmv_test": float(t["gmv"]),
                "gmv_control": float(c["gmv"]),
                "conv_rate_test": min(max(float(t["converters"]) / nt, 0.0), 1.0),
                "conv_rate_control": min(max(float(c["converters"]) / nc, 0.0), 1.0),
                "rel_lift_orders": mo_t / mo_c - 1.0 if mo_c > 0 else np.nan,
                "incremental_orders": (mo_t - mo_c) * nt,
                "incremental_gmv": inc_gmv,
                "iroas": inc_gmv / cost if cost > 0 else np.nan,
            }
        )
    return pd.DataFrame(out, columns=list(LIFT_COLUMNS))


__all__ = ["ARMS", "CELL", "LIFT_COLUMNS", "ArmSums", "arm_sums", "lift_from_sums"]
