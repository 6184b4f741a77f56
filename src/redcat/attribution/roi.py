"""Decision-cycle ROI (ROI(T+x)): attributed GMV ÷ spend, counting orders up to x days after
the touch, with x the brand's category decision cycle, beside fixed windows (e.g. T+7, T+15).

Each window re-runs the attribution pipeline (:func:`~redcat.attribution.pipeline.journey_rows`,
:func:`~redcat.attribution.pipeline.note_credits`) with the click and view windows both set to
x days, so a touch may be credited for an order placed more than 0 and at most x days after it;
nothing else changes. Credits roll up to campaigns by spend share
(:func:`~redcat.attribution.pipeline.credits_by`) and to the brand as a whole:

- note ROI: GMV credited to the note ÷ the note's spend;
- campaign ROI: the campaign's share of its notes' credited GMV ÷ the campaign's spend;
- brand ROI: GMV credited to all the brand's notes (organic ones too) ÷ the brand's spend.

ROI is undefined (NaN) without spend. Money is in the retailers' currency as exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from redcat.attribution.heuristics import HEURISTIC_MODELS
from redcat.attribution.pipeline import credits_by, journey_rows, journey_table, note_credits
from redcat.engine.core import Engine
from redcat.engine.derived import brand_spend, campaign_shares
from redcat.errors import ConfigError
from redcat.settings import Settings

#: Columns of :func:`roi_windows`' long frame, in order.
COLUMNS: tuple[str, ...] = (
    "level",
    "id",
    "window",
    "days",
    "decision_cycle",
    "orders",
    "gmv",
    "spend",
    "roi",
)
LEVELS: tuple[str, ...] = ("brand", "campaign", "note")


@dataclass(frozen=True)
class RoiWindow:
    """One attribution window of the ROI table: ``days`` after the touch, labelled ``T+days``;
    ``decision_cycle`` marks the brand category's own cycle."""

    days: int
    decision_cycle: bool

    @property
    def label(self) -> str:
        """The window's name, e.g. ``T+29``."""
        return f"T+{self.days}"


def roi_plan(settings: Settings, category: str | None) -> tuple[RoiWindow, ...]:
    """Return the windows to measure: the decision cycle of ``category`` (the funnel window
    when None) first, then each fixed window of ``settings.windows.roi_fixed_days`` that differs
    from it, ascending. Raises :class:`ConfigError` for a category without a cycle."""
    return plan_for_cycle(settings, settings.windows.decision_cycle(category).funnel_days)


def plan_for_cycle(settings: Settings, cycle_days: int) -> tuple[RoiWindow, ...]:
    """Return the windows to measure for a decision cycle of ``cycle_days`` days (e.g. a
    report's funnel window, which its category set): that cycle first, then the fixed windows
    of ``settings.windows.roi_fixed_days`` that differ from it, ascending."""
    if cycle_days <= 0:
        raise ConfigError("the decision cycle must be a positive number of days")
    fixed = sorted({int(d) for d in settings.windows.roi_fixed_days} - {cycle_days})
    for d in fixed:
        if d <= 0:
            raise ConfigError("fixed ROI windows must be positive numbers of days")
    return (RoiWindow(cycle_days, True), *(RoiWindow(d, False) for d in fixed))


def window_credits(
    engine: Engine, brand_id: str, days: int, model: str, settings: Settings
) -> pd.DataFrame:
    """Return ``model``'s credits per note when a touch counts for orders up to ``days`` days
    after it (click and view alike): note_id, conversions (orders), value (GMV, currency)."""
    windows = replace(settings.windows, click_days=days, view_days=days)
    table = journey_table(journey_rows(engine, brand_id, windows))
    credits, _ = note_credits(table, model, settings.attribution)
    return credits


def converting_within(rows: pd.DataFrame, days: int) -> pd.DataFrame:
    """Return the converting journeys' touches of :func:`journey_rows` (taken with windows of
    at least ``days``) that lie at most ``days`` days before their order: exactly the converting
    journeys a ``days``-day click and view window gives, since a touch serves the first order
    after it either way. Non-converting journeys are not rebuilt, so only models that ignore
    them (the heuristics) may use this."""
    conv = rows[rows["converted"].astype(bool)]
    age = pd.to_datetime(conv["conversion_ts"]) - pd.to_datetime(conv["ts"])
    return conv[(age <= pd.Timedelta(days=days)).to_numpy()]


def _credits_per_window(
    engine: Engine, brand_id: str, plan: Sequence[RoiWindow], model: str, settings: Settings
) -> list[pd.DataFrame]:
    """Credits per note for each window. Heuristic models read the journeys once, with the
    longest window, and cut them per window (:func:`converting_within`); Markov and Shapley
    also use the journeys that did not convert, so they re-read the journeys per window."""
    if model not in HEURISTIC_MODELS or not plan:
        return [window_credits(engine, brand_id, w.days, model, settings) for w in plan]
    longest = max(w.days for w in plan)
    windows = replace(settings.windows, click_days=longest, view_days=longest)
    rows = journey_rows(engine, brand_id, windows)
    out = []
    for win in plan:
        table = journey_table(converting_within(rows, win.days))
        credits, _ = note_credits(table, model, settings.attribution)
        out.append(credits)
    return out


def _spend(engine: Engine, brand_id: str) -> tuple[pd.Series, pd.Series]:
    spend = brand_spend(engine, brand_id)
    per_note = engine.execute(spend.group_by("note_id").agg(spend=spend.amount.sum()))
    per_campaign = engine.execute(spend.group_by("campaign_id").agg(spend=spend.amount.sum()))
    return (
        per_note.set_index("note_id")["spend"].astype("float64"),
        per_campaign.set_index("campaign_id")["spend"].astype("float64"),
    )


def roi_windows(
    engine: Engine,
    brand_id: str,
    settings: Settings | None = None,
    *,
    category: str | None = None,
    model: str | None = None,
    windows: Sequence[RoiWindow] | None = None,
) -> pd.DataFrame:
    """Return ROI(T+x) of ``brand_id`` for each window, long: one row per level (brand,
    campaign, note), id and window (columns :data:`COLUMNS`).

    ``window`` is the label (``T+29``), ``days`` its length, ``decision_cycle`` whether it is
    the category's cycle; ``orders`` and ``gmv`` are ``model``'s credits (default: the
    settings' report model) with that window, ``spend`` in currency, ``roi`` = gmv ÷ spend (NaN
    without spend). Notes appear when they have spend or credit; campaigns when they have
    spend. ``windows`` defaults to :func:`roi_plan` for ``category``. Sorted by level (brand,
    campaign, note), id, then window order.
    """
    settings = settings or Settings()
    model = model or settings.attribution.report_model
    plan = tuple(windows) if windows is not None else roi_plan(settings, category)
    note_spend, campaign_spend = _spend(engine, brand_id)
    shares = engine.execute(campaign_shares(engine, brand_id))
    total_spend = float(note_spend.sum())
    frames: list[pd.DataFrame] = []
    per_window = _credits_per_window(engine, brand_id, plan, model, settings)
    # Every window lists the same notes: those with spend or with credit in any window.
    seen = {str(n) for frame in per_window for n in frame["note_id"]}
    all_notes = pd.Index(sorted(seen | {str(n) for n in note_spend.index}), dtype=object)
    for order, (win, window_frame) in enumerate(zip(plan, per_window, strict=True)):
        # An empty credit frame has a float note_id; make it text so it merges with ids.
        credits = window_frame.astype({"note_id": "object"})
        notes = credits.groupby("note_id")[["conversions", "value"]].sum()
        notes.index = notes.index.astype(object)
        notes = notes.reindex(all_notes, fill_value=0.0)
        by_campaign = credits_by(credits.assign(model=model), shares, "campaign_id")
        camps = by_campaign.set_index("campaign_id")[["conversions", "value"]]
        camps = camps.reindex(campaign_spend.index, fill_value=0.0)
        levels = (
            ("brand", pd.Index([brand_id]), [notes["conversions"].sum()], [notes["value"].sum()],
             [total_spend]),
            ("campaign", camps.index, camps["conversions"], camps["value"],
             campaign_spend.reindex(camps.index)),
            ("note", notes.index, notes["conversions"], notes["value"],
             note_spend.reindex(notes.index, fill_value=0.0)),
        )  # fmt: skip
        for level, ids, orders, gmv, spend in levels:
            spend_arr = np.asarray(spend, dtype=np.float64)
            gmv_arr = np.asarray(gmv, dtype=np.float64)
            frames.append(
                pd.DataFrame(
                    {
                        "level": level,
                        "id": np.asarray(ids, dtype=object),
                        "window": win.label,
                        "days": win.days,
                        "decision_cycle": win.decision_cycle,
                        "orders": np.asarray(orders, dtype=np.float64),
                        "gmv": gmv_arr,
                        "spend": spend_arr,
                        "roi": np.where(
                            spend_arr > 0, gmv_arr / np.where(spend_arr > 0, spend_arr, 1), np.nan
                        ),
                        "_order": order,
                    }
                )
            )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["_level"] = out["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    out = out.sort_values(["_level", "id", "_order"], kind="stable")
    return out.reset_index(drop=True)[list(COLUMNS)]


def roi_wide(long: pd.DataFrame, level: str) -> pd.DataFrame:
    """Return one ``level`` of :func:`roi_windows` with one row per id: id, spend, then
    ``gmv_<window>`` and ``roi_<window>`` per window (``T+29`` etc., in the long frame's
    order)."""
    part = long[long["level"] == level]
    labels = list(dict.fromkeys(part["window"]))
    out = part.groupby("id", sort=True)["spend"].first().to_frame()
    for label in labels:
        w = part[part["window"] == label].set_index("id")
        out[f"gmv_{label}"] = w["gmv"]
        out[f"roi_{label}"] = w["roi"]
    return out.reset_index()
