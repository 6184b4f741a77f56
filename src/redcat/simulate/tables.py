"""Turn the in-memory world into contract tables (Arrow), in chunks for the large ones.

Only contract columns leave this module: the internal truth (``paid``, ``cause_note``...) never
reaches a party's file.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from redcat.ingest.contract import (
    ARMS,
    BRAND_TERMS,
    COMMERCE_EVENTS,
    COMMERCE_EVENTS_TABLE,
    CONTENT_EVENTS,
    CONTENT_EVENTS_TABLE,
    HOLDOUTS,
    NOTE_TYPES,
    NOTES,
    SHOPS,
    SPEND,
    SPEND_KINDS,
    SURFACES,
    TableSpec,
)
from redcat.simulate.catalog import Catalog
from redcat.simulate.commerce import CommerceEvents
from redcat.simulate.config import DAY, Timeline
from redcat.simulate.content import EV, PROFILE, ContentWorld
from redcat.simulate.population import Population
from redcat.simulate.shares import Shares
from redcat.simulate.writer import (
    arrow_schema,
    fixed_ids,
    fixed_strings,
    id_width,
    lookup,
    timestamps,
)

CHUNK_ROWS = 1_000_000  # rows per chunk written: bounds memory for user_key strings

# Every world's content event ids start with this prefix; retailer ones with "<retailer_id>-e".
CONTENT_EVENT_PREFIX = "ce"


def _table(spec: TableSpec, columns: list[pa.Array]) -> pa.Table:
    return pa.Table.from_arrays(columns, schema=arrow_schema(spec))


def _ranges(n: int, chunk: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, chunk):
        yield lo, min(n, lo + chunk)
    if n == 0:
        yield 0, 0


def notes_table(content: ContentWorld, catalog: Catalog, shares: Shares | None = None) -> pa.Table:
    """The ``notes`` table: the brands' and creators' notes, then buyers' notes (organic, by the
    buyer's own account, featuring the product bought)."""
    notes = content.notes
    product_ids = [[catalog.product_ids[p] for p in ps] for ps in notes.products]
    table = _table(
        NOTES,
        [
            pa.array(notes.note_ids, pa.string()),
            lookup([b.brand_id for b in catalog.brands], notes.brand),
            lookup(notes.creator_ids, notes.creator),
            lookup(NOTE_TYPES, notes.note_type),
            pa.array(product_ids, pa.list_(pa.string())),
            timestamps(notes.published),
            pa.array(notes.title, pa.string()),
        ],
    )
    if shares is None or not len(shares):
        return table
    organic = np.full(len(shares), NOTE_TYPES.index("organic"))
    ugc = _table(
        NOTES,
        [
            pa.array(shares.note_ids, pa.string()),
            lookup([b.brand_id for b in catalog.brands], shares.brand),
            lookup(shares.author_ids, shares.author),
            lookup(NOTE_TYPES, organic),
            pa.array(
                [[catalog.product_ids[p]] for p in shares.product.tolist()], pa.list_(pa.string())
            ),
            timestamps(shares.published),
            pa.array(shares.title, pa.string()),
        ],
    )
    return pa.concat_tables([table, ugc]).combine_chunks()


def content_event_chunks(
    content: ContentWorld,
    population: Population,
    shares: Shares | None = None,
    chunk: int = CHUNK_ROWS,
) -> Iterator[pa.Table]:
    """The ``content_events`` table, ``chunk`` rows at a time, in (ts, event_id) order: exposure
    and engagement, with buyers' ``post`` events merged in (after other events of the same
    second)."""
    ev = content.events
    m = len(ev)
    k = len(shares) if shares is not None else 0
    note_ids = content.notes.note_ids + (shares.note_ids if shares is not None else ())
    if shares is not None and k:
        # Both inputs are sorted by ts: insertion points merge them in O(rows), no re-sort.
        at = np.searchsorted(ev.ts, shares.published, side="right")
        order = np.insert(np.arange(m, dtype=np.int64), at, m + np.arange(k, dtype=np.int64))
        user = np.concatenate([ev.user, shares.user])[order]
        note = np.concatenate([ev.note, len(content.notes.note_ids) + np.arange(k)])[order]
        ts = np.concatenate([ev.ts, shares.published])[order]
        event = np.concatenate([ev.event, np.full(k, EV["post"])])[order]
        surface = np.concatenate([ev.surface, np.full(k, PROFILE)])[order]
    else:
        user, note, ts, event, surface = ev.user, ev.note, ev.ts, ev.event, ev.surface
    width = id_width(m + k)
    for lo, hi in _ranges(m + k, chunk):
        yield _table(
            CONTENT_EVENTS_TABLE,
            [
                fixed_ids(CONTENT_EVENT_PREFIX, np.arange(lo + 1, hi + 1), width),
                fixed_strings(population.keys[user[lo:hi]]),
                lookup(note_ids, note[lo:hi]),
                timestamps(ts[lo:hi]),
                lookup(CONTENT_EVENTS, event[lo:hi]),
                lookup(SURFACES, surface[lo:hi]),
            ],
        )


def spend_table(content: ContentWorld, tl: Timeline) -> pa.Table:
    """The ``spend`` table (one row per boosted note and day)."""
    sp = content.spend
    epoch_day = tl.start // DAY + sp.day
    return _table(
        SPEND,
        [
            pa.array(epoch_day.astype(np.int32), pa.int32()).cast(pa.date32()),
            lookup(content.notes.note_ids, sp.note),
            lookup(content.campaigns.campaign_ids, sp.campaign),
            pa.array(sp.amount, pa.float64()),
            lookup(SPEND_KINDS, sp.kind),
        ],
    )


def holdout_chunks(
    content: ContentWorld, population: Population, chunk: int = CHUNK_ROWS
) -> Iterator[pa.Table]:
    """The ``holdouts`` table: every randomized user of every campaign, campaign by campaign."""
    camps = content.campaigns
    if not camps.campaign_ids:
        yield _table(HOLDOUTS, [pa.array([], pa.string())] * 3)
        return
    users = np.concatenate(camps.users)
    campaign = np.repeat(np.arange(len(camps.campaign_ids)), [len(u) for u in camps.users])
    arm = np.concatenate(camps.control).astype(np.int64)  # 0 test, 1 control, as in ARMS
    for lo, hi in _ranges(len(users), chunk):
        yield _table(
            HOLDOUTS,
            [
                fixed_strings(population.keys[users[lo:hi]]),
                lookup(camps.campaign_ids, campaign[lo:hi]),
                lookup(ARMS, arm[lo:hi]),
            ],
        )


def commerce_event_chunks(
    events: CommerceEvents,
    catalog: Catalog,
    population: Population,
    r: int,
    chunk: int = CHUNK_ROWS,
) -> Iterator[pa.Table]:
    """One retailer's ``commerce_events`` table, ``chunk`` rows at a time, in (ts, event_id)
    order. Only contract columns: nothing marks which events notes caused."""
    width = id_width(len(events))
    order_width = id_width(int(events.order_no.max()) if len(events) else 0)
    shops = catalog.shops[r].shop_ids
    rid = events.retailer_id
    for lo, hi in _ranges(len(events), chunk):
        amount = events.amount[lo:hi]
        yield _table(
            COMMERCE_EVENTS_TABLE,
            [
                fixed_ids(f"{rid}-e", np.arange(lo + 1, hi + 1), width),
                fixed_strings(population.keys[events.user[lo:hi]]),
                lookup(shops, events.shop[lo:hi]),
                timestamps(events.ts[lo:hi]),
                lookup(COMMERCE_EVENTS, events.event[lo:hi]),
                lookup(catalog.queries, events.query[lo:hi]),
                lookup(catalog.product_ids, events.product[lo:hi]),
                fixed_ids(f"{rid}-o", events.order_no[lo:hi], order_width),
                pa.array(amount, pa.float64(), mask=np.isnan(amount)),
            ],
        )


def shops_table(catalog: Catalog, r: int) -> pa.Table:
    """One retailer's ``shops`` table."""
    shops = catalog.shops[r]
    return _table(
        SHOPS,
        [
            pa.array(shops.shop_ids, pa.string()),
            lookup([b.brand_id for b in catalog.brands], shops.shop_brand),
        ],
    )


def brand_terms_table(catalog: Catalog) -> pa.Table:
    """The ``brand_terms`` table (every retailer recognizes the same terms)."""
    rows = [(b.brand_id, t) for b in catalog.brands for t in b.terms]
    return _table(
        BRAND_TERMS,
        [pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string())],
    )
