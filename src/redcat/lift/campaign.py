"""Holdout lift (增量) of a brand's boosted campaigns, from the randomized ``cr_holdouts`` arms.

A campaign's randomized units are its matched holdout users (``cr_holdouts``: one row per
matched user and campaign, arm test | control). Their outcome is what they ordered at the
brand's shops (:func:`redcat.engine.derived.conversions`) in the campaign's outcome window: from
its first spend date (00:00) to the end of its last spend date + ``window_days``. A user with no
order there counts as 0, so every mean is per randomized user, not per converter.

Per-arm sums and sums of squares are computed in the engine (one Ibis group-by); only one row
per campaign and arm reaches pandas, where :mod:`redcat.lift.stats` turns them into intervals
(the bootstrap option alone fetches one row per user). :func:`campaign_lift_by` breaks the lift
down by retailer (per-arm sums per retailer) or groups campaigns by their notes' type or creator.

Sample-ratio mismatch: the design split is not in the matched data. When ``control_share`` is
given it is the design; otherwise the expected split is the campaign's split in the content
party's full ``holdouts`` list (every randomized user, matched or not). Matching must not depend
on the arm, so a matched split far from the randomized one flags arm-dependent loss. Without a
``holdouts`` table the check falls back to an equal split — rarely the design, so read
``srm_flag`` then as "unequal arms", not as a fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats as sps

from redcat.engine.core import Engine
from redcat.engine.derived import conversions
from redcat.lift.stats import (
    ArmSummary,
    Interval,
    bootstrap_lift,
    exposure_adjusted_lift,
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
    "incremental_orders_se",
    "incremental_gmv",
    "incremental_gmv_low",
    "incremental_gmv_high",
    "incremental_gmv_se",
    "iroas",
    "iroas_low",
    "iroas_high",
    "reached_test",
    "reach_test",
    "reach_control",
    "exposed_lift_orders",
    "exposed_lift_orders_low",
    "exposed_lift_orders_high",
    "exposed_lift_gmv",
    "exposed_lift_gmv_low",
    "exposed_lift_gmv_high",
    "mde_orders",
    "underpowered",
    "srm_expected_control_share",
    "srm_p_value",
    "srm_flag",
)


#: Columns :func:`campaign_lift` adds with ``bootstrap`` > 0: percentile bootstrap intervals.
BOOTSTRAP_COLUMNS: tuple[str, ...] = (
    "incremental_orders_boot_low",
    "incremental_orders_boot_high",
    "incremental_gmv_boot_low",
    "incremental_gmv_boot_high",
    "iroas_boot_low",
    "iroas_boot_high",
)

#: Columns of :func:`campaign_lift_by` with ``by="retailer"``: per campaign and retailer.
RETAILER_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "retailer_id",
    *(c for c in COLUMNS if c != "campaign_id" and not c.startswith(("reach", "exposed_"))),
)

#: Breakdowns :func:`campaign_lift_by` offers.
BREAKDOWNS: tuple[str, ...] = ("retailer", "note_type", "creator")

#: Columns of :func:`campaign_lift_by` with ``by="note_type"`` (first column ``note_type``) or
#: ``by="creator"`` (first column ``creator_id``).
GROUP_COLUMNS: tuple[str, ...] = (
    "campaigns",
    "n_test",
    "n_control",
    "spend",
    "orders_test",
    "orders_control",
    "incremental_orders",
    "incremental_orders_low",
    "incremental_orders_high",
    "p_value_orders",
    "incremental_gmv",
    "incremental_gmv_low",
    "incremental_gmv_high",
    "iroas",
    "iroas_low",
    "iroas_high",
    "mde_incremental_orders",
    "underpowered",
    "srm_flagged_campaigns",
    "srm_flag",
)


def campaign_windows(engine: Engine, brand_id: str, *, window_days: int) -> ir.Table:
    """Return one row per campaign of ``brand_id`` with spend: ``campaign_id``, ``first_date``,
    ``last_date`` (spend dates), ``spend`` (currency), ``start`` (first date 00:00), ``end``
    (outcome window end, exclusive: last date + ``window_days`` + 1 day, 00:00) and
    ``reach_end`` (end of the last spend day: paid delivery happens on spend days)."""
    spend = engine.table("spend")
    notes = engine.table("notes").filter(lambda t: t.brand_id == brand_id)
    spend = spend.semi_join(notes, "note_id")
    camps = spend.group_by("campaign_id").agg(
        first_date=spend.date.min(), last_date=spend.date.max(), spend=spend.amount.sum()
    )
    return camps.mutate(
        start=camps.first_date.cast("timestamp"),
        end=(camps.last_date + ibis.interval(days=window_days + 1)).cast("timestamp"),
        reach_end=(camps.last_date + ibis.interval(days=1)).cast("timestamp"),
    )


def campaign_notes(engine: Engine, brand_id: str) -> ir.Table:
    """Return the distinct (``campaign_id``, ``note_id``, ``note_type``, ``creator_id``) of the
    brand's notes with spend: a campaign's notes are those its spend rows name."""
    spend = engine.table("spend")
    notes = engine.table("notes").filter(lambda t: t.brand_id == brand_id)
    pairs = spend.select("campaign_id", "note_id").distinct()
    return pairs.join(notes.select("note_id", "note_type", "creator_id"), "note_id")


def _reached(engine: Engine, brand_id: str, camps: ir.Table) -> ir.Table:
    """(campaign_id, match_key, reached=True) for matched users with an impression of one of the
    campaign's notes between its first spend date and the end of its last spend day."""
    ev = engine.table("cr_content_events")
    ev = ev.filter(ev.event == "impression")
    cn = campaign_notes(engine, brand_id).select("campaign_id", "note_id")
    cn = cn.join(camps.select("campaign_id", "start", "reach_end"), "campaign_id")
    hit = cn.join(
        ev,
        [cn.note_id == ev.note_id, ev.ts >= cn.start, ev.ts < cn.reach_end],
    )
    return hit.select(hit.campaign_id, hit.match_key).distinct().mutate(reached=ibis.literal(True))


def user_outcomes(engine: Engine, brand_id: str, *, window_days: int) -> ir.Table:
    """Return one row per campaign and matched holdout user of ``brand_id``: ``campaign_id``,
    ``arm``, ``match_key``, ``first_date``, ``last_date``, ``spend``, ``orders`` (float),
    ``gmv`` (currency; 0 without orders) in the outcome window, and ``reached`` (bool: an
    impression of one of the campaign's notes during its spend days, paid or organic — the data
    do not say which)."""
    camps = campaign_windows(engine, brand_id, window_days=window_days)
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
    reached = _reached(engine, brand_id, camps)
    per_user = per_user.left_join(reached, ["campaign_id", "match_key"])
    return per_user.select(
        "campaign_id",
        "arm",
        "match_key",
        "first_date",
        "last_date",
        "spend",
        orders=per_user.orders.cast("float64"),
        gmv=per_user.gmv.fill_null(0.0),
        reached=per_user.reached.fill_null(False),
    )


def arm_sums(engine: Engine, brand_id: str, *, window_days: int) -> ir.Table:
    """Return the Ibis expression of per-campaign, per-arm sufficient statistics.

    One row per campaign of ``brand_id`` with matched holdouts and arm: ``campaign_id``,
    ``first_date``, ``last_date`` (spend dates), ``spend`` (currency, all the campaign's spend),
    ``arm``, ``n`` (users), ``converters`` (users with ≥ 1 order), ``orders``, ``orders_sq``
    (Σ orders² over users), ``gmv`` (currency), ``gmv_sq`` (Σ gmv² over users), ``reached``
    (users reached, see :func:`user_outcomes`), ``orders_reached`` and ``gmv_reached`` (orders
    and GMV of the reached users)."""
    per_user = user_outcomes(engine, brand_id, window_days=window_days)
    hit = per_user.reached.cast("int64")
    return per_user.group_by(["campaign_id", "arm", "first_date", "last_date", "spend"]).agg(
        n=per_user.count(),
        converters=(per_user.orders > 0).cast("int64").sum(),
        orders=per_user.orders.sum(),
        orders_sq=(per_user.orders * per_user.orders).sum(),
        gmv=per_user.gmv.sum(),
        gmv_sq=(per_user.gmv * per_user.gmv).sum(),
        reached=hit.sum(),
        orders_reached=(per_user.orders * hit).sum(),
        gmv_reached=(per_user.gmv * hit).sum(),
    )


def retailer_arm_sums(engine: Engine, brand_id: str, *, window_days: int) -> ir.Table:
    """Return per campaign, arm and retailer the sums of orders at the brand's shops on that
    retailer over the arm's matched holdout users: ``campaign_id``, ``arm``, ``retailer_id``,
    ``converters``, ``orders``, ``orders_sq``, ``gmv``, ``gmv_sq`` (users without an order there
    add 0 to every sum, so the arm's size comes from :func:`arm_sums`). Retailers where an arm
    has no order have no row for it."""
    camps = campaign_windows(engine, brand_id, window_days=window_days)
    units = engine.table("cr_holdouts").join(camps, "campaign_id")
    conv = conversions(engine, brand_id).select(
        "match_key", "retailer_id", "ts", "event_key", "amount"
    )
    joined = units.join(
        conv,
        [units.match_key == conv.match_key, conv.ts >= units.start, conv.ts < units.end],
    )
    per_user = joined.group_by(
        [joined.campaign_id, joined.arm, joined.match_key, joined.retailer_id]
    ).agg(orders=joined.event_key.count().cast("float64"), gmv=joined.amount.fill_null(0.0).sum())
    return per_user.group_by(["campaign_id", "arm", "retailer_id"]).agg(
        converters=per_user.count(),
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
    if not engine.has_table("holdouts"):
        return {}
    h = engine.table("holdouts")
    agg = h.group_by("campaign_id").agg(
        n=h.count(), control=(h.arm == "control").cast("int64").sum()
    )
    frame = engine.execute(agg)
    if frame.empty and engine.has_table("holdout_design"):
        # a clean room: the content platform shipped its lists' sizes, not the lists
        d = engine.table("holdout_design")
        frame = engine.execute(d.select("campaign_id", n=d.users, control=d.control))
    shares: dict[str, float] = {}
    for cid, n, control in zip(frame["campaign_id"], frame["n"], frame["control"], strict=True):
        if 0 < int(control) < int(n):
            shares[str(cid)] = int(control) / int(n)
    return shares


def _ratio(value: float, spend: float) -> float:
    return value / spend if spend > 0 else math.nan


def _measure(
    test: Mapping[str, Any],
    control: Mapping[str, Any],
    nt: int,
    nc: int,
    spend: float,
    alpha: float,
    expected_share: float | None,
) -> tuple[dict[str, Any], dict[str, Interval]]:
    """The lift figures of one comparison: ``test`` / ``control`` hold the arms' sums
    (converters, orders, orders_sq, gmv, gmv_sq) over ``nt`` / ``nc`` users."""
    ot = summary_from_sums(nt, float(test["orders"]), float(test["orders_sq"]))
    oc = summary_from_sums(nc, float(control["orders"]), float(control["orders_sq"]))
    gt = summary_from_sums(nt, float(test["gmv"]), float(test["gmv_sq"]))
    gc = summary_from_sums(nc, float(control["gmv"]), float(control["gmv_sq"]))
    w_o = welch_test(ot, oc, alpha=alpha)
    w_g = welch_test(gt, gc, alpha=alpha)
    inc_g = incremental_total(w_g.lift, nt)
    mde = minimum_detectable_effect(ot, oc, alpha=alpha)
    share = expected_share if expected_share is not None else 0.5
    srm = sample_ratio_mismatch([nt, nc], [1.0 - share, share])
    row: dict[str, Any] = {
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
        # no order in either arm: the interval [0, 0] and MDE 0 only say nothing was seen
        "underpowered": is_underpowered(w_o.lift, mde, oc.mean) or ot.mean == oc.mean == 0.0,
        "srm_expected_control_share": share,
        "srm_p_value": srm.p_value,
        "srm_flag": srm.flagged,
    }
    parts: dict[str, Interval] = {
        "abs_lift_orders": w_o.lift,
        "rel_lift_orders": relative_lift(ot, oc, alpha=alpha),
        "abs_lift_gmv": w_g.lift,
        "rel_lift_gmv": relative_lift(gt, gc, alpha=alpha),
        "incremental_orders": incremental_total(w_o.lift, nt),
        "incremental_gmv": inc_g,
    }
    if "reached" in test:
        reached = int(test["reached"])
        parts["exposed_lift_orders"] = exposure_adjusted_lift(
            ot, oc, reached=reached, reached_total=float(test["orders_reached"]), alpha=alpha
        )
        parts["exposed_lift_gmv"] = exposure_adjusted_lift(
            gt, gc, reached=reached, reached_total=float(test["gmv_reached"]), alpha=alpha
        )
        row["reached_test"] = reached
        row["reach_test"] = reached / nt
        row["reach_control"] = int(control["reached"]) / nc
    for name, iv in parts.items():
        row[name], row[f"{name}_low"], row[f"{name}_high"] = iv.estimate, iv.low, iv.high
    row["incremental_orders_se"] = parts["incremental_orders"].se
    row["incremental_gmv_se"] = parts["incremental_gmv"].se
    return row, parts


def _campaign_arms(frame: pd.DataFrame) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(test, control) sums per campaign with at least 2 matched users in each arm."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for cid, group in frame.groupby("campaign_id", sort=True):
        arms: dict[str, dict[str, Any]] = {
            str(a): {str(k): v for k, v in r.items()}
            for a, r in zip(group["arm"], group.to_dict("records"), strict=True)
        }
        if "test" not in arms or "control" not in arms:
            continue
        if int(arms["test"]["n"]) < 2 or int(arms["control"]["n"]) < 2:
            continue
        out[str(cid)] = (arms["test"], arms["control"])
    return out


def _check(window_days: int, alpha: float, bootstrap: int = 0) -> None:
    if window_days < 0:
        raise ValueError("window_days must be 0 or more")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie strictly between 0 and 1")
    if bootstrap < 0:
        raise ValueError("bootstrap resamples must be 0 or more")


def campaign_lift(
    engine: Engine,
    brand_id: str,
    *,
    window_days: int,
    alpha: float = _DEFAULTS.alpha,
    control_share: float | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Return the holdout lift of each campaign of ``brand_id`` that has matched users in both
    arms (at least 2 each), one row per campaign sorted by ``campaign_id`` (columns:
    :data:`COLUMNS`, plus :data:`BOOTSTRAP_COLUMNS` when ``bootstrap`` > 0).

    Outcomes are orders (count) and GMV (currency) at the brand's shops per randomized matched
    user, from the campaign's first spend date to its last spend date + ``window_days`` (days).
    ``n_*`` are users; ``converters_*`` users with ≥ 1 order; ``mean_*`` per-user means (users
    without orders count as 0). Absolute lift is Welch's (1 − ``alpha``) t-interval (an arm
    without spread, e.g. a control arm with no order, gets the pooled variance: see
    :func:`redcat.lift.stats.variance_floor`), relative lift the delta-method interval, both
    with two-sided p-values of the absolute lift. ``incremental_*`` = absolute lift × n_test
    (orders, currency): the ITT effect summed over the matched test arm. ``iroas`` =
    incremental GMV ÷ the campaign's spend (currency per currency; NaN without spend), its
    bounds the incremental GMV bounds ÷ spend.

    Exposure-adjusted lift: ``reached_test`` test users (share ``reach_test``) saw one of the
    campaign's notes during its spend days; ``exposed_lift_*`` = ITT lift ÷ reach_test is the
    lift per reached test user (Bloom's estimator; orders or currency per reached user) with a
    delta-method interval, assuming a test user the campaign did not reach is unaffected by being
    in test. ``reach_control`` (organic reach of the same notes in control) is shown for
    context; the estimator does not need it.

    ``mde_orders`` is the minimum detectable lift in orders per user (power from settings);
    ``underpowered`` flags an insignificant lift with an MDE above 10% of the control mean, or
    no order in either arm (its interval [0, 0] and MDE 0 are no measurement). SRM
    tests the arm counts against ``control_share`` when given, else the campaign's split in the
    unmatched ``holdouts`` list (see the module docstring). With ``bootstrap`` resamples the
    percentile bootstrap intervals of incremental orders, GMV and iROAS are added (seeded by
    ``seed``; orders and GMV resample the same users, each arm's users taken in ascending
    (orders, GMV) order so the same data give the same intervals bit for bit).
    """
    _check(window_days, alpha, bootstrap)
    frame = engine.execute(arm_sums(engine, brand_id, window_days=window_days))
    shares = {} if control_share is not None else _design_shares(engine)
    rows = []
    for cid, (test, control) in _campaign_arms(frame).items():
        expected = control_share if control_share is not None else shares.get(cid)
        nt, nc = int(test["n"]), int(control["n"])
        row, _ = _measure(test, control, nt, nc, float(test["spend"]), alpha, expected)
        row["campaign_id"] = cid
        row["first_date"] = test["first_date"]
        row["last_date"] = test["last_date"]
        row["window_end"] = pd.Timestamp(test["last_date"]) + pd.Timedelta(days=window_days)
        rows.append(row)
    result = pd.DataFrame(rows, columns=list(COLUMNS))
    if bootstrap > 0:
        result = _with_bootstrap(engine, brand_id, result, window_days, alpha, bootstrap, seed)
    return result


def _with_bootstrap(
    engine: Engine,
    brand_id: str,
    result: pd.DataFrame,
    window_days: int,
    alpha: float,
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    """``result`` with :data:`BOOTSTRAP_COLUMNS` from each campaign's per-user outcomes."""
    users = engine.execute(
        user_outcomes(engine, brand_id, window_days=window_days).select(
            "campaign_id", "arm", "orders", "gmv"
        )
    )
    # A fixed order of users, whatever order the engine returns them in, keeps the seeded
    # resamples reproducible bit for bit.
    users = users.sort_values(["campaign_id", "arm", "orders", "gmv"], kind="stable")
    by_campaign = dict(tuple(users.groupby("campaign_id", sort=False)))
    cols: dict[str, list[float]] = {c: [] for c in BOOTSTRAP_COLUMNS}
    for cid, nt, spend in zip(
        result["campaign_id"], result["n_test"], result["spend"], strict=True
    ):
        u = by_campaign[cid]
        test, control = u[u["arm"] == "test"], u[u["arm"] == "control"]
        for outcome in ("orders", "gmv"):
            # the same seed for both outcomes: GMV resamples the very users orders did
            boot = bootstrap_lift(
                test[outcome].to_numpy(dtype=np.float64),
                control[outcome].to_numpy(dtype=np.float64),
                resamples=resamples,
                seed=seed,
                alpha=alpha,
            )
            cols[f"incremental_{outcome}_boot_low"].append(boot.abs_low * nt)
            cols[f"incremental_{outcome}_boot_high"].append(boot.abs_high * nt)
            if outcome == "gmv":
                cols["iroas_boot_low"].append(_ratio(boot.abs_low * nt, float(spend)))
                cols["iroas_boot_high"].append(_ratio(boot.abs_high * nt, float(spend)))
    out = result.copy()
    for name, values in cols.items():
        out[name] = pd.Series(values, index=out.index, dtype="float64")
    return out


def campaign_lift_by(
    engine: Engine,
    brand_id: str,
    by: str,
    *,
    window_days: int,
    alpha: float = _DEFAULTS.alpha,
    control_share: float | None = None,
) -> pd.DataFrame:
    """Return the holdout lift of ``brand_id``'s campaigns broken down ``by`` retailer, note
    type or creator (one of :data:`BREAKDOWNS`). Only campaigns :func:`campaign_lift` measures
    take part.

    ``retailer`` (columns :data:`RETAILER_COLUMNS`): one row per campaign and retailer with an
    order in either arm, sorted by campaign then retailer. Units are all the campaign's matched
    holdout users (randomization is per campaign, not per retailer); the outcome is orders and GMV
    at the brand's shops on that retailer, so a campaign's retailer rows add up to its
    incremental orders and GMV. ``spend`` is the campaign's whole spend (spend is not per
    retailer): a row's ``iroas`` is that retailer's share of the campaign's iROAS. SRM and the
    underpowered flag are computed per row (SRM repeats the campaign's).

    ``note_type`` / ``creator`` (first column ``note_type`` / ``creator_id``, then
    :data:`GROUP_COLUMNS`): a campaign's users map to the types (creators) of all the notes its
    spend names, joined with ``+`` (``"ad"``, ``"ad+partnership"``, ``"K0001+K0042"``), so each
    campaign falls in exactly one group. A group's incremental orders and GMV are the sums of its
    campaigns' estimates, with normal intervals from the summed variances: each campaign
    randomizes its own arms independently, so the estimates are uncorrelated even when campaigns
    share users. (Pooling the per-arm sums across campaigns instead would mix campaigns with
    different control shares in unequal proportions across arms — Simpson's paradox.) Users are
    campaign-users: one person in two campaigns counts twice. ``mde_incremental_orders`` is the
    group's minimum detectable incremental orders; ``underpowered`` flags an interval holding 0
    with an MDE above 10% of the control arms' orders scaled to the test arms;
    ``srm_flagged_campaigns`` counts flagged campaigns and ``srm_flag`` is set when any is.
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}, got {by!r}")
    _check(window_days, alpha)
    if by == "retailer":
        return _by_retailer(engine, brand_id, window_days, alpha, control_share)
    per_campaign = campaign_lift(
        engine, brand_id, window_days=window_days, alpha=alpha, control_share=control_share
    )
    return _by_group(engine, brand_id, per_campaign, by, alpha)


def _by_retailer(
    engine: Engine, brand_id: str, window_days: int, alpha: float, control_share: float | None
) -> pd.DataFrame:
    frame = engine.execute(arm_sums(engine, brand_id, window_days=window_days))
    per = engine.execute(retailer_arm_sums(engine, brand_id, window_days=window_days))
    shares = {} if control_share is not None else _design_shares(engine)
    zero = {"converters": 0, "orders": 0.0, "orders_sq": 0.0, "gmv": 0.0, "gmv_sq": 0.0}
    rows = []
    for cid, (test, control) in _campaign_arms(frame).items():
        mine = per[per["campaign_id"] == cid]
        expected = control_share if control_share is not None else shares.get(cid)
        for rid in sorted({str(r) for r in mine["retailer_id"]}):
            arms: dict[str, Mapping[str, Any]] = {
                str(a): {str(k): v for k, v in r.items()}
                for a, r in zip(
                    mine["arm"][mine["retailer_id"] == rid],
                    mine[mine["retailer_id"] == rid].to_dict("records"),
                    strict=True,
                )
            }
            nt, nc = int(test["n"]), int(control["n"])
            row, _ = _measure(
                arms.get("test", zero),
                arms.get("control", zero),
                nt,
                nc,
                float(test["spend"]),
                alpha,
                expected,
            )
            row["campaign_id"], row["retailer_id"] = cid, rid
            row["first_date"], row["last_date"] = test["first_date"], test["last_date"]
            row["window_end"] = pd.Timestamp(test["last_date"]) + pd.Timedelta(days=window_days)
            rows.append(row)
    return pd.DataFrame(rows, columns=list(RETAILER_COLUMNS))


def _by_group(
    engine: Engine, brand_id: str, per_campaign: pd.DataFrame, by: str, alpha: float
) -> pd.DataFrame:
    key = "note_type" if by == "note_type" else "creator_id"
    cn = engine.execute(campaign_notes(engine, brand_id).select("campaign_id", key))
    label = {
        str(cid): "+".join(sorted({str(v) for v in g[key]}))
        for cid, g in cn.groupby("campaign_id", sort=False)
    }
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    z_power = z + float(sps.norm.ppf(_DEFAULTS.power))
    frame = per_campaign.assign(_group=[label.get(str(c), "") for c in per_campaign["campaign_id"]])
    rows = []
    for group, g in frame.groupby("_group", sort=True):
        se_o = math.sqrt(float((g["incremental_orders_se"] ** 2).sum()))
        se_g = math.sqrt(float((g["incremental_gmv_se"] ** 2).sum()))
        inc_o, inc_g = float(g["incremental_orders"].sum()), float(g["incremental_gmv"].sum())
        spend = float(g["spend"].sum())
        lo_o, hi_o = inc_o - z * se_o, inc_o + z * se_o
        lo_g, hi_g = inc_g - z * se_g, inc_g + z * se_g
        mde = z_power * se_o
        # control orders per control user, scaled to the test arms' users
        baseline = float((g["mean_orders_control"] * g["n_test"]).sum())
        p = float(2.0 * sps.norm.sf(abs(inc_o) / se_o)) if se_o > 0 else float(inc_o == 0.0)
        rows.append(
            {
                key: group,
                "campaigns": ",".join(str(c) for c in g["campaign_id"]),
                "n_test": int(g["n_test"].sum()),
                "n_control": int(g["n_control"].sum()),
                "spend": spend,
                "orders_test": int(g["orders_test"].sum()),
                "orders_control": int(g["orders_control"].sum()),
                "incremental_orders": inc_o,
                "incremental_orders_low": lo_o,
                "incremental_orders_high": hi_o,
                "p_value_orders": p,
                "incremental_gmv": inc_g,
                "incremental_gmv_low": lo_g,
                "incremental_gmv_high": hi_g,
                "iroas": _ratio(inc_g, spend),
                "iroas_low": _ratio(lo_g, spend),
                "iroas_high": _ratio(hi_g, spend),
                "mde_incremental_orders": mde,
                "underpowered": bool(
                    (lo_o <= 0.0 <= hi_o and mde > _DEFAULTS.underpowered_mde_share * baseline)
                    or int(g["orders_test"].sum()) == int(g["orders_control"].sum()) == 0
                ),
                "srm_flagged_campaigns": int(g["srm_flag"].sum()),
                "srm_flag": bool(g["srm_flag"].any()),
            }
        )
    return pd.DataFrame(rows, columns=[key, *GROUP_COLUMNS])
