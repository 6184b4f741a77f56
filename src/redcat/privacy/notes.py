"""Released figures of a brand's notes: buyers, orders and GMV per note, privately.

The clean-room figures a brand most wants per note — how many matched people bought within the
funnel window after a touch (buyers), their orders and their GMV — join the content platform's
touches with a retailer's orders, so neither party alone owns them and a brand only ever gets
them *noisy*: bounded per user in the engine, thresholded at ``k`` buyers, Laplace noise on every
released figure, paid from the brand's budget (:func:`redcat.privacy.release.release_table`).

The unbounded figures equal the funnel's ``buyers``, ``orders`` and ``gmv`` per note
(:mod:`redcat.funnel.metrics`: the same touched outcomes).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from redcat.engine.core import Engine
from redcat.funnel.metrics import FunnelSources, funnel_sources, touched_outcomes
from redcat.privacy.bounds import (
    BoundedTable,
    ContributionBounds,
    bound_contributions,
    bounded_aggregate,
)
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.noise import noisy_rate
from redcat.privacy.release import Measure, ReleasedTable, ReleaseSpec, release_table
from redcat.privacy.thresholds import UnionUsers
from redcat.settings import Settings

NOTE_ORDERS = "notes.orders"
#: Measures of the released note table, as named in reports: buyers (people), orders (events),
#: gmv (currency).
NOTE_MEASURES: dict[str, str] = {"users": "buyers", "events": "orders", "value": "gmv"}
#: Who the figures come from: they join the content platform's touches and retailers' orders.
JOINT_OWNERS: tuple[str, ...] = ("content", "retailers")


def note_orders(
    engine: Engine, brand_id: str, settings: Settings, sources: FunnelSources | None = None
) -> tuple[BoundedTable, UnionUsers]:
    """Return ``brand_id``'s bounded per-note order figures (users = buyers, events = orders,
    value = GMV in currency; unbounded ``raw_*`` beside them) and a function counting the
    distinct bounded buyers of several notes together (for the threshold's other row)."""
    bounds = ContributionBounds.from_settings(settings.privacy)
    sources = sources or funnel_sources(engine, brand_id, settings.windows)
    rows = touched_outcomes(sources, "note_id")
    orders = rows.filter(rows.event == "order")
    bounded = bounded_aggregate(engine, orders, keys=["note_id"], bounds=bounds, value="amount")
    # Every note of the brand is a cell: a note nobody bought after is a cell of 0 buyers
    # (suppressed), not a missing row.
    notes = sources.dims[["note_id"]].drop_duplicates()
    frame = notes.merge(bounded.frame, on="note_id", how="left").fillna(0)
    frame = frame.astype({c: bounded.frame[c].dtype for c in bounded.frame.columns})
    bounded = BoundedTable(
        keys=bounded.keys,
        frame=frame.sort_values("note_id", kind="stable").reset_index(drop=True),
        bounds=bounds,
        sensitivity=bounded.sensitivity,
    )
    kept = bound_contributions(orders, keys=["note_id"], bounds=bounds, value="amount")

    def union_buyers(group: pd.DataFrame) -> int:
        ids: Sequence[str] = [str(n) for n in group["note_id"]]
        expr = kept.filter(kept.note_id.isin(ids)).match_key.nunique()
        return int(engine.execute(expr)["value"].iloc[0])

    return bounded, union_buyers


def release_sources(sources: FunnelSources) -> None:
    """Drop the engine's cached tables of ``sources`` now, not when the garbage collector finds
    them after the store has closed (a refused release leaves them referenced by its
    traceback)."""
    for table in (sources.content, sources.matched, sources.pairs):
        release = getattr(table, "release", None)
        if release is not None:
            release()


def release_note_orders(
    engine: Engine,
    brand_id: str,
    settings: Settings,
    ledger: BudgetLedger,
    *,
    period: str | None = None,
    sources: FunnelSources | None = None,
) -> ReleasedTable:
    """Release ``brand_id``'s buyers, orders and GMV per note to the brand (noisy mode, kind
    ``table``), paid from ``ledger``; measures are named ``buyers``, ``orders``, ``gmv`` in the
    result. The question is keyed by brand, funnel window and bounds, so asking again in the same
    period returns the stored answer. ``sources``: the brand's funnel sources when the caller
    has them (and releases them); built and released here otherwise."""
    if sources is not None:
        return _release(engine, brand_id, settings, ledger, sources, period)
    own = funnel_sources(engine, brand_id, settings.windows)
    try:
        return _release(engine, brand_id, settings, ledger, own, period)
    finally:
        release_sources(own)


def _release(
    engine: Engine,
    brand_id: str,
    settings: Settings,
    ledger: BudgetLedger,
    sources: FunnelSources,
    period: str | None,
) -> ReleasedTable:
    bounded, union_buyers = note_orders(engine, brand_id, settings, sources)
    frame = bounded.frame.rename(columns=NOTE_MEASURES)
    privacy = settings.privacy
    sens = bounded.sensitivity
    spec = ReleaseSpec(
        name=NOTE_ORDERS,
        keys=bounded.keys,
        users="buyers",
        measures=(
            Measure("buyers", sens["users"]),
            Measure("orders", sens["events"]),
            Measure("gmv", sens["value"], integer=False),
        ),
        owners=JOINT_OWNERS,
        epsilon=privacy.release_epsilon["table"],
        k=privacy.threshold(),
        kind="table",
        params={
            "brand": brand_id,
            "funnel_days": settings.windows.funnel_days,
            "bounds": [
                bounded.bounds.max_cells_per_user,
                bounded.bounds.max_events_per_cell,
                bounded.bounds.value_bound,
            ],
        },
        confidence=privacy.confidence,
    )
    return release_table(
        frame, spec, "noisy", ledger, brand_id, period=period, union_users=union_buyers
    )


BRAND_TOTALS = "brand.totals"
#: Rates a brand's released totals give, from released parts: name → (numerator, denominator,
#: upper clip; None for ratios that may exceed 1).
BRAND_RATES: dict[str, tuple[str, str, float | None]] = {
    "purchase_rate": ("buyers", "matched_reach", 1.0),
    "orders_per_buyer": ("orders", "buyers", None),
    "gmv_per_order": ("gmv", "orders", None),
}


def brand_totals(
    engine: Engine, brand_id: str, settings: Settings, sources: FunnelSources | None = None
) -> pd.DataFrame:
    """Return ``brand_id``'s one-row totals over matched people, bounded per person:
    ``matched_reach`` (people who saw a brand note), ``buyers`` (people), ``orders`` (at most
    ``max_events_per_cell`` each) and ``gmv`` (currency, each person's clipped to
    ``value_bound``), with the unbounded ``raw_orders`` and ``raw_gmv``. Each person is in the
    one cell, so one person moves reach and buyers by 1, orders by ``max_events_per_cell`` and
    GMV by ``value_bound``."""
    bounds = ContributionBounds(
        max_cells_per_user=1,
        max_events_per_cell=settings.privacy.max_events_per_cell,
        value_bound=settings.privacy.value_bound,
    )
    own = sources is None
    sources = sources or funnel_sources(engine, brand_id, settings.windows)
    try:
        rows = touched_outcomes(sources, "brand_id")
        orders = rows.filter(rows.event == "order")
        bounded = bounded_aggregate(
            engine, orders, keys=["brand_id"], bounds=bounds, value="amount"
        ).frame
        m = sources.matched
        reach = engine.execute(m.filter(m.event == "impression").match_key.nunique())
    finally:
        if own:
            release_sources(sources)
    row = bounded.iloc[0] if len(bounded) else None
    return pd.DataFrame(
        {
            "brand_id": [brand_id],
            "matched_reach": [int(reach["value"].iloc[0])],
            "buyers": [int(row["users"]) if row is not None else 0],
            "orders": [int(row["events"]) if row is not None else 0],
            "gmv": [float(row["value"]) if row is not None else 0.0],
            "raw_orders": [int(row["raw_events"]) if row is not None else 0],
            "raw_gmv": [float(row["raw_value"]) if row is not None else 0.0],
        }
    )


def release_brand_totals(
    engine: Engine,
    brand_id: str,
    settings: Settings,
    ledger: BudgetLedger,
    *,
    period: str | None = None,
    sources: FunnelSources | None = None,
) -> ReleasedTable:
    """Release ``brand_id``'s totals (:func:`brand_totals`: matched reach, buyers, orders, GMV)
    to the brand as one ``kpi`` release (noisy; threshold on buyers). Rates come afterwards from
    the released parts (:func:`released_rates`)."""
    frame = brand_totals(engine, brand_id, settings, sources)
    privacy = settings.privacy
    spec = ReleaseSpec(
        name=BRAND_TOTALS,
        keys=("brand_id",),
        users="buyers",
        measures=(
            Measure("matched_reach", 1.0),
            Measure("buyers", 1.0),
            Measure("orders", float(privacy.max_events_per_cell)),
            Measure("gmv", privacy.value_bound, integer=False),
        ),
        owners=JOINT_OWNERS,
        epsilon=privacy.release_epsilon["kpi"],
        k=privacy.threshold(),
        kind="kpi",
        params={
            "brand": brand_id,
            "funnel_days": settings.windows.funnel_days,
            "bounds": [privacy.max_events_per_cell, privacy.value_bound],
        },
        confidence=privacy.confidence,
    )
    return release_table(frame, spec, "noisy", ledger, brand_id, period=period)


def released_rates(released: ReleasedTable) -> pd.DataFrame:
    """Return :data:`BRAND_RATES` of a released brand-totals table: one row per rate with the
    ``exact`` value (from exact parts) and the ``released`` one (from released parts, clipped to
    [0, 1] for shares; NaN where a released denominator is 0 or the cell is suppressed)."""
    long = released.long
    exact = dict(zip(long["measure"], long["value"], strict=True))
    noisy = dict(zip(long["measure"], long["released"], strict=True))
    rows = []
    for name, (num, den, upper) in BRAND_RATES.items():
        rows.append(
            {
                "rate": name,
                "exact": float(noisy_rate([exact[num]], [exact[den]], upper=upper)[0]),
                "released": float(noisy_rate([noisy[num]], [noisy[den]], upper=upper)[0]),
            }
        )
    return pd.DataFrame(rows)
