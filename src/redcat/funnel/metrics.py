"""Funnel metrics, as defined in DESIGN.md's metrics table.

Two sources, kept apart on purpose:

- *Content metrics* (impressions, reach, reads, interactions and their rates) are the content
  platform's own figures over all of its users (single owner, exact), read from ``content_events``.
- *Outcome metrics* (回搜 back-search users, 进店 visitors, carts, orders, GMV, 新客) are computed
  in the clean room over matched users only: an outcome counts for a note (creator, campaign,
  brand) when the same user was touched by it in the ``funnel_days`` before the outcome
  (touch.ts < outcome.ts ≤ touch.ts + window). One outcome may count for several notes;
  brand-level figures count each outcome and user once.

Rates: CTR = reads ÷ impressions; interaction rate = interactions ÷ impressions; back-search and
visit rates = users ÷ matched reach (people both sides hold who saw the notes: numerator and
denominator come from the same population); cost per visit = spend ÷ matched visitors (currency per
person); ROI = touched GMV ÷ spend. The funnel stages count matched people throughout. Undefined
ratios (zero denominator) are null, never 0 or infinity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from redcat.engine.core import Engine
from redcat.engine.derived import brand_spend, notes_dim, outcomes, touches
from redcat.errors import StoreError
from redcat.settings import INTERACTION_EVENTS, Windows

Level = Literal["brand", "note", "creator", "campaign"]
_LEVEL_KEY: dict[str, str] = {
    "brand": "brand_id",
    "note": "note_id",
    "creator": "creator_id",
    "campaign": "campaign_id",
}
#: Headline metrics of a brand, in the order reports show them (see the module docstring).
KPI_KEYS: tuple[str, ...] = (
    "spend",
    "impressions",
    "reach",
    "matched_reach",
    "reads",
    "ctr",
    "interactions",
    "interaction_rate",
    "back_search_users",
    "back_search_rate",
    "visitors",
    "visit_rate",
    "cost_per_visit",
    "carts",
    "orders",
    "gmv",
    "new_customers",
    "roi",
)
#: Funnel stages from exposure (曝光) to order (成交); users per stage are distinct people.
STAGES: tuple[str, ...] = (
    "reach",
    "read",
    "interaction",
    "back_search",
    "visit",
    "cart",
    "order",
)


@dataclass(frozen=True)
class BrandFunnel:
    """A brand's funnel tables (pandas): ``kpis`` (metric → value), ``stages`` (distinct users per
    stage and conversion rates), ``daily``, ``notes``, ``creators``, ``campaigns``."""

    brand_id: str
    window_days: int
    kpis: dict[str, float | None]
    stages: pd.DataFrame
    daily: pd.DataFrame
    notes: pd.DataFrame
    creators: pd.DataFrame
    campaigns: pd.DataFrame


@dataclass(frozen=True)
class FunnelSources:
    """One brand's inputs, materialized once and shared by every level of the funnel.

    ``content``: the content platform's events on the brand's notes (all users, with the note's
    creator and campaign and the event ``day``); ``pairs``: each (touch, outcome) pair within the
    funnel window, with the touch's note, creator, campaign and brand; ``dims``: the brand's notes
    with campaign and spend (pandas).
    """

    content: ir.Table
    matched: ir.Table
    pairs: ir.Table
    dims: pd.DataFrame
    # A clean room's content platform aggregates (redcat.match.aggregates), used for the
    # platform's own figures in place of ``content`` when it holds no raw content_events.
    platform: ir.Table | None = None


def funnel_sources(engine: Engine, brand_id: str, windows: Windows) -> FunnelSources:
    """Build and cache (in the engine) the :class:`FunnelSources` of ``brand_id``."""
    notes = notes_dim(engine, brand_id)
    events = engine.table("content_events")
    content = events.join(notes, "note_id")
    content = content.mutate(day=content.ts.date())
    cr_events = engine.table("cr_content_events")
    matched = cr_events.join(notes, "note_id")
    matched = matched.mutate(day=matched.ts.date())
    tch = touches(engine, brand_id)
    out = outcomes(engine, brand_id, new_customer_days=windows.new_customer_days)
    joined = tch.join(
        out,
        [
            tch.match_key == out.match_key,
            tch.brand_id == out.brand_id,
            tch.ts < out.ts,
            out.ts <= tch.ts + ibis.interval(days=windows.funnel_days),
        ],
    )
    pairs = joined.select(
        tch.note_id,
        tch.creator_id,
        tch.campaign_id,
        tch.brand_id,
        out.match_key,
        out.event,
        out.ts,
        out.event_key,
        out.amount,
        out.is_new,
    )
    platform = None
    if engine.has_table("platform_metrics") and not _row_count(engine, "content_events"):
        p = engine.table("platform_metrics")
        platform = p.filter(p.brand_id == brand_id).cache()
    return FunnelSources(
        content=content.cache(),
        matched=matched.cache(),
        pairs=pairs.cache(),
        dims=engine.execute(notes),
        platform=platform,
    )


def _row_count(engine: Engine, table: str) -> int:
    return int(engine.execute(engine.table(table).count())["value"].iloc[0])


def content_metrics(sources: FunnelSources, by: str) -> ir.Table:
    """Return the content platform's own figures per ``by`` (a notes column, or ``day``):
    impressions, reach (people), reads, interactions (events) over all its users, and
    matched_reach, matched_read_users, matched_interaction_users (people both sides hold)."""
    if sources.platform is not None:
        p = sources.platform.filter(sources.platform.level == by)
        own = p.select(
            p.key.cast("date").name(by) if by == "day" else p.key.name(by),
            "impressions",
            "reach",
            "reads",
            "interactions",
        )
    else:
        ev = sources.content
        own = ev.group_by(by).agg(
            impressions=ev.count(where=ev.event == "impression"),
            reach=ev.user_key.nunique(where=ev.event == "impression"),
            reads=ev.count(where=ev.event == "read"),
            interactions=ev.count(where=ev.event.isin(INTERACTION_EVENTS)),
        )
    m = sources.matched
    matched = m.group_by(by).agg(
        matched_reach=m.match_key.nunique(where=m.event == "impression"),
        matched_read_users=m.match_key.nunique(where=m.event == "read"),
        matched_interaction_users=m.match_key.nunique(where=m.event.isin(INTERACTION_EVENTS)),
    )
    return own.left_join(matched, by).drop(f"{by}_right")


def touched_outcomes(sources: FunnelSources, by: str) -> ir.Table:
    """Return one row per (``by`` value, outcome) where a touch of that group preceded the outcome
    within the funnel window. ``by`` is note_id, creator_id, campaign_id or brand_id; columns:
    by, match_key, event, ts, event_key, amount, is_new."""
    rows = sources.pairs.select(by, "match_key", "event", "ts", "event_key", "amount", "is_new")
    return rows.distinct(on=[by, "event_key"], keep="first")


def outcome_metrics(rows: ir.Table, by: str) -> ir.Table:
    """Aggregate :func:`touched_outcomes` rows per ``by``: back_search_users, visitors,
    cart_users, buyers, new_customers (people); carts, orders (events); gmv (currency)."""
    return rows.group_by(by).agg(
        back_search_users=rows.match_key.nunique(where=rows.event == "search"),
        visitors=rows.match_key.nunique(where=rows.event == "visit"),
        cart_users=rows.match_key.nunique(where=rows.event == "cart"),
        carts=rows.count(where=rows.event == "cart"),
        buyers=rows.match_key.nunique(where=rows.event == "order"),
        orders=rows.count(where=rows.event == "order"),
        gmv=rows.amount.sum(where=rows.event == "order"),
        new_customers=rows.match_key.nunique(where=(rows.event == "order") & rows.is_new),
    )


def level_table(
    engine: Engine, brand_id: str, sources: FunnelSources, level: Level
) -> pd.DataFrame:
    """Return the funnel per ``level`` (one row per note, creator, campaign or the brand)."""
    key = _LEVEL_KEY[level]
    content = engine.execute(content_metrics(sources, key))
    out = engine.execute(outcome_metrics(touched_outcomes(sources, key), key))
    dims = sources.dims
    if level == "note":
        base = dims[["note_id", "title", "creator_id", "note_type", "campaign_id", "spend"]]
        base = base.assign(notes=1)
    elif level == "campaign":
        base = _campaign_spend(engine, brand_id)
        counts = dims.dropna(subset=["campaign_id"]).groupby("campaign_id").size()
        base = base.assign(notes=base["campaign_id"].map(counts).fillna(0).astype("int64"))
    else:
        base = (
            dims.groupby(key, dropna=False)
            .agg(notes=("note_id", "count"), spend=("spend", "sum"))
            .reset_index()
        )
    table = base.merge(content, on=key, how="left").merge(out, on=key, how="left")
    return _finish(table, sort_by=key)


def _campaign_spend(engine: Engine, brand_id: str) -> pd.DataFrame:
    rows = brand_spend(engine, brand_id)
    return engine.execute(rows.group_by("campaign_id").agg(spend=rows.amount.sum()))


_COUNT_COLUMNS = (
    "impressions",
    "reach",
    "reads",
    "interactions",
    "matched_reach",
    "matched_read_users",
    "matched_interaction_users",
    "back_search_users",
    "visitors",
    "cart_users",
    "carts",
    "buyers",
    "orders",
    "new_customers",
)


def _finish(table: pd.DataFrame, *, sort_by: str) -> pd.DataFrame:
    """Fill missing counts with 0 and add the rate columns (null where undefined)."""
    table = table.copy()
    for col in _COUNT_COLUMNS:
        if col in table:
            table[col] = table[col].fillna(0).astype("int64")
    for col in ("gmv", "spend"):
        if col in table:
            table[col] = table[col].fillna(0.0).astype("float64")
    table["ctr"] = ratio(table["reads"], table["impressions"])
    table["interaction_rate"] = ratio(table["interactions"], table["impressions"])
    table["back_search_rate"] = ratio(table["back_search_users"], table["matched_reach"])
    table["visit_rate"] = ratio(table["visitors"], table["matched_reach"])
    if "spend" in table:
        table["cost_per_visit"] = ratio(table["spend"], table["visitors"])
        table["roi"] = ratio(table["gmv"], table["spend"])
    return table.sort_values(sort_by, kind="stable").reset_index(drop=True)


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """Return ``num ÷ den`` element-wise as float64, null where ``den`` is not positive."""
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den > 0)).astype("float64")


def daily_table(engine: Engine, brand_id: str, sources: FunnelSources) -> pd.DataFrame:
    """Return the brand's funnel per calendar day (content metrics by event day, outcomes by the
    outcome's day, spend by spend date)."""
    content = engine.execute(content_metrics(sources, "day")).rename(columns={"day": "date"})
    rows = touched_outcomes(sources, "brand_id")
    rows = rows.mutate(date=rows.ts.date())
    out = engine.execute(outcome_metrics(rows, "date"))
    s = brand_spend(engine, brand_id)
    spend_daily = engine.execute(s.group_by("date").agg(spend=s.amount.sum()))
    table = content.merge(out, on="date", how="outer").merge(spend_daily, on="date", how="outer")
    table["date"] = pd.to_datetime(table["date"]).dt.date
    return _finish(table, sort_by="date")


def brand_funnel(engine: Engine, brand_id: str, windows: Windows | None = None) -> BrandFunnel:
    """Compute every funnel table for ``brand_id``; raises :class:`StoreError` if the brand has no
    notes in the store."""
    windows = windows or Windows()
    known = engine.execute(engine.table("notes").filter(lambda t: t.brand_id == brand_id).count())
    if int(known["value"][0]) == 0:
        raise StoreError(f"brand {brand_id!r} has no notes in the store")
    sources = funnel_sources(engine, brand_id, windows)
    brand = level_table(engine, brand_id, sources, "brand")
    row = brand.iloc[0] if len(brand) else pd.Series(dtype="float64")
    kpis: dict[str, float | None] = {name: _none_if_nan(row.get(name)) for name in KPI_KEYS}
    stages = _stages(row)
    return BrandFunnel(
        brand_id=brand_id,
        window_days=windows.funnel_days,
        kpis=kpis,
        stages=stages,
        daily=daily_table(engine, brand_id, sources),
        notes=level_table(engine, brand_id, sources, "note"),
        creators=level_table(engine, brand_id, sources, "creator"),
        campaigns=level_table(engine, brand_id, sources, "campaign"),
    )


def _stages(row: pd.Series) -> pd.DataFrame:
    users = [
        row.get("matched_reach", 0),
        row.get("matched_read_users", 0),
        row.get("matched_interaction_users", 0),
        row.get("back_search_users", 0),
        row.get("visitors", 0),
        row.get("cart_users", 0),
        row.get("buyers", 0),
    ]
    counts = [int(u) if u == u and u is not None else 0 for u in users]
    reach = counts[0]
    prev = [None, *counts[:-1]]
    return pd.DataFrame(
        {
            "stage": list(STAGES),
            "users": counts,
            # Stages are not nested (a shop visit needs no search first), so a stage larger than
            # the one before it has no step conversion rate: it is left blank, never above 100%.
            "rate_from_previous": [
                (c / p) if p and c <= p else None for c, p in zip(counts, prev, strict=True)
            ],
            "rate_from_reach": [(c / reach) if reach else None for c in counts],
        }
    )


def _none_if_nan(value: object) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if f != f else f
