"""AIPS stages: which events put a matched user in which stage of a brand, and the resulting
piecewise-constant stage of every user over time (the *segments*).

Stages, lowest to highest (``rank``): none 0, A aware 1, I interest 2, P purchased 3, S shared 4.

- **A aware**: the user saw a brand note (an ``impression`` or a ``read`` of it).
- **I interest**: the user engaged with a brand note beyond reading (like, collect, comment,
  share, follow, an in-app search from the note, the note's shop link), or on a retailer searched
  a brand term (回搜) or visited, favorited or carted at a brand shop; a note the user wrote about
  the brand *without* having ordered it before also counts as interest.
- **P purchased**: the user ordered the brand on a retailer.
- **S shared**: the user wrote a note about the brand (content event ``post``) after having
  ordered it (any earlier order in the data).

An event keeps the user in its stage from its day for that stage's look-back
(:class:`~redcat.settings.AssetSettings`, days); on each day a user sits in the *highest* stage
still alive, else in none. Days are UTC calendar days, held as whole days since 1970-01-01 in
the engine (``day``) so that windows are integer arithmetic.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from redcat.engine.core import Engine
from redcat.engine.derived import outcomes
from redcat.settings import INTERACTION_EVENTS, AssetSettings

STAGES: tuple[str, ...] = ("A", "I", "P", "S")
#: Every stage a user can sit in, ``none`` first; a stage's rank is its index here.
ALL_STAGES: tuple[str, ...] = ("none", *STAGES)
RANK: dict[str, int] = {name: i for i, name in enumerate(ALL_STAGES)}

AWARE_EVENTS: tuple[str, ...] = ("impression", "read")
INTEREST_EVENTS: tuple[str, ...] = (*INTERACTION_EVENTS, "search", "link_click")
SHOP_INTEREST_EVENTS: tuple[str, ...] = ("search", "visit", "favorite", "cart")
EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Return ``d`` as whole days since 1970-01-01."""
    return (d - EPOCH).days


def day_date(n: int) -> date:
    """Return the date ``n`` whole days after 1970-01-01."""
    return date.fromordinal(EPOCH.toordinal() + int(n))


def _day(ts: ir.TimestampValue) -> ir.IntegerValue:
    return (ts.epoch_seconds() // 86_400).cast("int64")


def stage_events(engine: Engine, brand_id: str) -> ir.Table:
    """Return every event that puts a matched user in a stage of ``brand_id``.

    Columns: ``match_key``, ``rank`` (1 A … 4 S), ``ts``, ``day`` (days since 1970-01-01),
    ``note_id`` (the brand note the event happened on; null for retailer events) and ``event``
    (the content or commerce event name)."""
    notes = engine.table("notes")
    notes = notes.filter(notes.brand_id == brand_id).select("note_id")
    content = engine.table("cr_content_events").join(notes, "note_id")
    on_notes = content.filter(content.event.isin((*AWARE_EVENTS, *INTEREST_EVENTS)))
    on_notes = on_notes.select(
        "match_key",
        rank=ibis.ifelse(on_notes.event.isin(AWARE_EVENTS), RANK["A"], RANK["I"]).cast("int64"),
        ts=on_notes.ts,
        note_id=on_notes.note_id,
        event=on_notes.event,
    )
    out = outcomes(engine, brand_id)
    shop = out.select(
        "match_key",
        rank=ibis.ifelse(out.event == "order", RANK["P"], RANK["I"]).cast("int64"),
        ts=out.ts,
        note_id=ibis.null().cast("string"),
        event=out.event,
    )
    shop = shop.filter(shop.event.isin((*SHOP_INTEREST_EVENTS, "order")))
    orders = out.filter(out.event == "order")
    first_order = orders.group_by("match_key").agg(first_order=orders.ts.min())
    posts = content.filter(content.event == "post")
    posts = posts.left_join(first_order, "match_key")
    after_order = posts.first_order.notnull() & (posts.first_order < posts.ts)
    posts = posts.select(
        match_key=posts.match_key,
        rank=ibis.ifelse(after_order, RANK["S"], RANK["I"]).cast("int64"),
        ts=posts.ts,
        note_id=posts.note_id,
        event=posts.event,
    )
    both = on_notes.union(shop).union(posts)
    return both.mutate(day=_day(both.ts))


def _window(rank: ir.IntegerValue, settings: AssetSettings) -> ir.IntegerValue:
    return (
        ibis.cases(
            (rank == RANK["A"], settings.aware_days),
            (rank == RANK["I"], settings.interest_days),
            (rank == RANK["P"], settings.purchase_days),
            else_=settings.share_days,
        )
    ).cast("int64")


def stage_intervals(events: ir.Table, settings: AssetSettings) -> ir.Table:
    """Return, per user and stage, the maximal runs of days the stage stays alive: ``match_key``,
    ``rank``, ``start`` and ``end`` (days since 1970-01-01, end exclusive). An event on day d
    keeps its stage alive on days d … d + window − 1; overlapping or touching spans merge."""
    days = events.select("match_key", "rank", "day").distinct()
    days = days.mutate(window=_window(days["rank"], settings))
    prev = days.day.lag().over(group_by=[days.match_key, days["rank"]], order_by=days.day)
    days = days.mutate(fresh=(prev.isnull() | (days.day > prev + days.window)).cast("int64"))
    days = days.mutate(
        run=days.fresh.cumsum(group_by=[days.match_key, days["rank"]], order_by=days.day)
    )
    runs = days.group_by(["match_key", "rank", "run"]).agg(
        start=days.day.min(), last=days.day.max(), window=days.window.max()
    )
    return runs.select("match_key", "rank", "start", end=runs["last"] + runs.window)


def stage_segments(intervals: ir.Table) -> ir.Table:
    """Return each user's stage as a sequence of constant pieces: ``match_key``, ``rank`` (the
    highest stage alive), ``start``, ``end`` (days, end exclusive) and ``entered`` (the user's
    stage rose at ``start``: from a lower stage on the day before, or from none). Days outside
    every piece are stage none."""
    # distinct: a day that bounds two intervals (two stages starting together) would otherwise
    # cut an empty piece, and the pieces' order on that day would mark a spurious re-entry
    bounds = intervals.select("match_key", b=intervals.start).union(
        intervals.select("match_key", b=intervals.end), distinct=True
    )
    nxt = bounds.b.lead().over(group_by=bounds.match_key, order_by=bounds.b)
    pieces = bounds.mutate(e=nxt)
    pieces = pieces.filter(pieces.e.notnull())
    iv = intervals.view()
    cover = pieces.join(
        iv,
        [pieces.match_key == iv.match_key, iv.start <= pieces.b, pieces.b < iv.end],
    )
    pieces = cover.group_by([pieces.match_key, pieces.b, pieces.e]).agg(rank=iv["rank"].max())
    order = pieces.b
    prev_rank = pieces["rank"].lag().over(group_by=pieces.match_key, order_by=order)
    prev_end = pieces.e.lag().over(group_by=pieces.match_key, order_by=order)
    entered = prev_end.isnull() | (prev_end < pieces.b) | (pieces["rank"] > prev_rank)
    return pieces.select(
        "match_key", "rank", start=pieces.b, end=pieces.e, entered=entered.fill_null(True)
    )
