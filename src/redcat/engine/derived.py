"""Derived tables every measurement starts from: touches, outcomes and conversions.

All are portable Ibis expressions over the clean-room tables written by ``match``
(``cr_content_events``, ``cr_commerce_events``) and the parties' reference tables (``notes``,
``spend``, ``shops``, ``brand_terms``). Users appear as ``match_key`` only.

- A *touch* is one user's visit to one note (events less than ``TOUCH_GAP_MINUTES`` apart): a
  click touch if the user read, engaged or clicked the ad link in it, a view touch otherwise.
- An *outcome* is a retailer event that belongs to a brand: a brand-term search (回搜; the query
  contains one of the brand's terms on that retailer, case-insensitive) or a visit, favorite, cart
  or order at one of the brand's shops.
- A *conversion* is one order (distinct ``order_id`` per retailer; ``event_id`` when the export has
  none), with its GMV and whether the buyer is a new customer (新客: no order at that brand on that
  retailer in the ``new_customer_days`` before it).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from redcat.engine.core import Engine
from redcat.settings import CLICK_EVENTS, VIEW_EVENTS

TOUCH_EVENTS: tuple[str, ...] = VIEW_EVENTS + CLICK_EVENTS
#: Events of one user on one note closer than this (minutes) form one touch.
TOUCH_GAP_MINUTES = 30
OUTCOME_EVENTS: tuple[str, ...] = ("search", "visit", "favorite", "cart", "order")


def brand_spend(engine: Engine, brand_id: str | None = None) -> ir.Table:
    """Return the ``spend`` rows of ``brand_id``'s notes (every row if None)."""
    spend = engine.table("spend")
    if brand_id is None:
        return spend
    notes = engine.table("notes").filter(lambda t: t.brand_id == brand_id)
    return spend.semi_join(notes, "note_id")


def _note_campaign_spend(engine: Engine, brand_id: str | None) -> ir.Table:
    spend = brand_spend(engine, brand_id)
    return spend.group_by(["note_id", "campaign_id"]).agg(amount=spend.amount.sum())


def note_campaigns(engine: Engine) -> ir.Table:
    """Return one row per note: ``note_id``, ``campaign_id`` (the campaign that spent most on it;
    ties broken by campaign id) and its total ``spend`` (currency)."""
    per = _note_campaign_spend(engine, None)
    rank = ibis.row_number().over(
        group_by=per.note_id, order_by=[ibis.desc(per.amount), per.campaign_id]
    )
    best = per.mutate(rank=rank).filter(lambda t: t["rank"] == 0)
    totals = per.group_by("note_id").agg(spend=per.amount.sum())
    return best.select("note_id", "campaign_id").join(totals, "note_id")


def campaign_shares(engine: Engine, brand_id: str | None = None) -> ir.Table:
    """Return each boosted note's spend split over campaigns: ``note_id``, ``campaign_id``,
    ``share`` (the campaign's fraction of the note's spend, 0–1; shares of a note sum to 1)."""
    per = _note_campaign_spend(engine, brand_id)
    total = per.amount.sum().over(group_by=per.note_id)
    per = per.mutate(share=ibis.ifelse(total > 0, per.amount / total, 0.0))
    return per.select("note_id", "campaign_id", "share")


def notes_dim(engine: Engine, brand_id: str | None = None) -> ir.Table:
    """Return the notes of ``brand_id`` (all brands if None) with their campaign and spend
    (0 for unboosted notes)."""
    notes = engine.table("notes")
    if brand_id is not None:
        notes = notes.filter(notes.brand_id == brand_id)
    camp = note_campaigns(engine)
    joined = notes.left_join(camp, "note_id")
    return joined.select(
        notes.note_id,
        notes.brand_id,
        notes.creator_id,
        notes.note_type,
        notes.title,
        notes.published_at,
        camp.campaign_id,
        spend=camp.spend.fill_null(0.0),
    )


def touches(
    engine: Engine, brand_id: str | None = None, *, gap_minutes: int = TOUCH_GAP_MINUTES
) -> ir.Table:
    """Return matched users' touches: ``match_key``, ``brand_id``, ``note_id``, ``creator_id``,
    ``campaign_id``, ``is_click`` (bool), ``ts``.

    One touch is one *visit* of a user to a note: that user's events on that note with no gap
    longer than ``gap_minutes`` between them. It starts at the visit's first event and is a click
    touch when any event in it is a click (a read arrives seconds after its impression: one touch,
    not a view and a click).
    """
    events = engine.table("cr_content_events")
    notes = notes_dim(engine, brand_id)
    ev = events.filter(events.event.isin(TOUCH_EVENTS)).join(notes, "note_id")
    ev = ev.mutate(is_click=ev.event.isin(CLICK_EVENTS))
    order = [ev.ts, ev.event_id]
    prev = ev.ts.lag().over(group_by=[ev.match_key, ev.note_id], order_by=order)
    starts = prev.isnull() | (ev.ts > prev + ibis.interval(minutes=gap_minutes))
    ev = ev.mutate(starts=starts.cast("int64"))
    ev = ev.mutate(
        visit=ev.starts.cumsum(group_by=[ev.match_key, ev.note_id], order_by=[ev.ts, ev.event_id])
    )
    return (
        ev.group_by(["match_key", "brand_id", "note_id", "creator_id", "campaign_id", "visit"])
        .agg(ts=ev.ts.min(), is_click=ev.is_click.any())
        .drop("visit")
    )


def outcomes(
    engine: Engine, brand_id: str | None = None, *, new_customer_days: int = 365
) -> ir.Table:
    """Return matched users' brand outcomes on every retailer.

    Columns: ``match_key``, ``brand_id``, ``retailer_id``, ``event`` (search | visit | favorite |
    cart | order), ``ts``, ``event_key`` (unique per outcome), ``amount`` (GMV of an order,
    currency; null otherwise) and ``is_new`` (orders only: a new customer's order)."""
    commerce = engine.table("cr_commerce_events")
    shops = engine.table("shops")
    terms = engine.table("brand_terms")
    if brand_id is not None:
        shops = shops.filter(shops.brand_id == brand_id)

    searches = commerce.filter((commerce.event == "search") & commerce.query.notnull())
    hit = searches.join(
        terms,
        [
            searches.retailer_id == terms.retailer_id,
            searches.query.lower().contains(terms.term.lower()),
        ],
    )
    # A query belongs to the brand(s) of its longest matching term on that retailer, so that
    # "anna sui lipstick" is a search for the brand "Anna Sui", not also for a brand "Ann".
    # (window in a mutate, then a plain filter: Spark cannot filter on a window expression)
    hit = hit.mutate(
        term_length=hit.term.length(),
        longest=hit.term.length().max().over(group_by=[hit.retailer_id, hit.event_id]),
    )
    hit = hit.filter(hit.term_length == hit.longest)
    if brand_id is not None:
        hit = hit.filter(hit.brand_id == brand_id)
    brand_searches = hit.select(
        hit.match_key,
        hit.brand_id,
        hit.retailer_id,
        event=hit.event,
        ts=hit.ts,
        event_key=hit.retailer_id + ":" + hit.event_id,
        amount=ibis.null().cast("float64"),
    ).distinct()

    at_shop = commerce.filter(commerce.event.isin(("visit", "favorite", "cart", "order")))
    shop_hit = at_shop.join(shops, ["retailer_id", "shop_id"])
    # Separate key spaces: an order without an id must not merge with an order whose id
    # happens to equal its event id.
    shop_rows = shop_hit.mutate(
        order_key=ibis.ifelse(
            shop_hit.order_id.isnull(), "ev:" + shop_hit.event_id, "id:" + shop_hit.order_id
        ),
    )
    non_orders = shop_rows.filter(shop_rows.event != "order").select(
        "match_key",
        "brand_id",
        "retailer_id",
        "event",
        "ts",
        event_key=shop_rows.retailer_id + ":" + shop_rows.event_id,
        amount=ibis.null().cast("float64"),
    )
    orders = shop_rows.filter(shop_rows.event == "order")
    orders = orders.group_by(["retailer_id", "match_key", "order_key"]).agg(
        brand_id=orders.brand_id.min(),
        ts=orders.ts.min(),
        amount=orders.amount.fill_null(0.0).sum(),
    )
    orders = orders.select(
        "match_key",
        "brand_id",
        "retailer_id",
        event=ibis.literal("order"),
        ts=orders.ts,
        event_key=orders.retailer_id
        + ibis.ifelse(orders.order_key.startswith("id:"), ":order:", ":event:")
        + orders.order_key.substr(3),
        amount=orders.amount,
    )
    prev = orders.ts.lag().over(
        group_by=[orders.match_key, orders.brand_id, orders.retailer_id],
        order_by=[orders.ts, orders.event_key],
    )
    orders = orders.mutate(prev_ts=prev)
    orders = orders.mutate(
        is_new=orders.prev_ts.isnull()
        | (orders.prev_ts < orders.ts - ibis.interval(days=new_customer_days))
    ).drop("prev_ts")
    others = brand_searches.union(non_orders).mutate(is_new=ibis.null().cast("boolean"))
    return others.union(orders)


def conversions(
    engine: Engine, brand_id: str | None = None, *, new_customer_days: int = 365
) -> ir.Table:
    """Return one row per order: ``match_key``, ``brand_id``, ``retailer_id``, ``ts``,
    ``event_key`` (order id), ``amount`` (GMV, currency), ``is_new``."""
    out = outcomes(engine, brand_id, new_customer_days=new_customer_days)
    return out.filter(out.event == "order").drop("event")


def journey_touches(engine: Engine, brand_id: str, *, click_days: int, view_days: int) -> ir.Table:
    """Return the brand's journeys, one row per (journey, touch), touches unordered.

    A *converting journey* is one order with the touches that may be credited for it: the buyer's
    touches of the brand's notes with touch.ts < order.ts ≤ touch.ts + window (``click_days`` for
    click touches, ``view_days`` for views), made after the buyer's previous order of the brand
    on any retailer (a touch is credited to one order at most). A *non-converting journey* holds a
    user's touches that serve no order, one journey per gap between consecutive orders (touches
    after the last order, or of users who never ordered, included).

    Columns: ``journey_id``, ``converted`` (bool), ``retailer_id`` and ``conversion_ts`` (null for
    non-converting), ``value`` (GMV, currency; 0 for non-converting), ``note_id``, ``creator_id``,
    ``campaign_id``, ``is_click``, ``ts``. Orders with no eligible touch are absent (see
    :func:`conversions` for all orders).
    """
    tch = touches(engine, brand_id)
    conv = conversions(engine, brand_id)
    conv = conv.mutate(
        prev_ts=conv.ts.lag().over(
            group_by=[conv.match_key, conv.brand_id], order_by=[conv.ts, conv.event_key]
        )
    )
    window_end = ibis.ifelse(
        tch.is_click,
        tch.ts + ibis.interval(days=click_days),
        tch.ts + ibis.interval(days=view_days),
    )
    converting = tch.join(
        conv,
        [
            tch.match_key == conv.match_key,
            tch.ts < conv.ts,
            conv.ts <= window_end,
            # A touch at the same instant as the previous order could not serve it (touches
            # must come strictly before), so it may serve this one.
            conv.prev_ts.isnull() | (tch.ts >= conv.prev_ts),
        ],
    ).select(
        match_key=tch.match_key,
        journey_id=conv.event_key,
        converted=ibis.literal(True),
        retailer_id=conv.retailer_id,
        conversion_ts=conv.ts,
        value=conv.amount,
        note_id=tch.note_id,
        creator_id=tch.creator_id,
        campaign_id=tch.campaign_id,
        is_click=tch.is_click,
        ts=tch.ts,
    )
    # Every touch that serves no order joins a non-converting journey: one per user and gap
    # between consecutive orders (numbered by how many orders came before it).
    served = converting.select(
        match_key=converting.match_key, note_id=converting.note_id, ts=converting.ts
    ).distinct()
    idle = tch.anti_join(served, ["match_key", "note_id", "ts"])
    prior = conv.select(buyer=conv.match_key, order_ts=conv.ts)
    before = idle.left_join(prior, [idle.match_key == prior.buyer, prior.order_ts <= idle.ts])
    idle = before.group_by(
        ["match_key", "note_id", "creator_id", "campaign_id", "is_click", "ts"]
    ).agg(gap=before.order_ts.count())
    non_converting = idle.select(
        journey_id="open:" + idle.match_key.substr(0, 16) + ":" + idle.gap.cast("string"),
        converted=ibis.literal(False),
        retailer_id=ibis.null().cast("string"),
        conversion_ts=ibis.null().cast(conv.ts.type()),
        value=ibis.literal(0.0),
        note_id=idle.note_id,
        creator_id=idle.creator_id,
        campaign_id=idle.campaign_id,
        is_click=idle.is_click,
        ts=idle.ts,
    )
    converting = converting.drop("match_key")
    return converting.union(non_converting)
