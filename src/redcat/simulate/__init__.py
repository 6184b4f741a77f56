"""A synthetic seeding-to-sales world with known causal truth, written exactly as the parties
would export it (the data contract in :mod:`redcat.ingest.contract`).

Entry points: :func:`simulate_world` (build + write), :func:`build_world` (in memory, with the
internal truth) and :func:`write_world`; the CLI is ``redcat simulate``.

Output layout under the output directory ``DIR`` (``<ext>`` = csv, parquet or jsonl)::

    content/notes.<ext> content_events.<ext> spend.<ext> holdouts.<ext>   (notes and events include
                                                                        buyers' notes and posts)
    retailers/<retailer_id>/commerce_events.<ext> shops.<ext> brand_terms.<ext>
    truth/note_truth.csv  truth/world.json      (never read by the pipeline)

Assumptions (every rate is a :class:`~redcat.simulate.config.Behaviour` field, recorded in
``truth/world.json``):

People
  ``users`` people. Each is a content-platform user with probability 0.85 and a customer of
  each retailer independently with that retailer's coverage (drawn in 50–80 %); a retailer only
  exports its customers' events, the content platform only its users'. ``user_key`` is the
  lowercase hex SHA-256 of a synthetic normalized phone number (``+86`` + 11 digits, distinct,
  drawn from the seed) — the value both parties hold. Each person has an app activity level
  (gamma, mean 1) and, per category (skincare, makeup, baby_food, apparel, snacks), is in market
  with a category-specific prevalence (interest 0.2–1) or not (interest ≤ 0.1).

Brands, shops, terms
  Brands ``B01``… take categories round-robin; 4–8 products each (``B01-P01``…) with log-normal
  prices around a category median (yuan). Each retailer has 1–2 shops per brand
  (``tmall-S001``…, the first the flagship); each brand has 2–3 search terms (pinyin, Chinese
  name, sometimes name + product word), the same on every retailer. Brand searches use a term
  verbatim.

Notes and campaigns
  ``notes_per_brand_per_day`` × days notes per brand, published uniformly over the period (the
  first at 09:00 on day 0; nothing before, so the history is note-free); type organic /
  partnership / ad (50/30/20 %, at least one ad per brand); latent quality Beta(2, 2.5).
  Ads come from the brand's own account; partnerships go to bigger creators. Ads are always
  boosted (traffic, 投流), partnerships with p 0.6 and organic notes with p 0.15 (heat, 加热).
  A brand's boosted notes form campaigns of up to four notes in publish order (``C01``…).

Holdouts
  Before delivery each campaign randomizes its audience — content users in market for the
  brand's category — into control with a campaign share drawn from ``control_share`` (10–20 %)
  and test otherwise; every randomized user gets a holdouts row. Paid impressions of a
  campaign's notes go only to its test arm; control users can still see those notes
  organically. So test − control outcome per user estimates exactly the paid impressions' effect.

Exposure and engagement
  Organic impressions of a note per day are Poisson with mean content users × creator reach ×
  (0.4 + quality) × 1.3, decaying with a 2-day half-life from publishing; viewers are drawn ∝
  activity × (0.03 + interest) on feed/profile and ∝ activity × interest² on search. Each spend
  day buys ``paid_daily_rate`` (1–3 %) impressions per test user at the campaign's CPM; heat goes
  to the feed, traffic 20 % to search. Reads are likelier with quality and interest; likes,
  collects, comments, shares, follows, an in-app brand search (event ``search``, on the search
  surface the impression came from) and, on ad notes, a ``link_click`` follow a read, likelier
  with quality. Engagement follows its impression within seconds to minutes.

Commerce, baseline
  Without notes, each customer makes brand journeys at a retailer at rate 0.002 × (0.03 +
  interest) × √activity per brand per day, over the history and the period, plus generic
  searches that lead nowhere (0.01 × activity per day). A journey: search (brand term or
  generic query; shop empty) or direct entry → shop visit → maybe favorite → cart → order
  (one product, quantity 1–3, amount = price × quantity), strictly increasing in time.

Commerce, caused (the truth)
  An impression adds a hazard of extra brand journeys that decays exponentially with half-life
  ``effect_half_life_days`` (3 days). Its total is ``effect_per_impression`` × ``effect_scale`` ×
  (0.2 + quality)/0.64 × (0.3 + interest)/0.9 × depth (1 seen, 4 read, 8 engaged). Extra
  journeys are Poisson with that mean, truncated at the period end, and each belongs to the one
  impression that generated it — by superposition of independent Poisson processes exactly the
  journeys that vanish if that impression does, i.e. drawing the cause ∝ its share of the hazard.
  Caused journeys start with a brand-term search (回搜) more often, mostly feature the note's
  products and convert better with quality; each goes to one retailer the person belongs to,
  ∝ coverage. An ad note's link click leads (p 0.8 × ``effect_scale``, at most 1) straight to
  the brand's shop on the note's link retailer (种草直达), a caused journey too. Baseline and
  caused journeys never interact (no cannibalization or saturation), so truth per note is
  additive: note_truth holds per note and retailer the caused orders written and their GMV.
  Events at or after the period end are not observed and not counted. Exposure is targeted by
  interest, and interest also drives baseline buying: exposed users buy more even without any
  effect — the selection bias naive attribution falls for and the holdouts undo.

Buyers' notes (S, shared)
  After each order, a buyer who uses the content platform writes a note about the brand with
  probability ``share_prob`` (6 %), a log-normal delay (median ``share_delay_days``, 5 days; at
  least half a day) later; only notes inside the note period are observed. Each is a ``notes`` row
  (``UN00001``…, organic, by the buyer's own account ``U00001``…, featuring the product bought,
  published at the post time) plus a ``post`` content event (the author's user_key, the new
  note, surface ``profile``) — how the S stage of AIPS audience assets reaches the clean room.
  Buyers' notes get no impressions here, so they cause nothing and are absent from
  ``note_truth``; ``world.json`` records them under ``shares`` (per brand, and per note the
  order that led to it). They are drawn from their own stream after all commerce.

Ids and order
  Event ids ``ce000000001`` (content) and ``<retailer>-e000000001`` (commerce), order ids
  ``<retailer>-o000000001``, numbered in (ts, generation) order; each events file is sorted by
  (ts, event_id). Timestamps are whole seconds, UTC. The same config writes byte-identical files.
"""

from redcat.simulate.config import Behaviour, WorldConfig, retailer_ids
from redcat.simulate.world import (
    FileSummary,
    World,
    WorldSummary,
    build_world,
    simulate_world,
    write_world,
)

__all__ = [
    "Behaviour",
    "FileSummary",
    "World",
    "WorldConfig",
    "WorldSummary",
    "build_world",
    "retailer_ids",
    "simulate_world",
    "write_world",
]
