"""World parameters: the size knobs a user sets and the behavioural constants behind them.

:class:`WorldConfig` holds what the CLI exposes (users, days, brands, retailers, seed, history) plus
the few knobs a demo may turn (effect size, control share). :class:`Behaviour` holds every rate and
probability the generator uses, with its unit, so ``truth/world.json`` can record the full model.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from redcat.errors import ConfigError

CATEGORIES: tuple[str, ...] = ("skincare", "makeup", "baby_food", "apparel", "snacks")
FIRST_RETAILERS: tuple[str, ...] = ("tmall", "jd", "vip")
FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")

# Share of the population interested in (in the market for) each category.
CATEGORY_PREVALENCE: dict[str, float] = {
    "skincare": 0.45,
    "makeup": 0.40,
    "baby_food": 0.12,
    "apparel": 0.60,
    "snacks": 0.70,
}
# Median list price of a product, in the retailers' currency (yuan).
CATEGORY_PRICE: dict[str, float] = {
    "skincare": 260.0,
    "makeup": 160.0,
    "baby_food": 110.0,
    "apparel": 230.0,
    "snacks": 45.0,
}
# Generic (non-brand) search queries on a retailer, per category.
CATEGORY_QUERIES: dict[str, tuple[str, ...]] = {
    "skincare": ("面霜", "精华", "防晒", "洗面奶"),
    "makeup": ("口红", "粉底液", "眼影", "腮红"),
    "baby_food": ("米粉", "婴儿辅食", "果泥", "磨牙棒"),
    "apparel": ("连衣裙", "卫衣", "牛仔裤", "外套"),
    "snacks": ("坚果", "薯片", "牛肉干", "饼干"),
}
# Fictitious brand names: (pinyin, Chinese). Brands beyond the list reuse them with a number.
BRAND_NAMES: tuple[tuple[str, str], ...] = (
    ("lanyue", "兰月"),
    ("xingguang", "星光"),
    ("miaomiao", "喵喵"),
    ("qingshan", "青山"),
    ("yunduo", "云朵"),
    ("baicao", "百草"),
    ("xiaolu", "小鹿"),
    ("haitang", "海棠"),
    ("jinse", "锦瑟"),
    ("muyu", "沐语"),
    ("anran", "安然"),
    ("chuxue", "初雪"),
)
# Hours of the day weighted by how active users are (index = hour, UTC as written).
HOUR_WEIGHTS: tuple[float, ...] = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.0, 2.0, 2.0, 2.2,
    2.8, 2.5, 2.0, 2.0, 2.0, 2.2, 2.5, 3.0, 3.5, 3.8, 3.5, 2.0,
)  # fmt: skip


def retailer_ids(n: int) -> tuple[str, ...]:
    """Return the ids of ``n`` retailers: ``tmall``, ``jd``, ``vip``, then ``r4``, ``r5``..."""
    return tuple(FIRST_RETAILERS[i] if i < len(FIRST_RETAILERS) else f"r{i + 1}" for i in range(n))


@dataclass(frozen=True)
class Behaviour:
    """Every behavioural constant of the world. Rates are per user per day unless said otherwise;
    shares and probabilities are in [0, 1]; delays are in seconds; half-lives in days."""

    # population
    content_share: float = 0.85  # people who use the content platform
    retailer_coverage: tuple[float, float] = (0.5, 0.8)  # share of people each retailer holds
    # notes and creators
    note_type_mix: tuple[float, float, float] = (0.5, 0.3, 0.2)  # organic, partnership, ad
    boost_prob: tuple[float, float, float] = (0.15, 0.6, 1.0)  # P(boosted) by note type
    notes_per_campaign: int = 4
    creator_reach_median: float = 0.005  # share of content users a creator's note reaches
    creator_reach_sigma: float = 0.9  # log-normal spread of reach
    organic_half_life_days: float = 2.0  # decay of a note's organic distribution
    organic_frequency: float = 1.3  # impressions per reached user
    surface_mix: tuple[float, float, float] = (0.7, 0.2, 0.1)  # organic: feed, search, profile
    traffic_search_share: float = 0.2  # share of traffic (投流) impressions on search
    paid_daily_rate: tuple[float, float] = (0.01, 0.03)  # paid impressions per test user per day
    boost_days: tuple[int, int] = (4, 10)
    cpm: tuple[float, float] = (120.0, 300.0)  # yuan per 1000 paid impressions
    # engagement (given an impression / a read)
    read_base: float = 0.02
    read_quality: float = 0.12
    read_interest: float = 0.1
    # commerce without notes
    base_journey_rate: float = 0.002  # brand shopping journeys per (user, brand, retailer) per day
    noise_search_rate: float = 0.005  # generic searches that go nowhere, per user per day
    # caused by notes
    effect_per_impression: float = 0.006  # expected extra brand journeys of a mean exposure
    depth_multiplier: tuple[float, float, float] = (1.0, 3.0, 6.0)  # seen, read, engaged
    link_follow: float = 0.8  # P(a link click lands on the shop)
    # buyers' notes (S, shared)
    share_prob: float = 0.06  # P(a content-platform buyer writes a note about an order)
    share_delay_days: float = 5.0  # median days from the order to that note (log-normal)


@dataclass(frozen=True)
class WorldConfig:
    """The world to build. ``users`` counts people (content users and retailer customers),
    ``days`` the note period, ``history_days`` the note-free period before it (retailer events
    only, so 新客 is meaningful). ``effect_scale`` multiplies every causal effect of notes
    (0 gives a world where notes cause nothing). Each boosted campaign holds out a share of its
    audience drawn uniformly from ``control_share``."""

    users: int = 20_000
    days: int = 30
    brands: int = 3
    retailers: int = 2
    seed: int = 0
    history_days: int = 60
    start_date: date = date(2026, 5, 1)
    notes_per_brand_per_day: float = 0.5
    effect_scale: float = 1.0
    effect_half_life_days: float = 3.0
    control_share: tuple[float, float] = (0.10, 0.20)
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        checks = (
            (self.users >= 1, "users must be at least 1"),
            (self.days >= 1, "days must be at least 1"),
            (1 <= self.brands <= 999, "brands must be between 1 and 999"),
            (1 <= self.retailers <= 99, "retailers must be between 1 and 99"),
            (self.seed >= 0, "seed must be a non-negative integer"),
            (self.history_days >= 0, "history days must be zero or more"),
            (self.notes_per_brand_per_day > 0, "notes per brand per day must be positive"),
            (self.effect_scale >= 0, "effect scale must be zero or more"),
            (self.effect_half_life_days > 0, "effect half-life must be positive"),
            (
                0 < self.control_share[0] <= self.control_share[1] < 1,
                "control share must be a range inside (0, 1)",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def retailer_ids(self) -> tuple[str, ...]:
        """The retailer ids of this world, in order."""
        return retailer_ids(self.retailers)


def stream(seed: int, *names: str) -> np.random.Generator:
    """Return an independent random generator for one named part of the world.

    Each part draws from its own stream, so changing how one part draws does not shift another.
    """
    key = tuple(zlib.crc32(name.encode()) for name in names)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


DAY = 86_400  # seconds


@dataclass(frozen=True)
class Timeline:
    """The world's clock, in seconds since the Unix epoch (UTC): ``history`` ≤ ``start`` < ``end``.
    Retailer events span [history, end); notes and content events span [start, end)."""

    history: int
    start: int
    end: int

    @classmethod
    def of(cls, config: WorldConfig) -> Timeline:
        """Return the timeline of ``config``: the note period starts at ``start_date`` 00:00 UTC."""
        start = (config.start_date - date(1970, 1, 1)).days * DAY
        return cls(
            history=start - config.history_days * DAY, start=start, end=start + config.days * DAY
        )
