"""Buyers who write a note about what they bought (the S, shared, stage of AIPS audience assets).

After an order, a buyer who uses the content platform writes a note about the brand with
probability ``share_prob``, a log-normal delay (median ``share_delay_days``) later. The note is
the platform's like any other: a ``notes`` row (organic, by the buyer's own account, featuring the
product bought, published at the post time) and a ``post`` content event (the author's user_key,
the new note, on the ``profile`` surface). Only posts inside the note period are observed.

Buyers' notes get no distribution in this world (no impressions), so they cause nothing: the
causal truth of brand notes is unchanged by them. They are drawn after all commerce from their own
random stream, so adding them shifts no other draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redcat.simulate.catalog import Catalog
from redcat.simulate.commerce import CE, CommerceEvents
from redcat.simulate.config import CATEGORY_QUERIES, DAY, Timeline, WorldConfig, stream
from redcat.simulate.population import Population

NOTE_PREFIX = "UN"  # buyers' note ids: UN00001...; brand notes are N0001...
AUTHOR_PREFIX = "U"  # buyers' accounts: U00001...; creators are K0001...

_TITLES = (
    "{name}{noun}买了一周的真实感受",
    "晒单｜{name}{noun}",
    "自费购入{name}{noun}，说说优缺点",
    "{name}{noun}回购记录",
)


@dataclass(frozen=True, eq=False)
class Shares:
    """Buyers' notes in publish order, one post each. Indices: ``user`` into the population,
    ``brand`` into the catalog's brands, ``product`` into its products, ``retailer`` and
    ``order_no`` name the order that led to the note (internal truth, never written);
    ``published`` is epoch seconds; ``author`` indexes ``author_ids``."""

    note_ids: tuple[str, ...]
    user: np.ndarray
    brand: np.ndarray
    product: np.ndarray
    published: np.ndarray
    title: tuple[str, ...]
    author: np.ndarray
    author_ids: tuple[str, ...]
    retailer: np.ndarray
    order_no: np.ndarray

    def __len__(self) -> int:
        return int(self.published.shape[0])


def _pad(prefix: str, count: int, minimum: int = 5) -> list[str]:
    width = max(minimum, len(str(count)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(count)]


def build_shares(
    config: WorldConfig,
    catalog: Catalog,
    population: Population,
    commerce: tuple[CommerceEvents, ...],
    tl: Timeline,
) -> Shares:
    """Draw the notes buyers write after their orders (see the module docstring)."""
    beh = config.behaviour
    rng = stream(config.seed, "shares")
    users: list[np.ndarray] = []
    products: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    retailers: list[np.ndarray] = []
    order_nos: list[np.ndarray] = []
    for r, events in enumerate(commerce):
        idx = np.flatnonzero(events.event == CE["order"])
        idx = idx[population.content[events.user[idx]]]
        share = rng.random(len(idx)) < beh.share_prob
        delay = rng.lognormal(np.log(beh.share_delay_days), 0.6, size=len(idx)) * DAY
        idx, delay = idx[share], delay[share]
        post = events.ts[idx] + np.maximum(DAY // 2, delay.astype(np.int64))
        keep = (post >= tl.start) & (post < tl.end)
        idx, post = idx[keep], post[keep]
        users.append(events.user[idx])
        products.append(events.product[idx])
        ts.append(post)
        retailers.append(np.full(len(idx), r, dtype=np.int64))
        order_nos.append(events.order_no[idx])
    user = np.concatenate(users) if users else np.empty(0, np.int64)
    published = np.concatenate(ts) if ts else np.empty(0, np.int64)
    order = np.lexsort((user, published))  # publish order; ties by person, reproducibly
    user, published = user[order], published[order]
    product = (np.concatenate(products) if products else np.empty(0, np.int64))[order]
    retailer = (np.concatenate(retailers) if retailers else np.empty(0, np.int64))[order]
    order_no = (np.concatenate(order_nos) if order_nos else np.empty(0, np.int64))[order]
    brand = catalog.product_brand[product] if len(product) else np.empty(0, np.int64)
    # One account per author, numbered by their first note.
    _, first, author = np.unique(user, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    titles: list[str] = []
    for b in brand.tolist():
        info = catalog.brands[b]
        noun = CATEGORY_QUERIES[info.category][int(rng.integers(4))]
        template = _TITLES[int(rng.integers(len(_TITLES)))]
        titles.append(template.format(name=info.name, noun=noun))
    return Shares(
        note_ids=tuple(_pad(NOTE_PREFIX, len(user))),
        user=user,
        brand=np.asarray(brand, dtype=np.int64),
        product=product,
        published=published,
        title=tuple(titles),
        author=rank[author] if len(user) else np.empty(0, np.int64),
        author_ids=tuple(_pad(AUTHOR_PREFIX, len(first))),
        retailer=retailer,
        order_no=order_no,
    )
