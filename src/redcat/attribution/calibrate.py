"""Lift-calibrated attribution: per-note credits rescaled to what holdouts measured.

Attribution models split the orders that *followed* touches; a randomized holdout measures the
orders a campaign *caused* (:func:`redcat.lift.campaign.campaign_lift`). Calibration keeps each
model's split and replaces its scale: for every model and every campaign with a holdout, the
credits of the campaign's notes are multiplied by one factor so that they add up to the
campaign's measured incremental orders, and the interval bounds of that estimate give the
calibrated bounds the same way.

- A note boosted by several campaigns splits its credit over them by spend share (as
  :func:`redcat.engine.derived.campaign_shares`); each part is scaled by its own campaign.
- A negative incremental estimate (or bound) is clipped at 0: a campaign cannot un-cause orders
  and a negative credit has no reading. Such parts carry status ``clipped``.
- A campaign whose notes got no credit from a model while the holdout measured orders spreads
  them over its notes by spend (status ``spread``; there are no proportions to keep).
- Parts outside any holdout campaign (unboosted notes, campaigns without matched arms) stay raw
  with status ``uncalibrated``; with ``uncalibrated="brand"`` they take the brand's pooled
  factor instead (status ``brand_factor``), which assumes that those notes' credits overstate
  (or understate) causation as much as the measured campaigns' do — organic notes reach other
  readers than boosts, so this is an assumption to state, not a measurement.

What a holdout measures is the effect of the campaign's *paid delivery* among its test arm;
orders that organic reads of the same notes caused reach control users too and are not in it.
Calibrated credits of boosted notes therefore estimate paid-incremental orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from redcat.attribution.journeys import JourneyTable
from redcat.attribution.pipeline import note_credits
from redcat.attribution.scoring import wape
from redcat.engine.core import Engine
from redcat.engine.derived import brand_spend
from redcat.errors import AttributionError
from redcat.lift.campaign import campaign_lift
from redcat.settings import AttributionSettings, Settings

#: Columns of :func:`calibrate_credits`, in order.
COLUMNS: tuple[str, ...] = (
    "model",
    "note_id",
    "campaign_id",
    "raw_conversions",
    "calibrated_conversions",
    "calibrated_low",
    "calibrated_high",
    "factor",
    "status",
)
#: Statuses of a calibrated row (see the module docstring).
STATUSES: tuple[str, ...] = ("calibrated", "clipped", "spread", "uncalibrated", "brand_factor")
#: Columns of the campaign targets :func:`campaign_targets` returns.
TARGET_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "measured",
    "measured_low",
    "measured_high",
    "target",
    "target_low",
    "target_high",
    "clipped",
)

Uncalibrated = Literal["raw", "brand"]
Pooling = Literal["none", "spend"]
POOLINGS: tuple[str, ...] = ("none", "spend")


def campaign_targets(
    lift: pd.DataFrame, *, pooling: Pooling = "none", alpha: float = 0.05
) -> pd.DataFrame:
    """Return the calibration target of each campaign from :func:`campaign_lift` rows.

    Columns (:data:`TARGET_COLUMNS`): ``campaign_id``; ``measured``, ``measured_low``,
    ``measured_high`` (the holdout's incremental orders and interval, as measured); ``target``,
    ``target_low``, ``target_high`` (what calibration scales to: orders, each clipped at 0; NaN
    bounds where the lift has no interval); ``clipped`` (True when the target's point estimate
    was below 0 before clipping). Campaigns whose estimate is not a number are left out.

    ``pooling="none"`` takes each campaign's own estimate. ``pooling="spend"`` shrinks the
    campaigns' incremental orders per unit of spend toward the brand's pooled rate by
    :func:`shrink_per_spend` (random effects) before clipping: a holdout of a few thousand
    users measures one campaign's effect with an error as large as the effect, and borrowing
    strength from the brand's other campaigns trades that noise for a little bias.
    """
    if pooling not in POOLINGS:
        raise AttributionError(f"unknown pooling {pooling!r} (none or spend)")
    keep = lift["incremental_orders"].notna().to_numpy()
    lift = lift[keep].reset_index(drop=True)
    est = lift["incremental_orders"].to_numpy(dtype=np.float64)
    low = lift["incremental_orders_low"].to_numpy(dtype=np.float64)
    high = lift["incremental_orders_high"].to_numpy(dtype=np.float64)
    t_est, t_low, t_high = est, low, high
    if pooling == "spend" and len(lift):
        se = (
            lift["incremental_orders_se"].to_numpy(dtype=np.float64)
            if "incremental_orders_se" in lift.columns
            else None
        )
        t_est, t_low, t_high = shrink_per_spend(
            est, low, high, lift["spend"].to_numpy(dtype=np.float64), alpha=alpha, se=se
        )
    out = pd.DataFrame(
        {
            "campaign_id": lift["campaign_id"].astype("object"),
            "measured": est,
            "measured_low": low,
            "measured_high": high,
            # np.maximum keeps NaN, so a bound the lift could not give stays unknown.
            "target": np.maximum(t_est, 0.0),
            "target_low": np.maximum(t_low, 0.0),
            "target_high": np.maximum(t_high, 0.0),
            "clipped": t_est < 0,
        }
    )
    return out[list(TARGET_COLUMNS)]


def shrink_per_spend(
    estimate: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    spend: npt.NDArray[np.float64],
    *,
    alpha: float = 0.05,
    se: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Shrink campaigns' incremental orders toward a common rate per unit of spend.

    Each campaign's rate θ = estimate ÷ spend (orders per currency unit) has standard error
    se ÷ spend, with ``se`` the estimate's standard errors when given, else (high − low) ÷
    (2 z₁₋α/₂) read off its interval (:func:`campaign_targets` passes the lift's
    ``incremental_orders_se`` when it has that column). A normal random-effects
    model θ_c ~ N(μ, τ²) is fitted by DerSimonian–Laird (μ the inverse-variance mean, τ² the
    method-of-moments between-campaign variance, 0 when the campaigns agree within noise); each θ
    is replaced by its posterior mean, (θ/v + μ/τ²) ÷ (1/v + 1/τ²), which is μ when τ² = 0.
    Returns (estimate, low, high) in orders: posterior mean × spend and the normal (1 − α)
    interval of the posterior (with τ² = 0: of μ). Campaigns without spend or a positive,
    finite standard error keep their own figures and do not inform μ.
    """
    z = float(norm.ppf(1.0 - alpha / 2.0))
    with np.errstate(all="ignore"):
        se_all = (high - low) / (2.0 * z) if se is None else se
        var_all = (se_all / spend) ** 2
    # A variance that is 0, not finite or whose inverse overflows cannot be weighted.
    ok = (spend > 0) & np.isfinite(var_all) & (var_all > 1e-300) & np.isfinite(estimate)
    out_est, out_low, out_high = estimate.copy(), low.copy(), high.copy()
    if not ok.any():
        return out_est, out_low, out_high
    theta = estimate[ok] / spend[ok]
    var = var_all[ok]
    w = 1.0 / var
    mu = float((w * theta).sum() / w.sum())
    k = int(ok.sum())
    q = float((w * (theta - mu) ** 2).sum())
    denom = float(w.sum() - (w**2).sum() / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / denom) if k > 1 and denom > 0 else 0.0
    if tau2 > 0:
        post_var = 1.0 / (1.0 / var + 1.0 / tau2)
        post = post_var * (theta / var + mu / tau2)
    else:
        post_var = np.full(k, 1.0 / float(w.sum()))
        post = np.full(k, mu)
    half = z * np.sqrt(post_var)
    out_est[ok] = post * spend[ok]
    out_low[ok] = (post - half) * spend[ok]
    out_high[ok] = (post + half) * spend[ok]
    return out_est, out_low, out_high


def _parts(credits: pd.DataFrame, note_spend: pd.DataFrame) -> pd.DataFrame:
    """Split each model's per-note credit over the note's campaigns by spend share.

    Returns model, note_id, campaign_id (NA for unboosted notes), amount (the note's spend in
    that campaign, currency; 0 for unboosted) and raw_conversions. Every note of ``note_spend``
    appears for every model, with 0 credit when the model gave it none."""
    typed = note_spend[["note_id", "campaign_id", "amount"]].astype(
        {"note_id": "object", "campaign_id": "object", "amount": "float64"}
    )
    spend = typed.groupby(["note_id", "campaign_id"], as_index=False, sort=True)["amount"].sum()
    total = spend.groupby("note_id")["amount"].transform("sum")
    count = spend.groupby("note_id")["amount"].transform("size")
    # A note whose campaigns spent nothing on it splits evenly, so its credit is not lost.
    spend["share"] = np.where(total > 0, spend["amount"] / total.where(total > 0, 1.0), 1.0 / count)
    credits = credits.astype({"conversions": "float64"})
    per_note = credits.groupby(["model", "note_id"], as_index=False, sort=True)["conversions"].sum()
    models = pd.DataFrame({"model": sorted(per_note["model"].unique())})
    boosted = models.merge(spend, how="cross")
    boosted = boosted.merge(per_note, on=["model", "note_id"], how="left")
    boosted["raw_conversions"] = boosted["conversions"].fillna(0.0) * boosted["share"]
    plain = per_note[~per_note["note_id"].isin(spend["note_id"])]
    plain = plain.assign(campaign_id=pd.NA, amount=0.0, raw_conversions=plain["conversions"])
    cols = ["model", "note_id", "campaign_id", "amount", "raw_conversions"]
    out = pd.concat([boosted[cols], plain[cols]], ignore_index=True)
    out["campaign_id"] = out["campaign_id"].astype("object")
    return out


def calibrate_credits(
    credits: pd.DataFrame,
    note_spend: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    uncalibrated: Uncalibrated = "raw",
) -> pd.DataFrame:
    """Scale each model's per-note credited orders to the holdout-measured incremental orders.

    ``credits`` is long: model, note_id, conversions (credited orders). ``note_spend`` has
    note_id, campaign_id, amount (spend, currency; several rows per pair are summed).
    ``targets`` is :func:`campaign_targets`' frame. Returns one row per model, note and campaign
    part (columns :data:`COLUMNS`, sorted by model, note, campaign): ``raw_conversions`` (the
    model's orders for that part), ``calibrated_conversions`` and its ``calibrated_low`` /
    ``calibrated_high`` (orders; NaN bounds where there is no interval), ``factor`` (calibrated ÷
    raw; NaN where the part was spread or left raw) and ``status`` (:data:`STATUSES`).

    For every model and target campaign the calibrated orders of its parts sum to the target
    (and the bounds to its bounds), and all parts of one campaign share one factor, so the
    model's proportions within the campaign are kept. Raises :class:`AttributionError` for an
    unknown ``uncalibrated`` mode.
    """
    if uncalibrated not in ("raw", "brand"):
        raise AttributionError(f"unknown uncalibrated mode {uncalibrated!r} (raw or brand)")
    if credits.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    parts = _parts(credits, note_spend)
    tgt = targets.set_index("campaign_id")
    raw = parts["raw_conversions"].to_numpy(dtype=np.float64)
    amount = parts["amount"].to_numpy(dtype=np.float64)
    in_target = parts["campaign_id"].isin(tgt.index).to_numpy()
    # Group sums over the parts of one model and campaign (0 outside target campaigns).
    key = [parts["model"], parts["campaign_id"].where(in_target, "")]
    raw_sum = parts.groupby(key)["raw_conversions"].transform("sum").to_numpy(dtype=np.float64)
    amount_sum = parts.groupby(key)["amount"].transform("sum").to_numpy(dtype=np.float64)
    n_parts = parts.groupby(key)["amount"].transform("size").to_numpy(dtype=np.float64)
    cid = parts["campaign_id"]
    t = cid.map(tgt["target"]).to_numpy(dtype=np.float64)
    lo = cid.map(tgt["target_low"]).to_numpy(dtype=np.float64)
    hi = cid.map(tgt["target_high"]).to_numpy(dtype=np.float64)
    clipped = cid.map(tgt["clipped"].astype("float64")).to_numpy(dtype=np.float64) == 1.0
    has_raw = raw_sum > 0
    # Where the model credited the campaign every part gets the same factor; where it credited
    # nothing, the measured orders spread by spend (evenly if nothing was spent).
    weight = np.where(
        has_raw,
        raw / np.where(has_raw, raw_sum, 1.0),
        np.where(amount_sum > 0, amount / np.where(amount_sum > 0, amount_sum, 1.0), 1.0 / n_parts),
    )
    nan = np.full(len(parts), np.nan)
    cal = np.where(in_target, t * weight, raw)
    cal_lo = np.where(in_target, lo * weight, nan)
    cal_hi = np.where(in_target, hi * weight, nan)
    factor = np.where(in_target & has_raw, t / np.where(has_raw, raw_sum, 1.0), nan)
    status = np.where(
        in_target,
        np.where(~has_raw, "spread", np.where(clipped, "clipped", "calibrated")),
        "uncalibrated",
    ).astype(object)
    if uncalibrated == "brand":
        models = parts["model"].to_numpy(dtype=object)
        factors = _brand_factors(parts[in_target], tgt)
        for model, (f, f_lo, f_hi) in factors.items():
            sel = ~in_target & (models == model)
            cal[sel], cal_lo[sel], cal_hi[sel] = raw[sel] * f, raw[sel] * f_lo, raw[sel] * f_hi
            factor[sel] = f
            status[sel] = "brand_factor"
    out = parts[["model", "note_id", "campaign_id"]].assign(
        raw_conversions=raw,
        calibrated_conversions=cal,
        calibrated_low=cal_lo,
        calibrated_high=cal_hi,
        factor=factor,
        status=status,
    )
    out = out.sort_values(["model", "note_id", "campaign_id"], kind="stable", na_position="first")
    return out.reset_index(drop=True)[list(COLUMNS)]


def _brand_factors(
    measured: pd.DataFrame, tgt: pd.DataFrame
) -> dict[str, tuple[float, float, float]]:
    """Per model: pooled (Σ targets ÷ Σ raw credits) over the target campaigns it credited,
    for the point and both bounds; models that credited no target campaign get none."""
    out: dict[str, tuple[float, float, float]] = {}
    for model, part in measured.groupby("model", sort=True):
        raw = part.groupby("campaign_id")["raw_conversions"].sum()
        raw = raw[raw > 0]
        if raw.empty:
            continue
        t = tgt.loc[raw.index]
        total = float(raw.sum())
        out[str(model)] = (
            float(t["target"].sum()) / total,
            float(t["target_low"].sum()) / total,
            float(t["target_high"].sum()) / total,
        )
    return out


def per_note(calibrated: pd.DataFrame) -> pd.DataFrame:
    """Sum :func:`calibrate_credits` parts per model and note: model, note_id, raw_conversions,
    calibrated_conversions (orders), sorted by model and note."""
    cols = ["raw_conversions", "calibrated_conversions"]
    return calibrated.groupby(["model", "note_id"], as_index=False, sort=True)[cols].sum()


def calibration_scores(calibrated: pd.DataFrame, truth: pd.Series | None) -> pd.DataFrame:
    """Compare raw and calibrated credits per model.

    Returns model, raw_orders, calibrated_orders (sums, orders), raw_wape, calibrated_wape (WAPE
    of per-note orders against ``truth``, true incremental orders per note indexed by note id;
    NaN without truth; see :func:`redcat.attribution.scoring.wape`), sorted by model."""
    notes = per_note(calibrated)
    rows = []
    for model, part in notes.groupby("model", sort=True):
        raw = part.set_index("note_id")["raw_conversions"]
        cal = part.set_index("note_id")["calibrated_conversions"]
        rows.append(
            {
                "model": model,
                "raw_orders": float(raw.sum()),
                "calibrated_orders": float(cal.sum()),
                "raw_wape": wape(raw, truth) if truth is not None else float("nan"),
                "calibrated_wape": wape(cal, truth) if truth is not None else float("nan"),
            }
        )
    cols = ["model", "raw_orders", "calibrated_orders", "raw_wape", "calibrated_wape"]
    return pd.DataFrame(rows, columns=cols)


def model_credits(
    table: JourneyTable, models: Sequence[str], settings: AttributionSettings
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Run :func:`note_credits` for each model: returns the long frame model, note_id,
    conversions (orders), value (GMV, currency) and the models' notes prefixed by model."""
    parts: list[pd.DataFrame] = []
    notes: list[str] = []
    for model in models:
        credits, model_notes = note_credits(table, model, settings)
        parts.append(credits.assign(model=model))
        notes.extend(f"{model}: {n}" for n in model_notes)
    if not parts:
        return pd.DataFrame(columns=["model", "note_id", "conversions", "value"]), ()
    frame = pd.concat(parts, ignore_index=True)[["model", "note_id", "conversions", "value"]]
    return frame, tuple(notes)


@dataclass(frozen=True, eq=False)
class Calibration:
    """A brand's calibrated credits (:func:`calibrate_credits`), the campaign lift they were
    scaled to (:func:`campaign_lift` rows), the targets taken from it, and notes to show."""

    credits: pd.DataFrame
    lift: pd.DataFrame
    targets: pd.DataFrame
    notes: tuple[str, ...]


def note_campaign_spend(engine: Engine, brand_id: str) -> pd.DataFrame:
    """Return the brand's spend per note and campaign: note_id, campaign_id, amount (currency)."""
    spend = brand_spend(engine, brand_id)
    agg = spend.group_by(["note_id", "campaign_id"]).agg(amount=spend.amount.sum())
    return engine.execute(agg.order_by(["note_id", "campaign_id"]))


def calibrate_brand(
    engine: Engine,
    brand_id: str,
    credits: pd.DataFrame,
    settings: Settings | None = None,
    *,
    window_days: int | None = None,
    pooling: Pooling | None = None,
    uncalibrated: Uncalibrated = "raw",
) -> Calibration:
    """Measure ``brand_id``'s campaign lift in the store and calibrate ``credits`` (long:
    model, note_id, conversions) to it (see :func:`campaign_targets` and
    :func:`calibrate_credits`). ``window_days`` (days after each campaign's last spend date)
    and ``pooling`` default to the attribution settings' ``calibration_window_days`` and
    ``calibration_pooling``."""
    settings = settings or Settings()
    days = settings.attribution.calibration_window_days if window_days is None else window_days
    pool = cast(Pooling, settings.attribution.calibration_pooling if pooling is None else pooling)
    alpha = settings.lift.alpha
    lift = campaign_lift(engine, brand_id, window_days=days, alpha=alpha)
    targets = campaign_targets(lift, pooling=pool, alpha=alpha)
    spend = note_campaign_spend(engine, brand_id)
    calibrated = calibrate_credits(credits, spend, targets, uncalibrated=uncalibrated)
    notes: list[str] = [
        f"holdout outcome window: each campaign's spend dates + {days} days; "
        f"{len(targets)} campaign(s) with holdouts calibrate"
        + (" (shrunk toward the brand's incremental orders per spend)" if pool == "spend" else "")
    ]
    clipped = targets.loc[targets["clipped"], "campaign_id"].tolist()
    if clipped:
        notes.append(
            "negative incremental estimate clipped at 0 for " + ", ".join(map(str, clipped))
        )
    low_clipped = targets.loc[
        ~targets["clipped"] & (targets["target_low"] == 0) & (targets["target"] > 0), "campaign_id"
    ].tolist()
    if low_clipped:
        notes.append("interval lower bound clipped at 0 for " + ", ".join(map(str, low_clipped)))
    if not calibrated.empty:
        n_un = calibrated.loc[calibrated["status"] == "uncalibrated", "note_id"].nunique()
        if n_un:
            notes.append(f"{n_un} note(s) outside any holdout campaign left raw (uncalibrated)")
    return Calibration(credits=calibrated, lift=lift, targets=targets, notes=tuple(notes))
