"""Holdout lift (增量) of a brand's boosted campaigns, from the randomized ``cr_holdouts`` arms.

A campaign's randomized units are its matched holdout users (``cr_holdouts``: one row per
matched user and campaign, arm test | control). Their outcome is what they ordered at the
brand's shops (:func:`redcat.engine.derived.conversions`) in the campaign's outcome window: from
its first spend date (00:00) to the end of its last spend date + ``window_days``. A user with no
order there counts as 0, so every mean is per randomized user, not per converter.

Per-arm sums and sums of squares are computed in the engine (one Ibis group-by); only one row
per campaign and arm reaches pandas, where :mod:`redcat.lift.stats` turns them into intervals.

Sample-ratio mismatch: the design split is not in the matched data. When ``control_share`` is
given it is the design; otherwise the expected split is the campaign's split in the content
party's full ``holdouts`` list (every randomized user, matched or not). Matching must not depend
on the arm, so a matched split far from the randomized one flags arm-dependent loss. Without a
``holdouts`` table the check falls back to an equal split — rarely the design, so read
``srm_flag`` then as "unequal arms", not as a fault.
"""

from __future__ import annotations

import math
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from redcat.engine.core import Engine
from redcat.engine.derived import conversions
from redcat.engine.store import has_table
from redcat.lift.stats import (
    ArmSummary,
    Interval,
    incremental_total,
    is_underpowered,
    minimum_detectable_effect,
    relative_lift,
    sample_ratio_mismatch,
    welch_test,
)
from redcat.settings import LiftSettings

_DEFAULTS = LiftSettings()

#: Columns of :func:`campaign_lift`, in order.
COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "first_date",
    "last_date",
    "window_end",
    "spend",
    "n_test",
    "n_control",
    "converters_test",
    "converters_control",
    "orders_test",
    "orders_control",
    "gmv_test",
    "gmv_control",
    "mean_orders_test",
    "mean_orders_control",
    "mean_gmv_test",
    "mean_gmv_control",
    "abs_lift_orders",
    "abs_lift_orders_low",
    "abs_lift_orders_high",
    "rel_lift_orders",
    "rel_lift_orders_low",
    "rel_lift_orders_high",
    "p_value_orders",
    "abs_lift_gmv",
    "abs_lift_gmv_low",
    "abs_lift_gmv_high",
    "rel_lift_gmv",
    "rel_lift_gmv_low",
    "rel_lift_gmv_high",
    "p_value_gmv",
    "incremental_orders",
    "incremental_orders_low",
    "incremental_orders_high",
    "incremental_gmv",
    "incremental_gmv_low",
    "incremental_gmv_high",
    "iroas",
    "iroas_low",
    "iroas_high",
    "mde_orders",
    "underpowered",
    "srm_expected_control_share",
    "srm_p_value",
    "srm_flag",
)


def arm_sums(engine: Engine, brand_id: str, *, window_days: int) -> ir.Table:
    """Return the Ibis expression of per-campaign, per-arm sufficient statistics.

    One row per campaign of ``brand_id`` with matched holdouts and arm: ``campaign_id``,
    ``first_date``, ``last_date`` (spend dates), ``spend`` (currency, all the campaign's spend),
    ``arm``, ``n`` (users), ``converters`` (users with ≥ 1 order), ``orders``, ``orders_sq``
    (Σ orders² over users), ``gmv`` (currency), ``gmv_sq`` (Σ gmv² over users)."""
    spend = engine.table("spend")
    notes = engine.table("notes").filter(lambda t: t.brand_id == brand_id)
    spend = spend.semi_join(notes, "note_id")
    camps = spend.group_by("campaign_id").agg(
        first_date=spend.date.min(), last_date=spend.date.max(), spend=spend.amount.sum()
    )
    camps = camps.mutate(
        start=camps.first_date.cast("timestamp"),
        end=(camps.last_date + ibis.interval(days=window_days + 1)).cast("timestamp"),
    )
    hold = engine.table("cr_holdouts")
    units = hold.join(camps, "campaign_id")
    conv = conversions(engine, brand_id).select("match_key", "ts", "event_key", "amount")
    joined = units.left_join(
        conv,
        [
            units.match_key == conv.match_key,
            conv.ts >= units.start,
            conv.ts < units.end,
        ],
    )
    joined = joined.select(
        units.campaign_id,
        units.arm,
        units.match_key,
        units.first_date,
        units.last_date,
        units.spend,
        event_key=conv.event_key,
        amount=conv.amount,
    )
    per_user = joined.group_by(
        ["campaign_id", "arm", "match_key", "first_date", "last_date", "spend"]
    ).agg(
        orders=joined.event_key.count(),
        gmv=joined.amount.fill_null(0.0).sum(),
    )
    per_user = per_user.mutate(
        orders=per_user.orders.cast("float64"), gmv=per_user.gmv.fill_null(0.0)
    )
    return per_user.group_by(["campaign_id", "arm", "first_date", "last_date", "spend"]).agg(
        n=per_user.count(),
        converters=(per_user.orders > 0).cast("int64").sum(),
        orders=per_user.orders.sum(),
        orders_sq=(per_user.orders * per_user.orders).sum(),
        gmv=per_user.gmv.sum(),
        gmv_sq=(per_user.gmv * per_user.gmv).sum(),
    )


def summary_from_sums(n: int, total: float, total_sq: float) -> ArmSummary:
    """Return the :class:`ArmSummary` of ``n`` units whose values sum to ``total`` and whose
    squares sum to ``total_sq``: mean total/n, sample variance (Σx² − n·mean²)/(n − 1) (clipped at
    0 against rounding; NaN when n < 2)."""
    mean = total / n if n else math.nan
    var = max((total_sq - n * mean * mean) / (n - 1), 0.0) if n > 1 else math.nan
    return ArmSummary(n=n, mean=mean, var=var)


def _design_shares(engine: Engine) -> dict[str, float]:
    """Control share of every campaign's full randomized list (``holdouts``, before matching)."""
    if not has_table(engine.duck, "holdouts"):
        return {}
    h = engine.table("holdouts")
    agg = h.group_by("campaign_id").agg(
        n=h.count(), control=(h.arm == "control").cast("int64").sum()
    )
    frame = engine.execute(agg)
    shares: dict[str, float] = {}
    for cid, n, control in zip(frame["campaign_id"], frame["n"], frame["control"], strict=True):
        if 0 < int(control) < int(n):
            shares[str(cid)] = int(control) / int(n)
    return shares


def _ratio(value: float, spend: float) -> float:
    return value / spend if spend > 0 else math.nan


def _campaign_row(
    cid: str, test: pd.Series, control: pd.Series, alpha: float, expected_share: float | None
) -> dict[str, Any]:
    nt, nc = int(test["n"]), int(control["n"])
    ot = summary_from_sums(nt, float(test["orders"]), float(test["orders_sq"]))
    oc = summary_from_sums(nc, float(control["orders"]), float(control["orders_sq"]))
    gt = summary_from_sums(nt, float(test["gmv"]), float(test["gmv_sq"]))
    gc = summary_from_sums(nc, float(control["gmv"]), float(control["gmv_sq"]))
    w_o = welch_test(ot, oc, alpha=alpha)
    w_g = welch_test(gt, gc, alpha=alpha)
    r_o = relative_lift(ot, oc, alpha=alpha)
    r_g = relative_lift(gt, gc, alpha=alpha)
    inc_o = incremental_total(w_o.lift, nt)
    inc_g = incremental_total(w_g.lift, nt)
    spend = float(test["spend"])
    mde = minimum_detectable_effect(ot, oc, alpha=alpha)
    share = expected_share if expected_share is not None else 0.5
    srm = sample_ratio_mismatch([nt, nc], [1.0 - share, share])
    row: dict[str, Any] = {
        "campaign_id": cid,
        "first_date": test["first_date"],
        "last_date": test["last_date"],
        "spend": spend,
        "n_test": nt,
        "n_control": nc,
        "converters_test": int(test["converters"]),
        "converters_control": int(control["converters"]),
        "orders_test": round(float(test["orders"])),
        "orders_control": round(float(control["orders"])),
        "gmv_test": float(test["gmv"]),
        "gmv_control": float(control["gmv"]),
        "mean_orders_test": ot.mean,
        "mean_orders_control": oc.mean,
        "mean_gmv_test": gt.mean,
        "mean_gmv_control": gc.mean,
        "p_value_orders": w_o.p_value,
        "p_value_gmv": w_g.p_value,
        "iroas": _ratio(inc_g.estimate, spend),
        "iroas_low": _ratio(inc_g.low, spend),
        "iroas_high": _ratio(inc_g.high, spend),
        "mde_orders": mde,
        "underpowered": is_underpowered(w_o.lift, mde, oc.mean),
        "srm_expected_control_share": share,
        "srm_p_value": srm.p_value,
        "srm_flag": srm.flagged,
    }
    parts: dict[str, Interval] = {
        "abs_lift_orders": w_o.lift,
        "rel_lift_orders": r_o,
        "abs_lift_gmv": w_g.lift,
        "rel_lift_gmv": r_g,
        "incremental_orders": inc_o,
        "incremental_gmv": inc_g,
    }
    for name, iv in parts.items():
        row[name], row[f"{name}_low"], row[f"{name}_high"] = iv.estimate, iv.low, iv.high
    return row


def campaign_lift(
    engine: Engine,
    brand_id: str,
    *,
    window_days: int,
    alpha: float = _DEFAULTS.alpha,
    control_share: float | None = None,
) -> pd.DataFrame:
    """Return the holdout lift of each campaign of ``brand_id`` that has matched users in both
    arms (at least 2 each), one row per campaign sorted by ``campaign_id`` (columns:
    :data:`COLUMNS`).

    Outcomes are orders (count) and GMV (currency) at the brand's shops per randomized matched
    user, from the campaign's first spend date to its last spend date + ``window_days`` (days).
    ``n_*`` are users; ``converters_*`` users with ≥ 1 order; ``mean_*`` per-user means (users
    without orders count as 0). Absolute lift is Welch's (1 − ``alpha``) t-interval, relative
    lift the delta-method interval, both with two-sided p-values of the absolute lift.
    ``incremental_*`` = absolute lift × n_test (orders, currency); ``iroas`` = incremental GMV ÷
    the campaign's spend (currency per currency; NaN without spend), its bounds the incremental
    GMV bounds ÷ spend. ``mde_orders`` is the minimum detectable lift in orders per user
    (power from settings); ``underpowered`` flags an insignificant lift with an MDE above 10% of
    the control mean. SRM tests the arm counts against ``control_share`` when given, else the
    campaign's split in the unmatched ``holdouts`` list (see the module docstring).
    """
    if window_days < 0:
        raise ValueError("window_days must be 0 or more")
    frame = engine.execute(arm_sums(engine, brand_id, window_days=window_days))
    shares = {} if control_share is not None else _design_shares(engine)
    rows = []
    for cid, group in frame.groupby("campaign_id", sort=True):
        arms = {str(a): r for a, r in zip(group["arm"], group.to_dict("records"), strict=True)}
        if "test" not in arms or "control" not in arms:
            continue
        test, control = pd.Series(arms["test"]), pd.Series(arms["control"])
        if int(test["n"]) < 2 or int(control["n"]) < 2:
            continue
        expected = control_share if control_share is not None else shares.get(str(cid))
        row = _campaign_row(str(cid), test, control, alpha, expected)
        row["window_end"] = pd.Timestamp(test["last_date"]) + pd.Timedelta(days=window_days)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))
