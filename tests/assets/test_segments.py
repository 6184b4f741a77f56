"""Stage pieces when two stages start on the same day: no empty pieces, one entry.

Windows (days): aware 3, interest 2, purchased 5, shared 4. User x carts at brand shop s1 and
orders there on 1 May (I 1-2, P 1-5): P on days 1..5, entered once, on day 1. Day numbers are
days since 1970-01-01 (1 May 2026 = 20574).
"""

from __future__ import annotations

from redcat.assets import audience_assets
from redcat.settings import AssetSettings

SETTINGS = AssetSettings(
    aware_days=3, interest_days=2, purchase_days=5, share_days=4, purchase_credit_days=2
)
MAY1 = 20574


def test_same_day_stages_make_no_empty_piece_and_one_entry(store) -> None:
    engine = store(
        [],
        [
            ("x", "s1", "2026-05-01 10:00", "cart", None),
            ("x", "s1", "2026-05-01 11:00", "order", None),
        ],
    )
    assets = audience_assets(engine, "B1", SETTINGS)
    seg = engine.execute(assets.segments).sort_values(["start", "end"])
    pieces = [
        (int(r), int(s), int(e), bool(n))
        for r, s, e, n in seg[["rank", "start", "end", "entered"]].itertuples(index=False)
    ]
    # P (rank 3) covers 1..5 May: cut where I's window ends (3 May), entered on 1 May only.
    assert pieces == [(3, MAY1, MAY1 + 2, True), (3, MAY1 + 2, MAY1 + 5, False)]
