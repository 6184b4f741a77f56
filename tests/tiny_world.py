"""A hand-made two-note world small enough to compute every figure by hand.

Content: u1 sees n1 twice on 05-01 and reads it; u2 and u3 see n2 on 05-02 (u3 is on no retailer).
Spend: n1 gets 100 from C1 and 50 from C2. Tmall: u1 searches "acme cream" (brand term "Acme"),
visits and buys o1 (99.5) on 05-02; u2 buys o2 (10) on 05-03; u9 (never exposed, not on the content
platform) buys o3; u1 buys again (o4, 20) on 05-20, 19 days after seeing n1.
"""

from __future__ import annotations

from pathlib import Path

from redcat.engine import Engine, open_engine


def build(path: Path) -> Engine:
    engine = open_engine(path)
    con = engine.duck
    con.execute(
        "INSERT INTO notes VALUES ('n1','B1','c1','ad',['p1'],'2026-05-01','t1'),"
        "('n2','B1','c2','organic',NULL,'2026-05-01','t2'),"
        "('n9','B2','c9','organic',NULL,'2026-05-01','other brand')"
    )
    con.execute(
        """INSERT INTO content_events VALUES
        ('e1','u1','n1','2026-05-01 10:00','impression','feed'),
        ('e2','u1','n1','2026-05-01 11:00','impression','feed'),
        ('e3','u1','n1','2026-05-01 12:00','read','feed'),
        ('e4','u2','n2','2026-05-02 12:00','impression','search'),
        ('e5','u3','n2','2026-05-02 12:00','impression','search'),
        ('e6','u2','n9','2026-05-02 12:00','impression','feed')"""
    )
    con.execute(
        "INSERT INTO spend VALUES ('2026-05-01','n1','C1',100,'heat'),"
        "('2026-05-01','n1','C2',50,'traffic')"
    )
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1'),('tmall','s9','B2')")
    con.execute("INSERT INTO brand_terms VALUES ('tmall','B1','Acme'),('tmall','B2','Zeta')")
    con.execute(
        """INSERT INTO commerce_events VALUES
        ('tmall','x1','u1',NULL,'2026-05-02 10:00','search','acme cream',NULL,NULL,NULL),
        ('tmall','x2','u1','s1','2026-05-02 10:05','visit',NULL,NULL,NULL,NULL),
        ('tmall','x3','u1','s1','2026-05-02 10:10','order',NULL,'p1','o1',99.5),
        ('tmall','x4','u2','s1','2026-05-03 10:10','order',NULL,'p1','o2',10),
        ('tmall','x5','u9','s1','2026-05-03 10:10','order',NULL,'p1','o3',10),
        ('tmall','x6','u1','s1','2026-05-20 09:00','order',NULL,'p1','o4',20)"""
    )
    return engine
