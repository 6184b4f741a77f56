"""From the clean-room store to attribution: journeys, their export, and per-note credits.

Journeys come from :func:`redcat.engine.derived.journey_touches`; this module orders each
journey's touches (time, then views before clicks at the same instant, then note id, so the same
store always yields the same paths) and hands them to the models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from redcat.attribution.journeys import JourneyTable
from redcat.attribution.models import attribute
from redcat.engine.core import Engine
from redcat.engine.derived import journey_touches
from redcat.settings import AttributionSettings, Windows

PATH_SEP = " > "
SECONDS_PER_DAY = 86_400.0

JOURNEY_COLUMNS: tuple[str, ...] = (
    "journey_id",
    "brand_id",
    "converted",
    "retailer_id",
    "conversion_ts",
    "value",
    "touches",
    "path",
    "kinds",
    "touch_ts",
    "days_before",
)


def journey_rows(engine: Engine, brand_id: str, windows: Windows) -> pd.DataFrame:
    """Return the brand's journey touches, one row per touch, in canonical order.

    Rows are sorted by journey id, then touch time, views before clicks at the same instant, then
    note id. Columns are those of :func:`~redcat.engine.derived.journey_touches` plus
    ``age_days``: the touch's age in days at the conversion, or at the journey's last touch when
    it did not convert.
    """
    rows = engine.execute(
        journey_touches(
            engine, brand_id, click_days=windows.click_days, view_days=windows.view_days
        )
    )
    rows = rows.sort_values(["journey_id", "ts", "is_click", "note_id"], kind="stable").reset_index(
        drop=True
    )
    if rows.empty:
        return rows.assign(age_days=pd.Series(dtype="float64"))
    end = rows["conversion_ts"].where(
        rows["converted"], rows.groupby("journey_id")["ts"].transform("max")
    )
    age = (pd.to_datetime(end) - pd.to_datetime(rows["ts"])).dt.total_seconds() / SECONDS_PER_DAY
    return rows.assign(age_days=age.astype("float64"))


def journey_frame(rows: pd.DataFrame, brand_id: str) -> pd.DataFrame:
    """Return one row per journey (converting or not), touches in order, from
    :func:`journey_rows`.

    Columns (see ``JOURNEY_COLUMNS``): ``converted`` (bool), ``value`` (GMV, currency),
    ``touches`` (count), ``path`` (note ids joined by `` > ``), ``kinds`` (view | click per touch),
    ``touch_ts`` (ISO times), ``days_before`` (each touch's age in days, see ``age_days``).
    Sorted by journey id.
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in JOURNEY_COLUMNS})
    rows = rows.assign(
        kind=np.where(rows["is_click"], "click", "view"),
        ts_text=pd.to_datetime(rows["ts"]).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        age_text=rows["age_days"].map(lambda d: f"{d:.6f}"),
    )
    grouped = rows.groupby("journey_id", sort=True)
    frame = pd.DataFrame(
        {
            "journey_id": grouped["journey_id"].first(),
            "brand_id": brand_id,
            "converted": grouped["converted"].first().astype(bool),
            "retailer_id": grouped["retailer_id"].first(),
            "conversion_ts": grouped["conversion_ts"].first(),
            "value": grouped["value"].first().astype("float64"),
            "touches": grouped.size(),
            "path": grouped["note_id"].agg(PATH_SEP.join),
            "kinds": grouped["kind"].agg(PATH_SEP.join),
            "touch_ts": grouped["ts_text"].agg(PATH_SEP.join),
            "days_before": grouped["age_text"].agg(PATH_SEP.join),
        }
    )
    return frame.reset_index(drop=True)[list(JOURNEY_COLUMNS)]


def journey_table(rows: pd.DataFrame) -> JourneyTable:
    """Return the journeys of :func:`journey_rows` as the models' columnar table: channels are
    note ids; a converting journey has 1 conversion and its GMV, an open one 1 null."""
    starts = (
        np.flatnonzero(
            np.r_[True, rows["journey_id"].to_numpy()[1:] != rows["journey_id"].to_numpy()[:-1]]
        )
        if len(rows)
        else np.zeros(0, dtype=np.int64)
    )
    lengths = np.diff(np.r_[starts, len(rows)])
    converted = rows["converted"].to_numpy(dtype=bool)[starts]
    return JourneyTable.from_arrays(
        rows["note_id"].to_numpy(dtype=object),
        lengths,
        conversions=converted.astype(np.float64),
        value=np.where(converted, rows["value"].to_numpy(dtype=np.float64)[starts], 0.0),
        nulls=(~converted).astype(np.float64),
        days_before=rows["age_days"].to_numpy(dtype=np.float64),
        is_click=rows["is_click"].to_numpy(dtype=bool),
    )


def note_credits(
    table: JourneyTable, model: str, settings: AttributionSettings
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Credit the journeys' orders to notes with ``model``.

    Returns (note_id, conversions (orders), value (GMV, currency)) sorted by note, and the model's
    notes on fallbacks or estimates. Credits sum to the converting journeys' orders and GMV.
    """
    if table.n_journeys == 0:
        empty = pd.DataFrame({"note_id": [], "conversions": [], "value": []})
        return empty.astype({"conversions": "float64", "value": "float64"}), ()
    result = attribute(table, model, settings=settings, allocations=False)
    credits = result.credits.rename(columns={"channel": "note_id"})
    return credits[["note_id", "conversions", "value"]], result.notes


def aggregate_paths(journeys: pd.DataFrame) -> pd.DataFrame:
    """Collapse journeys to the common aggregated path form: one row per distinct path with
    ``total_conversions`` (orders), ``total_conversion_value`` (GMV) and ``total_null``
    (journeys that ended without an order), sorted by path."""
    j = journeys.assign(
        conv=journeys["converted"].astype("int64"),
        null=(~journeys["converted"].astype(bool)).astype("int64"),
    )
    out = (
        j.groupby("path", sort=True)
        .agg(
            total_conversions=("conv", "sum"),
            total_conversion_value=("value", "sum"),
            total_null=("null", "sum"),
        )
        .reset_index()
    )
    return out


def credits_by(credits: pd.DataFrame, mapping: pd.DataFrame, key: str) -> pd.DataFrame:
    """Roll per-note credits up to ``key`` (e.g. ``creator_id`` or ``campaign_id``).

    ``mapping`` has ``note_id``, ``key`` and optionally ``share``: the fraction of a note's credit
    that goes to that key (e.g. a note boosted by two campaigns splits by spend); without it each
    note goes wholly to its one key. Returns model, ``key``, conversions (orders), value (GMV),
    sorted by model and key. Notes without a ``key`` value (unboosted notes have no campaign)
    are left out.
    """
    cols = list(dict.fromkeys(["note_id", key, *(["share"] if "share" in mapping else [])]))
    joined = credits.merge(mapping[cols], on="note_id", how="inner").dropna(subset=[key])
    if "share" in joined:
        joined = joined.assign(
            conversions=joined["conversions"] * joined["share"],
            value=joined["value"] * joined["share"],
        )
    return joined.groupby(["model", key], sort=True)[["conversions", "value"]].sum().reset_index()
