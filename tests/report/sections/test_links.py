"""The ad-link report section: absent without a store or links, hand-computed comparison."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from redcat.report.section import SectionInput
from redcat.report.sections.links import build_links_section, link_vs_matched
from redcat.settings import Settings
from redcat.store.db import make_engine, session_factory, session_scope, upgrade
from redcat.store.links import Click, Link, PostbackOrder, PostbackVisit

T0 = datetime(2026, 11, 1)


def _input(url: str, credits: pd.DataFrame, brand: str = "b1") -> SectionInput:
    settings = Settings()
    settings = replace(settings, web=replace(settings.web, ops_db=url))
    none: Any = None
    return SectionInput(
        engine=none, brand_id=brand, settings=settings, funnel=none, credits=credits, journeys=none
    )


CREDITS = pd.DataFrame(
    {
        "model": ["last", "last", "first"],
        "note_id": ["n1", "n3", "n1"],
        "conversions": [3.0, 1.0, 50.0],
        "value": [300.0, 10.0, 5000.0],
    }
)


def test_no_store_no_section(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    assert build_links_section(_input(url, CREDITS)) is None
    assert not (tmp_path / "missing.db").exists()  # the report must not create the store


def test_section_compares_link_and_matched_paths(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    engine = make_engine(url)
    upgrade(url, engine=engine)
    with session_scope(session_factory(engine)) as s:
        s.add(
            Link(
                link_id="a" * 24,
                token="t",
                kid="k",
                brand_id="b1",
                note_id="n1",
                retailer_id="tmall",
                destination="https://detail.tmall.com/",
                active=True,
                created_at=T0,
            )
        )
        s.flush()
        for i in range(4):
            s.add(
                Click(
                    click_id=f"c{i}",
                    link_id="a" * 24,
                    note_id="n1",
                    ts=T0,
                    ua_class="mobile",
                    ip_hash=f"h{i % 2}",
                    is_bot=False,
                    bot_reason=None,
                )
            )
        s.flush()
        s.add(
            PostbackOrder(
                retailer_id="tmall",
                order_id="o1",
                click_id="c0",
                link_id="a" * 24,
                amount=80.0,
                order_ts=T0 + timedelta(days=1),
                received_at=T0,
                kid="pb",
            )
        )
        s.add(
            PostbackVisit(
                retailer_id="tmall",
                click_id="c1",
                link_id="a" * 24,
                visit_ts=T0,
                received_at=T0,
                kid="pb",
            )
        )
    engine.dispose()
    assert build_links_section(_input(url, CREDITS, brand="other")) is None
    section = build_links_section(_input(url, CREDITS))
    assert section is not None and section.key == "links"
    per_link, per_note = section.tables
    row = per_link.frame.iloc[0]
    assert (row.clicks, row.unique_clickers, row.orders, row.gmv) == (4, 2, 1, 80.0)
    assert (row.conversion_rate, row.store_visits, row.visit_rate) == (0.25, 1, 0.25)
    # n1: 1 link order beside 3 orders last touch credits over matched paths -> share 1/4.
    assert per_note.frame.to_dict("records") == [
        {
            "note_id": "n1",
            "clicks": 4,
            "link_orders": 1,
            "link_gmv": 80.0,
            "matched_orders": 3.0,
            "matched_gmv": 300.0,
            "link_share": 0.25,
        }
    ]
    assert set(section.charts[0].options) == {"zh", "en"}


def test_link_vs_matched_without_orders_is_nan() -> None:
    notes = pd.DataFrame(
        {
            "note_id": ["n9"],
            "links": [1],
            "clicks": [2],
            "orders": [0],
            "gmv": [0.0],
            "conversion_rate": [0.0],
        }
    )
    out = link_vs_matched(notes, CREDITS, "last")
    assert out["matched_orders"].tolist() == [0.0]
    assert out["link_share"].isna().all()


def test_registered() -> None:
    from redcat.report.sections import SECTION_BUILDERS

    assert build_links_section in SECTION_BUILDERS
