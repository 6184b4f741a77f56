"""What is sold: brands (one category each), their products and prices, shops and brand terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redcat.simulate.config import (
    BRAND_NAMES,
    CATEGORIES,
    CATEGORY_PRICE,
    CATEGORY_QUERIES,
    WorldConfig,
    stream,
)


@dataclass(frozen=True)
class Brand:
    """One brand: id (``B01``...), pinyin and Chinese names, category and its search terms."""

    brand_id: str
    pinyin: str
    name: str
    category: str
    terms: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RetailerShops:
    """One retailer's shops. ``main[b]`` is brand b's flagship shop index, ``second[b]`` its
    second shop or -1."""

    retailer_id: str
    shop_ids: tuple[str, ...]
    shop_brand: np.ndarray
    main: np.ndarray
    second: np.ndarray


@dataclass(frozen=True, eq=False)
class Catalog:
    """Brands, products (``B01-P01``...) with list prices in yuan, search-query vocabulary (brand
    terms first, then generic category queries) and each retailer's shops."""

    brands: tuple[Brand, ...]
    brand_category: np.ndarray
    product_ids: tuple[str, ...]
    product_brand: np.ndarray
    product_price: np.ndarray
    brand_products: tuple[np.ndarray, ...]
    queries: tuple[str, ...]
    brand_queries: tuple[np.ndarray, ...]
    category_queries: tuple[np.ndarray, ...]
    shops: tuple[RetailerShops, ...]


def brand_ids(n: int) -> tuple[str, ...]:
    """Return ``B01``, ``B02``... zero-padded to at least two digits."""
    width = max(2, len(str(n)))
    return tuple(f"B{i + 1:0{width}d}" for i in range(n))


def _brand_name(i: int) -> tuple[str, str]:
    pinyin, name = BRAND_NAMES[i % len(BRAND_NAMES)]
    round_ = i // len(BRAND_NAMES)
    return (pinyin, name) if round_ == 0 else (f"{pinyin}{round_ + 1}", f"{name}{round_ + 1}")


def build_catalog(config: WorldConfig) -> Catalog:
    """Draw brands, products, prices, terms and shops for ``config``'s world."""
    rng = stream(config.seed, "catalog")
    brands: list[Brand] = []
    product_ids: list[str] = []
    product_brand: list[int] = []
    prices: list[float] = []
    brand_products: list[np.ndarray] = []
    for b, bid in enumerate(brand_ids(config.brands)):
        category = CATEGORIES[b % len(CATEGORIES)]  # round-robin: a small world spans categories
        pinyin, name = _brand_name(b)
        terms = [pinyin, name]
        if rng.random() < 0.5:
            terms.append(name + CATEGORY_QUERIES[category][int(rng.integers(4))])
        brands.append(Brand(bid, pinyin, name, category, tuple(terms)))
        k = int(rng.integers(4, 9))
        first = len(product_ids)
        for j in range(k):
            product_ids.append(f"{bid}-P{j + 1:02d}")
            product_brand.append(b)
            # Prices end in .9 as shop prices tend to; spread is log-normal around the median.
            raw = CATEGORY_PRICE[category] * float(rng.lognormal(0.0, 0.35))
            prices.append(max(round(raw) - 0.1, 0.9))
        brand_products.append(np.arange(first, first + k))

    queries: list[str] = []
    brand_queries: list[np.ndarray] = []
    for brand in brands:
        brand_queries.append(np.arange(len(queries), len(queries) + len(brand.terms)))
        queries.extend(brand.terms)
    category_queries: list[np.ndarray] = []
    for category in CATEGORIES:
        words = CATEGORY_QUERIES[category]
        category_queries.append(np.arange(len(queries), len(queries) + len(words)))
        queries.extend(words)

    shops: list[RetailerShops] = []
    for rid in config.retailer_ids:
        shop_ids: list[str] = []
        shop_brand: list[int] = []
        main = np.empty(config.brands, dtype=np.int64)
        second = np.full(config.brands, -1, dtype=np.int64)
        for b in range(config.brands):
            count = 1 + int(rng.random() < 0.5)
            for j in range(count):
                (main if j == 0 else second)[b] = len(shop_ids)
                shop_ids.append(f"{rid}-S{len(shop_ids) + 1:03d}")
                shop_brand.append(b)
        shops.append(RetailerShops(rid, tuple(shop_ids), np.array(shop_brand), main, second))

    return Catalog(
        brands=tuple(brands),
        brand_category=np.array([CATEGORIES.index(b.category) for b in brands]),
        product_ids=tuple(product_ids),
        product_brand=np.array(product_brand),
        product_price=np.array(prices),
        brand_products=tuple(brand_products),
        queries=tuple(queries),
        brand_queries=tuple(brand_queries),
        category_queries=tuple(category_queries),
        shops=tuple(shops),
    )
