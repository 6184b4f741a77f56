"""Holdouts: randomized before delivery; control users never get a campaign's paid impressions."""

from __future__ import annotations

import numpy as np

from redcat.simulate.content import EV


def test_control_users_get_no_paid_impressions_of_their_campaign(tiny_world) -> None:
    content = tiny_world.content
    ev, notes, camps = content.events, content.notes, content.campaigns
    paid = np.flatnonzero((ev.event == EV["impression"]) & ev.paid)
    assert len(paid) > 100
    for c in range(len(camps.campaign_ids)):
        mine = paid[notes.campaign[ev.note[paid]] == c]
        assert len(mine) > 0
        control = set(camps.users[c][camps.control[c]].tolist())
        test = set(camps.users[c][~camps.control[c]].tolist())
        viewers = set(ev.user[mine].tolist())
        assert not viewers & control
        assert viewers <= test


def test_control_users_can_still_see_campaign_notes_organically(tiny_world) -> None:
    content = tiny_world.content
    ev, notes, camps = content.events, content.notes, content.campaigns
    organic = (ev.event == EV["impression"]) & ~ev.paid & (notes.campaign[ev.note] >= 0)
    seen = 0
    for c in range(len(camps.campaign_ids)):
        control = camps.users[c][camps.control[c]]
        mine = organic & (notes.campaign[ev.note] == c)
        seen += int(np.isin(ev.user[mine], control).sum())
    assert seen > 0


def test_only_boosted_notes_have_paid_impressions(tiny_world) -> None:
    ev, notes = tiny_world.content.events, tiny_world.content.notes
    paid_notes = set(ev.note[ev.paid].tolist())
    assert paid_notes <= set(np.flatnonzero(notes.campaign >= 0).tolist())
    spend_notes = set(tiny_world.content.spend.note.tolist())
    assert paid_notes <= spend_notes


def test_holdouts_cover_the_category_audience_with_the_drawn_share(tiny_world, tiny) -> None:
    pop, cat = tiny_world.population, tiny_world.catalog
    camps = tiny_world.content.campaigns
    for c in range(len(camps.campaign_ids)):
        category = cat.brand_category[camps.brand[c]]
        audience = np.flatnonzero(pop.audience[:, category] & pop.content)
        assert np.array_equal(camps.users[c], audience)
        low, high = tiny.control_share
        assert low <= camps.control_share[c] <= high
        share = camps.control[c].mean()
        assert abs(share - camps.control_share[c]) < 5 * np.sqrt(0.25 / len(audience))


def test_engagement_follows_its_impression(tiny_world) -> None:
    ev = tiny_world.content.events
    is_imp = ev.event == EV["impression"]
    assert np.array_equal(ev.parent[is_imp], np.flatnonzero(is_imp))
    assert (ev.event[ev.parent] == EV["impression"]).all()
    assert (ev.user[ev.parent] == ev.user).all() and (ev.note[ev.parent] == ev.note).all()
    assert (ev.ts[~is_imp] > ev.ts[ev.parent[~is_imp]]).all()
    assert (ev.paid[ev.parent] == ev.paid).all()
    link = ev.event == EV["link_click"]
    assert (tiny_world.content.notes.note_type[ev.note[link]] == 2).all()  # ads only
    published = tiny_world.content.notes.published[ev.note]
    assert (ev.ts > published).all()
