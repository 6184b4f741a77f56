"""Ground truth: what each note and campaign caused. The pipeline never reads it; tests and
benchmarks compare its estimates against it.

Truth counts orders the simulator generated from a note's exposures (see :mod:`redcat.simulate`):
by construction exactly the orders that would not exist without that note. GMV is in yuan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redcat.simulate.commerce import CE, CommerceEvents
from redcat.simulate.content import ContentWorld


@dataclass(frozen=True, eq=False)
class NoteTruth:
    """Per note (rows) and retailer (columns): caused orders and their GMV (yuan)."""

    orders: np.ndarray
    gmv: np.ndarray


@dataclass(frozen=True)
class CampaignTruth:
    """One campaign's holdout estimand and sizes. ``test_orders`` / ``test_gmv`` are the orders
    and GMV its paid impressions caused (all among test-arm users: control users receive none),
    per retailer in retailer order; ``all_orders`` counts orders caused by any exposure
    (organic too) to the campaign's notes."""

    campaign_id: str
    test_users: int
    control_users: int
    test_orders: tuple[int, ...]
    test_gmv: tuple[float, ...]
    all_orders: tuple[int, ...]


def caused_orders(events: CommerceEvents) -> np.ndarray:
    """Return the row indices of ``events`` that are orders caused by some note."""
    return np.flatnonzero((events.event == CE["order"]) & (events.cause_note >= 0))


def note_truth(content: ContentWorld, commerce: tuple[CommerceEvents, ...]) -> NoteTruth:
    """Return caused orders and GMV per note and retailer."""
    n_notes = len(content.notes.note_ids)
    orders = np.zeros((n_notes, len(commerce)), dtype=np.int64)
    gmv = np.zeros((n_notes, len(commerce)), dtype=np.float64)
    for r, events in enumerate(commerce):
        idx = caused_orders(events)
        orders[:, r] = np.bincount(events.cause_note[idx], minlength=n_notes)
        gmv[:, r] = np.bincount(
            events.cause_note[idx], weights=events.amount[idx], minlength=n_notes
        )
    return NoteTruth(orders=orders, gmv=np.round(gmv, 2))


def campaign_truth(
    content: ContentWorld, commerce: tuple[CommerceEvents, ...]
) -> tuple[CampaignTruth, ...]:
    """Return each campaign's true incremental orders and GMV among its test arm."""
    camps = content.campaigns
    note_campaign = content.notes.campaign
    out: list[CampaignTruth] = []
    for c, cid in enumerate(camps.campaign_ids):
        test_orders: list[int] = []
        test_gmv: list[float] = []
        all_orders: list[int] = []
        for events in commerce:
            idx = caused_orders(events)
            of_c = note_campaign[events.cause_note[idx]] == c
            paid = of_c & events.cause_paid[idx]
            test_orders.append(int(paid.sum()))
            test_gmv.append(round(float(events.amount[idx][paid].sum()), 2))
            all_orders.append(int(of_c.sum()))
        control = camps.control[c]
        out.append(
            CampaignTruth(
                campaign_id=cid,
                test_users=int((~control).sum()),
                control_users=int(control.sum()),
                test_orders=tuple(test_orders),
                test_gmv=tuple(test_gmv),
                all_orders=tuple(all_orders),
            )
        )
    return tuple(out)
