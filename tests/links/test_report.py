"""Per-link report: hand-computed clicks, unique clickers, window orders and GMV."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from redcat.engine import open_engine
from redcat.links.report import (
    link_conversions,
    link_journeys,
    link_report,
    load_link_tables,
    note_link_report,
)
from redcat.settings import LinksSettings
from redcat.store.db import session_factory, session_scope
from redcat.store.links import Click, Link, PostbackOrder, PostbackVisit

T0 = datetime(2026, 11, 1, 12, 0, 0)
SETTINGS = LinksSettings(click_days=7)


def _seed(engine: Engine) -> None:
    with session_scope(session_factory(engine)) as s:
        for link_id, brand, note in (
            ("a" * 24, "b1", "n1"),
            ("b" * 24, "b1", "n2"),
            ("c" * 24, "b2", "n9"),
            ("d" * 24, "b1", "n1"),
        ):
            s.add(
                Link(
                    link_id=link_id,
                    token=link_id,
                    kid="k",
                    brand_id=brand,
                    note_id=note,
                    retailer_id="tmall",
                    destination="https://detail.tmall.com/",
                    active=True,
                    created_at=T0,
                )
            )
        s.flush()
        clicks = [
            # link a: 3 human clicks from 2 addresses, 1 bot click
            ("c1", "a" * 24, "n1", T0, "h1", False),
            ("c2", "a" * 24, "n1", T0 + timedelta(hours=1), "h1", False),
            ("c3", "a" * 24, "n1", T0 + timedelta(hours=2), "h2", False),
            ("c4", "a" * 24, "n1", T0 + timedelta(hours=3), "h3", True),
            # link b: 1 click; link c (other brand): 1 click
            ("c5", "b" * 24, "n2", T0, "h4", False),
            ("c6", "c" * 24, "n9", T0, "h5", False),
        ]
        for cid, lid, note, ts, ip, bot in clicks:
            s.add(
                Click(
                    click_id=cid,
                    link_id=lid,
                    note_id=note,
                    ts=ts,
                    ua_class="mobile",
                    ip_hash=ip,
                    is_bot=bot,
                    bot_reason="ua" if bot else None,
                )
            )
        s.flush()
        orders = [
            ("o1", "c1", "a" * 24, T0 + timedelta(days=1), 100.0),  # in window
            ("o2", "c3", "a" * 24, T0 + timedelta(days=7, hours=2), 50.0),  # exactly at the end
            ("o3", "c4", "a" * 24, T0 + timedelta(days=2), 20.0),  # via a bot click: counted
            ("o4", "c5", "b" * 24, T0 + timedelta(days=8), 999.0),  # late: not counted
            ("o5", "c6", "c" * 24, T0 + timedelta(days=1), 5.0),  # other brand
        ]
        # Store visits the retailer reported: two clicks of link a, one of link b.
        for i, (cid, lid) in enumerate((("c1", "a" * 24), ("c3", "a" * 24), ("c5", "b" * 24))):
            s.add(
                PostbackVisit(
                    id=i + 1,
                    retailer_id="tmall",
                    click_id=cid,
                    link_id=lid,
                    visit_ts=T0,
                    received_at=T0,
                    kid="pb",
                )
            )
        for i, (oid, cid, lid, ts, amount) in enumerate(orders):
            s.add(
                PostbackOrder(
                    id=i + 1,
                    retailer_id="tmall",
                    order_id=oid,
                    click_id=cid,
                    link_id=lid,
                    amount=amount,
                    order_ts=ts,
                    received_at=ts,
                    kid="pb",
                )
            )


def test_link_report_hand_computed(ops_engine: Engine) -> None:
    _seed(ops_engine)
    report = link_report(ops_engine, "b1", SETTINGS)
    assert list(report["link_id"]) == ["a" * 24, "d" * 24, "b" * 24]  # by note, then link
    a, d, b = (report.iloc[i] for i in range(3))
    assert (a.clicks, a.unique_clickers, a.bot_clicks) == (3, 2, 1)
    assert (a.store_visits, a.visit_rate) == (2, 2 / 3)
    assert (b.store_visits, b.visit_rate, d.store_visits) == (1, 1.0, 0)
    assert pd.isna(d.visit_rate)
    assert (a.orders, a.gmv, a.bot_click_orders, a.late_orders) == (3, 170.0, 1, 0)
    assert a.conversion_rate == 1.0
    assert (d.clicks, d.orders, d.gmv) == (0, 0, 0.0) and pd.isna(d.conversion_rate)
    assert (b.clicks, b.orders, b.late_orders, b.gmv) == (1, 0, 1, 0.0)
    assert b.conversion_rate == 0.0
    notes = note_link_report(report)
    assert notes.to_dict("records") == [
        {
            "note_id": "n1",
            "links": 2,
            "clicks": 3,
            "store_visits": 2,
            "orders": 3,
            "gmv": 170.0,
            "conversion_rate": 1.0,
        },
        {
            "note_id": "n2",
            "links": 1,
            "clicks": 1,
            "store_visits": 1,
            "orders": 0,
            "gmv": 0.0,
            "conversion_rate": 0.0,
        },
    ]


def test_conversions_frame_is_link_channel(ops_engine: Engine) -> None:
    _seed(ops_engine)
    conv = link_conversions(ops_engine, SETTINGS)
    assert set(conv["channel"]) == {"link"}
    assert dict(zip(conv["order_id"], conv["in_window"], strict=True)) == {
        "o1": True,
        "o2": True,
        "o3": True,
        "o4": False,
        "o5": True,
    }
    assert link_report(ops_engine, "nobody", SETTINGS).empty


def test_link_journeys_and_load_into_store(ops_engine: Engine, tmp_path: Path) -> None:
    _seed(ops_engine)
    conv = link_conversions(ops_engine, SETTINGS, "b1")
    journeys = link_journeys(conv)
    assert list(journeys["journey_id"]) == ["link:tmall:o1", "link:tmall:o2", "link:tmall:o3"]
    assert journeys["value"].sum() == 170.0 and set(journeys["channel"]) == {"link"}
    assert (journeys["ts"] < journeys["conversion_ts"]).all()
    with open_engine(tmp_path / "store.duckdb") as engine:
        counts = load_link_tables(engine, ops_engine, SETTINGS, "b1")
        assert counts == {"link_clicks": 5, "link_conversions": 4, "link_journeys": 3}
        got = engine.duck.execute("SELECT sum(value) FROM link_journeys").fetchone()
        assert got is not None and got[0] == 170.0
        # Loading again replaces; an empty brand loads empty tables.
        assert load_link_tables(engine, ops_engine, SETTINGS, "nobody") == {
            "link_clicks": 0,
            "link_conversions": 0,
            "link_journeys": 0,
        }
