"""The content platform: creators, notes, boosted campaigns with holdouts, spend, exposure and
engagement. See :mod:`redcat.simulate` for the causal assumptions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redcat.ingest.contract import CONTENT_EVENTS, NOTE_TYPES, SURFACES
from redcat.simulate.catalog import Catalog
from redcat.simulate.config import (
    CATEGORY_QUERIES,
    DAY,
    Timeline,
    WorldConfig,
    stream,
)
from redcat.simulate.population import Population
from redcat.simulate.sampling import times_in_days, weighted_picks

ORGANIC, PARTNERSHIP, AD = (NOTE_TYPES.index(t) for t in ("organic", "partnership", "ad"))
FEED, SEARCH, PROFILE = (SURFACES.index(s) for s in ("feed", "search", "profile"))
EV = {name: i for i, name in enumerate(CONTENT_EVENTS)}
HEAT, TRAFFIC = 0, 1  # index into SPEND_KINDS

_HOOKS = (
    "学生党闭眼入",
    "平价好物",
    "敏感肌也能用",
    "宝藏好物分享",
    "真的会回购",
    "踩雷预警",
    "性价比之王",
    "一周见效",
)
_TEMPLATES = (
    "{name}{noun}真实测评｜{hook}",
    "回购第{n}次的{name}{noun}，{hook}",
    "{hook}！{name}{noun}用了一个月",
    "{name}新品{noun}开箱｜{hook}",
)


@dataclass(frozen=True, eq=False)
class Notes:
    """Notes in publish order (``N0001``...). ``published`` is epoch seconds; ``quality`` the
    latent quality in (0, 1); ``campaign`` the boosting campaign index or -1; ``link_retailer``
    the retailer an ad note's link leads to, or -1. Creators: ``creator`` indexes ``creator_ids``
    and ``creator_reach`` (share of content users one note of theirs reaches)."""

    note_ids: tuple[str, ...]
    brand: np.ndarray
    creator: np.ndarray
    note_type: np.ndarray
    products: tuple[np.ndarray, ...]
    published: np.ndarray
    title: tuple[str, ...]
    quality: np.ndarray
    campaign: np.ndarray
    link_retailer: np.ndarray
    creator_ids: tuple[str, ...]
    creator_reach: np.ndarray


@dataclass(frozen=True, eq=False)
class Campaigns:
    """Boosted campaigns (``C01``...): brand, notes, control share, the randomized users (person
    indices, ascending) and which of them are control, CPM (yuan per 1000 impressions)."""

    campaign_ids: tuple[str, ...]
    brand: np.ndarray
    notes: tuple[np.ndarray, ...]
    control_share: np.ndarray
    users: tuple[np.ndarray, ...]
    control: tuple[np.ndarray, ...]
    cpm: np.ndarray


@dataclass(frozen=True, eq=False)
class Spend:
    """Spend rows: day index from the start, note, campaign, amount (yuan), kind (0 heat,
    1 traffic), and the paid impressions the amount bought (planned, expected value)."""

    day: np.ndarray
    note: np.ndarray
    campaign: np.ndarray
    amount: np.ndarray
    kind: np.ndarray
    planned: np.ndarray


@dataclass(frozen=True, eq=False)
class ContentEvents:
    """Content events sorted by (ts, event id); event ids are ``ce`` + position + 1.

    ``event`` and ``surface`` index the contract's enums; ``paid`` (internal, never written)
    marks impressions a boost delivered and the engagement that followed them; ``parent`` is
    the index, in this table, of the impression an engagement event followed (itself for an
    impression); ``depth`` of an impression is 0 seen, 1 read, 2 engaged (-1 on other rows)."""

    user: np.ndarray
    note: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    surface: np.ndarray
    paid: np.ndarray
    parent: np.ndarray
    depth: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, eq=False)
class ContentWorld:
    """Everything the content platform holds."""

    notes: Notes
    campaigns: Campaigns
    spend: Spend
    events: ContentEvents


def _pad(prefix: str, count: int, minimum: int) -> list[str]:
    width = max(minimum, len(str(count)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(count)]


def build_notes(
    config: WorldConfig, catalog: Catalog, population: Population, tl: Timeline
) -> Notes:
    """Draw creators and notes: per brand ``notes_per_brand_per_day`` × days notes (at least
    two, at least one ad), published uniformly over the period, the first at 09:00 on day 0."""
    beh = config.behaviour
    rng = stream(config.seed, "notes")
    per_brand = max(2, round(config.days * config.notes_per_brand_per_day))
    n_notes = per_brand * config.brands
    brand = np.repeat(np.arange(config.brands), per_brand)
    note_type = rng.choice(3, size=n_notes, p=np.array(beh.note_type_mix))
    for b in range(config.brands):
        own = slice(b * per_brand, (b + 1) * per_brand)
        if not (note_type[own] == AD).any():
            note_type[b * per_brand + int(rng.integers(per_brand))] = AD
    first = 9 * 3600
    offset = first + (rng.random(n_notes) * (config.days * DAY - first - 3600)).astype(np.int64)
    offset[int(np.argmin(offset))] = first
    order = np.argsort(offset, kind="stable")
    brand, note_type, offset = brand[order], note_type[order], offset[order]

    # Brand official accounts publish ads; other creators are drawn per note.
    n_creators = config.brands + max(5, int(np.ceil(0.8 * n_notes)))
    reach = np.clip(
        rng.lognormal(np.log(beh.creator_reach_median), beh.creator_reach_sigma, n_creators),
        0.0005,
        0.1,
    )
    reach[: config.brands] = beh.creator_reach_median / 2
    others = np.arange(config.brands, n_creators)
    creator = np.where(
        note_type == AD,
        brand,
        np.where(
            note_type == PARTNERSHIP,
            others[weighted_picks(rng, reach[others], n_notes)],  # bigger creators get deals
            rng.choice(others, size=n_notes),
        ),
    )
    quality = rng.beta(2.0, 2.5, size=n_notes)
    products: list[np.ndarray] = []
    titles: list[str] = []
    for n in range(n_notes):
        own = catalog.brand_products[brand[n]]
        k = min(len(own), int(rng.integers(1, 4)))
        products.append(np.sort(rng.choice(own, size=k, replace=False)))
        b = catalog.brands[brand[n]]
        noun = CATEGORY_QUERIES[b.category][int(rng.integers(4))]
        if note_type[n] == AD:
            titles.append(f"{b.name}官方｜{noun}上新 点击直达店铺")
        else:
            template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
            hook = _HOOKS[int(rng.integers(len(_HOOKS)))]
            titles.append(template.format(name=b.name, noun=noun, hook=hook, n=rng.integers(2, 9)))
    boosted = rng.random(n_notes) < np.array(beh.boost_prob)[note_type]
    link_p = population.retailer_coverage / population.retailer_coverage.sum()
    link_retailer = np.where(note_type == AD, rng.choice(len(link_p), size=n_notes, p=link_p), -1)

    # Campaigns group a brand's boosted notes in publish order, a few notes each.
    campaign = np.full(n_notes, -1, dtype=np.int64)
    next_id = 0
    for b in range(config.brands):
        mine = np.flatnonzero(boosted & (brand == b))
        for start in range(0, len(mine), beh.notes_per_campaign):
            campaign[mine[start : start + beh.notes_per_campaign]] = next_id
            next_id += 1
    # Renumber so campaign ids follow the first publish time of their notes.
    firsts = [int(np.flatnonzero(campaign == c)[0]) for c in range(next_id)]
    rank = np.empty(next_id, dtype=np.int64)
    rank[np.argsort(firsts, kind="stable")] = np.arange(next_id)
    campaign = np.where(campaign >= 0, rank[np.maximum(campaign, 0)], -1)

    return Notes(
        note_ids=tuple(_pad("N", n_notes, 4)),
        brand=brand,
        creator=creator,
        note_type=note_type,
        products=tuple(products),
        published=tl.start + offset,
        title=tuple(titles),
        quality=quality,
        campaign=campaign,
        link_retailer=link_retailer,
        creator_ids=tuple(_pad("K", n_creators, 4)),
        creator_reach=reach,
    )


def build_campaigns(
    config: WorldConfig, catalog: Catalog, population: Population, notes: Notes
) -> Campaigns:
    """Randomize each campaign's audience (content users in market for the brand's category)
    into test and control before any delivery."""
    rng = stream(config.seed, "holdouts")
    n_campaigns = int(notes.campaign.max()) + 1 if len(notes.campaign) else 0
    brand = np.empty(n_campaigns, dtype=np.int64)
    members: list[np.ndarray] = []
    users: list[np.ndarray] = []
    control: list[np.ndarray] = []
    low, high = config.control_share
    share = rng.uniform(low, high, size=n_campaigns)
    beh = config.behaviour
    cpm = rng.uniform(beh.cpm[0], beh.cpm[1], size=n_campaigns)
    for c in range(n_campaigns):
        mine = np.flatnonzero(notes.campaign == c)
        members.append(mine)
        brand[c] = notes.brand[mine[0]]
        category = catalog.brand_category[brand[c]]
        audience = np.flatnonzero(population.audience[:, category] & population.content)
        users.append(audience)
        control.append(rng.random(len(audience)) < share[c])
    return Campaigns(
        campaign_ids=tuple(_pad("C", n_campaigns, 2)),
        brand=brand,
        notes=tuple(members),
        control_share=share,
        users=tuple(users),
        control=tuple(control),
        cpm=cpm,
    )


def build_spend(config: WorldConfig, notes: Notes, campaigns: Campaigns, tl: Timeline) -> Spend:
    """Each boosted note is boosted daily from its publish day for a few days; the day's amount
    buys ``paid_daily_rate`` impressions per test user of its campaign (pro rata on day 0)."""
    beh = config.behaviour
    rng = stream(config.seed, "spend")
    rows: list[tuple[int, int, int, float, int, float]] = []
    for n in np.flatnonzero(notes.campaign >= 0):
        c = int(notes.campaign[n])
        n_test = int((~campaigns.control[c]).sum())
        length = int(rng.integers(beh.boost_days[0], beh.boost_days[1] + 1))
        rate = float(rng.uniform(*beh.paid_daily_rate))
        pub_day = int((notes.published[n] - tl.start) // DAY)
        kind = TRAFFIC if notes.note_type[n] == AD else HEAT
        for day in range(pub_day, min(pub_day + length, config.days)):
            open_share = 1.0
            if day == pub_day:
                open_share = (tl.start + (day + 1) * DAY - int(notes.published[n])) / DAY
            planned = n_test * rate * open_share
            amount = round(planned * float(campaigns.cpm[c]) / 1000.0, 2)
            if amount > 0:
                rows.append((day, int(n), c, amount, kind, planned))
    rows.sort(key=lambda row: (row[0], row[1]))  # by date, then note
    cols: list[tuple[float, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Spend(
        day=np.array(cols[0], dtype=np.int64),
        note=np.array(cols[1], dtype=np.int64),
        campaign=np.array(cols[2], dtype=np.int64),
        amount=np.array(cols[3], dtype=np.float64),
        kind=np.array(cols[4], dtype=np.int64),
        planned=np.array(cols[5], dtype=np.float64),
    )


@dataclass(frozen=True, eq=False)
class _Impressions:
    user: np.ndarray
    note: np.ndarray
    ts: np.ndarray
    surface: np.ndarray
    paid: np.ndarray


def _organic_cells(
    config: WorldConfig, notes: Notes, population: Population, tl: Timeline
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (note, day, expected impressions) for every day of every note's organic life."""
    beh = config.behaviour
    n_content = int(population.content.sum())
    decay = 2.0 ** (-1.0 / beh.organic_half_life_days)
    cell_note: list[np.ndarray] = []
    cell_day: list[np.ndarray] = []
    cell_rate: list[np.ndarray] = []
    for n in range(len(notes.note_ids)):
        pub_day = int((notes.published[n] - tl.start) // DAY)
        days = np.arange(pub_day, config.days)
        share = (1 - decay) * decay ** (days - pub_day)
        share[0] *= (tl.start + (pub_day + 1) * DAY - int(notes.published[n])) / DAY
        total = (
            n_content
            * notes.creator_reach[notes.creator[n]]
            * (0.4 + notes.quality[n])
            * beh.organic_frequency
        )
        cell_note.append(np.full(len(days), n))
        cell_day.append(days)
        cell_rate.append(total * share)
    return np.concatenate(cell_note), np.concatenate(cell_day), np.concatenate(cell_rate)


def build_impressions(
    config: WorldConfig,
    catalog: Catalog,
    population: Population,
    notes: Notes,
    campaigns: Campaigns,
    spend: Spend,
    tl: Timeline,
) -> _Impressions:
    """Draw organic and paid impressions: counts per (note, day) are Poisson, viewers are drawn
    ∝ activity × interest (search: interest²), paid viewers only among the campaign's test arm."""
    beh = config.behaviour
    rng = stream(config.seed, "impressions")
    o_note, o_day, o_rate = _organic_cells(config, notes, population, tl)
    o_count = rng.poisson(o_rate)
    p_count = rng.poisson(spend.planned)
    note = np.concatenate([np.repeat(o_note, o_count), np.repeat(spend.note, p_count)])
    day = np.concatenate([np.repeat(o_day, o_count), np.repeat(spend.day, p_count)])
    paid = np.concatenate([np.zeros(o_count.sum(), dtype=bool), np.ones(p_count.sum(), dtype=bool)])
    kind = np.repeat(spend.kind, p_count)
    m = len(note)
    surface = np.empty(m, dtype=np.int64)
    n_org = int(o_count.sum())
    surface[:n_org] = rng.choice(3, size=n_org, p=np.array(beh.surface_mix))
    surface[n_org:] = np.where(
        (kind == TRAFFIC) & (rng.random(m - n_org) < beh.traffic_search_share), SEARCH, FEED
    )
    ts = times_in_days(rng, tl.start + day * DAY, notes.published[note] + 60)

    user = np.full(m, -1, dtype=np.int64)
    category = catalog.brand_category[notes.brand[note]]
    base = population.activity * population.content
    for k in np.unique(category):
        interest = population.interest[:, k]
        feed = (~paid) & (category == k) & (surface != SEARCH)
        search = (~paid) & (category == k) & (surface == SEARCH)
        for mask, weights in ((feed, base * (0.03 + interest)), (search, base * interest**2)):
            idx = np.flatnonzero(mask)
            picks = weighted_picks(rng, weights, len(idx))
            user[idx[: len(picks)]] = picks
    paid_campaign = np.full(m, -1, dtype=np.int64)
    paid_campaign[n_org:] = np.repeat(spend.campaign, p_count)
    for c in range(len(campaigns.campaign_ids)):
        idx = np.flatnonzero(paid_campaign == c)
        test = campaigns.users[c][~campaigns.control[c]]
        k = catalog.brand_category[campaigns.brand[c]]
        weights = population.activity[test] * population.interest[test, k]
        picks = weighted_picks(rng, weights, len(idx))
        user[idx[: len(picks)]] = test[picks]
    keep = (user >= 0) & (ts < tl.end)
    return _Impressions(user[keep], note[keep], ts[keep], surface[keep], paid[keep])


def build_events(
    config: WorldConfig,
    catalog: Catalog,
    population: Population,
    notes: Notes,
    imps: _Impressions,
    tl: Timeline,
) -> ContentEvents:
    """Add engagement to impressions and return all content events in (ts, id) order.

    P(read) grows with quality and interest; likes, collects, comments, shares, follows, an
    in-app brand search and (ad notes) a link click follow a read with probabilities growing
    with quality. Events after the period end are not observed."""
    beh = config.behaviour
    rng = stream(config.seed, "engagement")
    m = len(imps.ts)
    q = notes.quality[imps.note]
    interest = population.interest[imps.user, catalog.brand_category[notes.brand[imps.note]]]
    p_read = np.clip(beh.read_base + beh.read_quality * q + beh.read_interest * interest, 0, 0.9)
    p_read = np.where(imps.surface == SEARCH, np.minimum(p_read * 1.3, 0.95), p_read)
    read = (rng.random(m) < p_read) & (imps.ts + 60 < tl.end)
    read_ts = imps.ts + rng.integers(3, 60, size=m)
    is_ad = notes.note_type[imps.note] == AD
    after_read = (
        ("like", 0.05 + 0.25 * q, 5, 300),
        ("collect", (0.03 + 0.2 * q) * (0.5 + interest), 5, 300),
        ("comment", 0.01 + 0.04 * q, 20, 600),
        ("share", 0.005 + 0.03 * q, 5, 300),
        ("follow", 0.003 + 0.02 * q, 5, 300),
        ("search", 0.02 + 0.1 * q * interest, 30, 1800),
        ("link_click", np.where(is_ad, 0.08 + 0.25 * q, 0.0), 5, 120),
    )
    parts_idx = [np.arange(m), np.flatnonzero(read)]
    parts_ts = [imps.ts, read_ts[read]]
    parts_ev = [np.full(m, EV["impression"]), np.full(int(read.sum()), EV["read"])]
    engaged = np.zeros(m, dtype=bool)
    for name, p, low, high in after_read:
        hit = read & (rng.random(m) < p)
        idx = np.flatnonzero(hit)
        ts = read_ts[idx] + rng.integers(low, high, size=len(idx))
        ok = ts < tl.end
        engaged[idx[ok]] = True
        parts_idx.append(idx[ok])
        parts_ts.append(ts[ok])
        parts_ev.append(np.full(int(ok.sum()), EV[name]))
    imp_of = np.concatenate(parts_idx)
    ts = np.concatenate(parts_ts)
    event = np.concatenate(parts_ev)
    keep = ts < tl.end
    imp_of, ts, event = imp_of[keep], ts[keep], event[keep]
    order = np.argsort(ts, kind="stable")
    imp_of, ts, event = imp_of[order], ts[order], event[order]
    depth_of_imp = np.where(engaged, 2, np.where(read & (read_ts < tl.end), 1, 0))
    # Position of each impression in the sorted table, so engagement can point at it.
    position = np.empty(m, dtype=np.int64)
    is_imp = event == EV["impression"]
    position[imp_of[is_imp]] = np.flatnonzero(is_imp)
    return ContentEvents(
        user=imps.user[imp_of],
        note=imps.note[imp_of],
        ts=ts,
        event=event,
        surface=imps.surface[imp_of],
        paid=imps.paid[imp_of],
        parent=position[imp_of],
        depth=np.where(is_imp, depth_of_imp[imp_of], -1),
    )


def build_content(
    config: WorldConfig, catalog: Catalog, population: Population, tl: Timeline
) -> ContentWorld:
    """Build the whole content side of the world."""
    notes = build_notes(config, catalog, population, tl)
    campaigns = build_campaigns(config, catalog, population, notes)
    spend = build_spend(config, notes, campaigns, tl)
    imps = build_impressions(config, catalog, population, notes, campaigns, spend, tl)
    events = build_events(config, catalog, population, notes, imps, tl)
    return ContentWorld(notes=notes, campaigns=campaigns, spend=spend, events=events)
