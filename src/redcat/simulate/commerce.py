"""The retailers: shopping journeys that happen anyway (baseline) and those notes cause.

A journey is one person's visit to one brand on one retailer: an optional search (brand term or
generic query), a shop visit, maybe a favorite, a cart and an order, in that order in time. See
:mod:`redcat.simulate` for the causal assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redcat.ingest.contract import COMMERCE_EVENTS
from redcat.simulate.catalog import Catalog
from redcat.simulate.config import DAY, Timeline, WorldConfig, stream
from redcat.simulate.content import EV, ContentWorld
from redcat.simulate.population import Population
from redcat.simulate.sampling import diurnal_seconds, gaps, row_choice

CE = {name: i for i, name in enumerate(COMMERCE_EVENTS)}
BASELINE, HAZARD, LINK = 0, 1, 2  # journey kinds: anyway, caused by exposure, via a note's link
BRAND_SEARCH, GENERIC_SEARCH, DIRECT = 0, 1, 2  # how a journey starts
# P(entry) by journey kind: brand-term search, generic search, direct visit.
ENTRY = np.array([[0.3, 0.3, 0.4], [0.6, 0.1, 0.3], [0.0, 0.0, 1.0]])
VISIT_AFTER_SEARCH = (0.65, 0.3)  # after a brand-term / a generic search
FAVORITE = 0.12
MEAN_QUALITY = 0.2 + 2.0 / 4.5  # (0.2 + mean of Beta(2, 2.5)), normalizes the quality term
MEAN_INTEREST = 0.3 + 0.6


@dataclass(frozen=True, eq=False)
class Journeys:
    """Journeys to simulate. ``start`` in epoch seconds; ``cause_note`` (-1 for baseline) and
    ``cause_paid`` (the causing exposure was a paid impression) are the ground truth."""

    user: np.ndarray
    brand: np.ndarray
    retailer: np.ndarray
    start: np.ndarray
    kind: np.ndarray
    cause_note: np.ndarray
    cause_paid: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def take(self, idx: np.ndarray) -> Journeys:
        """Return the journeys at ``idx``."""
        return Journeys(*(getattr(self, f)[idx] for f in _JOURNEY_FIELDS))


_JOURNEY_FIELDS = ("user", "brand", "retailer", "start", "kind", "cause_note", "cause_paid")


def concat_journeys(parts: list[Journeys]) -> Journeys:
    """Concatenate journey batches in order."""
    return Journeys(*(np.concatenate([getattr(p, f) for p in parts]) for f in _JOURNEY_FIELDS))


@dataclass(frozen=True, eq=False)
class CommerceEvents:
    """One retailer's events sorted by (ts, event id); event ids are ``<retailer>-e`` + position
    + 1 and order ids ``<retailer>-o`` + ``order_no`` (1-based, -1 on non-orders). Indices: shop
    into the retailer's shops, query into the catalog's queries, product into its products (-1
    for none); amount in yuan (NaN for none). ``cause_note`` / ``cause_paid`` are internal truth
    (never written): the note whose exposure caused the event's journey (-1 if none)."""

    retailer_id: str
    user: np.ndarray
    shop: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    query: np.ndarray
    product: np.ndarray
    order_no: np.ndarray
    amount: np.ndarray
    cause_note: np.ndarray
    cause_paid: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def caused_journeys(
    config: WorldConfig,
    catalog: Catalog,
    population: Population,
    content: ContentWorld,
    tl: Timeline,
) -> Journeys:
    """Return the journeys exposures cause, on every retailer.

    Each impression adds a hazard of brand journeys that decays with half-life
    ``effect_half_life_days``; its total (to infinity) is ``effect_per_impression`` ×
    ``effect_scale`` scaled by note quality, viewer interest and depth (seen / read / engaged).
    Journeys are Poisson with that mean truncated at the period end, each attributed to the
    impression that generated it (superposition: exactly the journeys that would vanish without
    it). Each goes to one retailer the person belongs to, ∝ its coverage. A link click on an ad
    note leads, with probability ``link_follow`` × ``effect_scale`` (at most 1), straight to the
    brand's shop on the note's link retailer."""
    beh = config.behaviour
    rng = stream(config.seed, "caused")
    ev = content.events
    notes = content.notes
    imp = np.flatnonzero(ev.event == EV["impression"])
    user, note, ts = ev.user[imp], ev.note[imp], ev.ts[imp]
    q = notes.quality[note]
    interest = population.interest[user, catalog.brand_category[notes.brand[note]]]
    alpha = (
        config.effect_scale
        * beh.effect_per_impression
        * ((0.2 + q) / MEAN_QUALITY)
        * ((0.3 + interest) / MEAN_INTEREST)
        * np.array(beh.depth_multiplier)[ev.depth[imp]]
    )
    half_life = config.effect_half_life_days
    horizon = 1.0 - 2.0 ** (-((tl.end - ts) / DAY) / half_life)
    count = rng.poisson(alpha * horizon)
    src = np.repeat(np.arange(len(imp)), count)
    u = rng.random(len(src))
    delay_days = -(half_life / np.log(2.0)) * np.log1p(-u * horizon[src])
    start = ts[src] + np.maximum(60, (delay_days * DAY).astype(np.int64))
    weights = population.member[user[src]] * population.retailer_coverage
    retailer = row_choice(rng, weights)
    hazard = Journeys(
        user=user[src],
        brand=notes.brand[note[src]],
        retailer=retailer,
        start=start,
        kind=np.full(len(src), HAZARD),
        cause_note=note[src],
        cause_paid=ev.paid[imp][src],
    )

    clicks = np.flatnonzero(ev.event == EV["link_click"])
    c_user, c_note = ev.user[clicks], ev.note[clicks]
    target = notes.link_retailer[c_note]
    follow_p = min(1.0, beh.link_follow * config.effect_scale)
    follows = (rng.random(len(clicks)) < follow_p) & (target >= 0)
    follows &= population.member[c_user, np.maximum(target, 0)]
    sel = np.flatnonzero(follows)
    link = Journeys(
        user=c_user[sel],
        brand=notes.brand[c_note[sel]],
        retailer=target[sel],
        start=ev.ts[clicks][sel] + rng.integers(2, 15, size=len(sel)),
        kind=np.full(len(sel), LINK),
        cause_note=c_note[sel],
        cause_paid=ev.paid[clicks][sel],
    )
    both = concat_journeys([hazard, link])
    return both.take(np.flatnonzero((both.retailer < config.retailers) & (both.start < tl.end)))


def baseline_journeys(
    config: WorldConfig, catalog: Catalog, population: Population, r: int, tl: Timeline
) -> Journeys:
    """Return retailer ``r``'s brand journeys that happen with no note: per customer and brand
    Poisson at ``base_journey_rate`` × (0.03 + interest) × √activity per day, uniform over
    history and period with the daily activity profile."""
    beh = config.behaviour
    rng = stream(config.seed, "baseline", config.retailer_ids[r])
    members = np.flatnonzero(population.member[:, r])
    span_days = (tl.end - tl.history) // DAY
    parts: list[Journeys] = []
    for b in range(config.brands):
        k = catalog.brand_category[b]
        rate = (
            beh.base_journey_rate
            * (0.03 + population.interest[members, k])
            * np.sqrt(population.activity[members])
        )
        count = rng.poisson(rate * span_days)
        user = np.repeat(members, count)
        n = len(user)
        day = rng.integers(0, span_days, size=n)
        parts.append(
            Journeys(
                user=user,
                brand=np.full(n, b),
                retailer=np.full(n, r),
                start=tl.history + day * DAY + diurnal_seconds(rng, n),
                kind=np.full(n, BASELINE),
                cause_note=np.full(n, -1),
                cause_paid=np.zeros(n, dtype=bool),
            )
        )
    return concat_journeys(parts)


def _pick(rng: np.random.Generator, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """One uniform index per row in the contiguous range [first, first + count)."""
    return first + (rng.random(len(first)) * count).astype(np.int64)


def retailer_events(
    config: WorldConfig,
    catalog: Catalog,
    population: Population,
    content: ContentWorld,
    journeys: Journeys,
    r: int,
    tl: Timeline,
) -> CommerceEvents:
    """Play retailer ``r``'s journeys through the funnel, add generic searches that lead nowhere
    (``noise_search_rate``), and return its events in (ts, id) order; events at or after the
    period end are not observed."""
    beh = config.behaviour
    rid = config.retailer_ids[r]
    rng = stream(config.seed, "funnel", rid)
    shops = catalog.shops[r]
    notes = content.notes
    j = journeys
    n = len(j)
    caused = j.kind != BASELINE
    quality = np.where(caused, notes.quality[np.maximum(j.cause_note, 0)], MEAN_QUALITY - 0.2)

    entry = row_choice(rng, ENTRY[j.kind])
    searched = entry != DIRECT
    visit_p = np.where(entry == BRAND_SEARCH, VISIT_AFTER_SEARCH[0], VISIT_AFTER_SEARCH[1])
    visited = ~searched | (rng.random(n) < visit_p)
    favored = visited & (rng.random(n) < FAVORITE)
    cart_p = np.select(
        [j.kind == BASELINE, j.kind == HAZARD], [0.3, 0.2 + 0.35 * quality], 0.3 + 0.35 * quality
    )
    carted = visited & (rng.random(n) < cart_p)
    ordered = carted & (rng.random(n) < np.where(caused, 0.5 + 0.2 * quality, 0.45))

    # What the journey is about: a product of the causing note (mostly) or of the brand.
    brand_first = np.array([p[0] for p in catalog.brand_products])
    brand_count = np.array([len(p) for p in catalog.brand_products])
    product = _pick(rng, brand_first[j.brand], brand_count[j.brand])
    note_lens = np.array([len(p) for p in notes.products])
    note_offsets = np.concatenate([[0], np.cumsum(note_lens)[:-1]])
    flat = np.concatenate(notes.products) if len(notes.products) else np.empty(0, np.int64)
    from_note = caused & (rng.random(n) < 0.8)
    cn = np.maximum(j.cause_note, 0)
    product = np.where(
        from_note,
        flat[np.minimum(_pick(rng, note_offsets[cn], note_lens[cn]), len(flat) - 1)],
        product,
    )
    second = shops.second[j.brand]
    shop = np.where((second >= 0) & (rng.random(n) < 0.25), second, shops.main[j.brand])
    bq_first = np.array([q[0] for q in catalog.brand_queries])
    bq_count = np.array([len(q) for q in catalog.brand_queries])
    cq_first = np.array([q[0] for q in catalog.category_queries])
    cq_count = np.array([len(q) for q in catalog.category_queries])
    category = catalog.brand_category[j.brand]
    query = np.where(
        entry == BRAND_SEARCH,
        _pick(rng, bq_first[j.brand], bq_count[j.brand]),
        _pick(rng, cq_first[category], cq_count[category]),
    )

    t_search = j.start
    t_visit = np.where(searched, t_search + gaps(rng, n, 60), t_search)
    t_fav = t_visit + gaps(rng, n, 90)
    t_cart = np.maximum(t_visit + gaps(rng, n, 180), np.where(favored, t_fav + 1, 0))
    t_order = t_cart + gaps(rng, n, 600, sigma=1.2)
    qty = 1 + (rng.random(n) < 0.15).astype(np.int64) + (rng.random(n) < 0.03).astype(np.int64)
    amount = np.round(catalog.product_price[product] * qty, 2)
    visit_product = np.where(rng.random(n) < 0.7, product, -1)

    steps = (
        (searched, CE["search"], t_search, -1, query, -1, False),
        (visited, CE["visit"], t_visit, shop, -1, visit_product, False),
        (favored, CE["favorite"], t_fav, shop, -1, product, False),
        (carted, CE["cart"], t_cart, shop, -1, product, False),
        (ordered, CE["order"], t_order, shop, -1, product, True),
    )
    cols: dict[str, list[np.ndarray]] = {k: [] for k in _EVENT_COLS}
    for mask, code, t, shop_col, query_col, product_col, is_order in steps:
        idx = np.flatnonzero(mask)
        k = len(idx)
        cols["user"].append(j.user[idx])
        cols["shop"].append(_col(shop_col, idx, k))
        cols["ts"].append(t[idx])
        cols["event"].append(np.full(k, code))
        cols["query"].append(_col(query_col, idx, k))
        cols["product"].append(_col(product_col, idx, k))
        cols["amount"].append(amount[idx] if is_order else np.full(k, np.nan))
        cols["cause_note"].append(j.cause_note[idx])
        cols["cause_paid"].append(j.cause_paid[idx])

    # Generic searches that lead nowhere: browsing noise around the funnel.
    noise_rng = stream(config.seed, "noise", rid)
    members = np.flatnonzero(population.member[:, r])
    span_days = (tl.end - tl.history) // DAY
    count = noise_rng.poisson(beh.noise_search_rate * span_days * population.activity[members])
    user = np.repeat(members, count)
    k = len(user)
    cat = row_choice(noise_rng, population.interest[user])
    cols["user"].append(user)
    cols["shop"].append(np.full(k, -1))
    cols["ts"].append(
        tl.history + noise_rng.integers(0, span_days, size=k) * DAY + diurnal_seconds(noise_rng, k)
    )
    cols["event"].append(np.full(k, CE["search"]))
    cols["query"].append(_pick(noise_rng, cq_first[cat], cq_count[cat]))
    cols["product"].append(np.full(k, -1))
    cols["amount"].append(np.full(k, np.nan))
    cols["cause_note"].append(np.full(k, -1))
    cols["cause_paid"].append(np.zeros(k, dtype=bool))

    arrays = {name: np.concatenate(parts) for name, parts in cols.items()}
    keep = np.flatnonzero(arrays["ts"] < tl.end)
    order = keep[np.argsort(arrays["ts"][keep], kind="stable")]
    arrays = {name: a[order] for name, a in arrays.items()}
    is_order = arrays["event"] == CE["order"]
    order_no = np.full(len(order), -1, dtype=np.int64)
    order_no[is_order] = np.arange(1, int(is_order.sum()) + 1)
    return CommerceEvents(
        retailer_id=rid,
        user=arrays["user"],
        shop=arrays["shop"],
        ts=arrays["ts"],
        event=arrays["event"],
        query=arrays["query"],
        product=arrays["product"],
        order_no=order_no,
        amount=arrays["amount"],
        cause_note=arrays["cause_note"],
        cause_paid=arrays["cause_paid"],
    )


_EVENT_COLS = (
    "user",
    "shop",
    "ts",
    "event",
    "query",
    "product",
    "amount",
    "cause_note",
    "cause_paid",
)


def _col(value: np.ndarray | int, idx: np.ndarray, k: int) -> np.ndarray:
    """A column for the ``k`` events at ``idx``: the per-journey array taken at idx, or a
    constant (-1 for none)."""
    if isinstance(value, np.ndarray):
        return value[idx]
    return np.full(k, value, dtype=np.int64)
