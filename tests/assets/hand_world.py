"""Clean-room stores built by hand for the audience-asset tests.

``build_store(content, commerce, path)`` opens a store (in memory by default) holding brand B1
(notes n1, n2 and the buyers' notes u1, u2; shop s1; term "acme") and brand B2 (note n9, shop s9,
term "zeta"), with the given matched rows: content rows ``(match_key, note_id, ts, event)`` and
commerce rows ``(match_key, shop_id, ts, event, query)`` on retailer tmall (orders get an order id
and amount 10.0); ``holdouts`` lists match keys that get a ``cr_holdouts`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from redcat.engine import Engine, open_engine

ContentRow = tuple[str, str, str, str]
CommerceRow = tuple[str, str | None, str, str, str | None]


def build_store(
    content: Sequence[ContentRow],
    commerce: Sequence[CommerceRow],
    path: Path | str = ":memory:",
    holdouts: Sequence[str] = (),
) -> Engine:
    engine = open_engine(path)
    con = engine.duck
    con.execute(
        "INSERT INTO notes VALUES ('n1','B1','c1','ad',NULL,'2026-05-01','t1'),"
        "('n2','B1','c2','organic',NULL,'2026-05-01','t2'),"
        "('u1','B1','U1','organic',NULL,'2026-05-06','ugc1'),"
        "('u2','B1','U2','organic',NULL,'2026-05-02','ugc2'),"
        "('n9','B2','c9','organic',NULL,'2026-05-01','other brand')"
    )
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1'),('tmall','s9','B2')")
    con.execute("INSERT INTO brand_terms VALUES ('tmall','B1','Acme'),('tmall','B2','Zeta')")
    con.execute(
        "CREATE TABLE cr_content_events (event_id VARCHAR, match_key VARCHAR, note_id VARCHAR,"
        " ts TIMESTAMP, event VARCHAR, surface VARCHAR)"
    )
    con.execute(
        "CREATE TABLE cr_commerce_events (retailer_id VARCHAR, event_id VARCHAR,"
        " match_key VARCHAR, shop_id VARCHAR, ts TIMESTAMP, event VARCHAR, query VARCHAR,"
        " product_id VARCHAR, order_id VARCHAR, amount DOUBLE)"
    )
    for i, (key, note, ts, event) in enumerate(content):
        con.execute(
            "INSERT INTO cr_content_events VALUES (?, ?, ?, ?, ?, 'feed')",
            [f"ce{i}", key, note, ts, event],
        )
    for i, (key, shop, ts, event, query) in enumerate(commerce):
        is_order = event == "order"
        con.execute(
            "INSERT INTO cr_commerce_events VALUES ('tmall', ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            [
                f"x{i}",
                key,
                shop,
                ts,
                event,
                query,
                f"o{i}" if is_order else None,
                10.0 if is_order else None,
            ],
        )
    if holdouts:  # randomized people of campaign C1 (test arm), matched
        con.execute(
            "CREATE TABLE cr_holdouts (match_key VARCHAR, campaign_id VARCHAR, arm VARCHAR)"
        )
        for key in holdouts:
            con.execute("INSERT INTO cr_holdouts VALUES (?, 'C1', 'test')", [key])
    return engine
