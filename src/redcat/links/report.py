"""The link channel in numbers: clicks and postback orders as frames for attribution and reports.

A link click is deterministic (the click id travels to the retailer and back with the order), so
the link channel needs no identity match. An order counts as a *conversion of the link channel*
when the retailer posted it back for a click of the brand's link and it was placed within the
click-through window (``LinksSettings.click_days``) after that click. Bot-flagged clicks are not
counted as clicks; an order posted back for one still counts (a real buyer may share an address
that burst), and is reported in ``bot_click_orders``.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import Engine, func, select

from redcat.engine.core import Engine as AnalyticsEngine
from redcat.settings import LinksSettings
from redcat.store.links import Click, Link, PostbackOrder, PostbackVisit

CHANNEL = "link"

CLICK_COLUMNS: tuple[str, ...] = (
    "click_id",
    "link_id",
    "note_id",
    "brand_id",
    "retailer_id",
    "ts",
    "ua_class",
    "ip_hash",
    "is_bot",
)
CONVERSION_COLUMNS: tuple[str, ...] = (
    "channel",
    "retailer_id",
    "order_id",
    "click_id",
    "link_id",
    "note_id",
    "brand_id",
    "click_ts",
    "order_ts",
    "amount",
    "is_bot_click",
    "in_window",
)
REPORT_COLUMNS: tuple[str, ...] = (
    "link_id",
    "note_id",
    "retailer_id",
    "destination",
    "clicks",
    "unique_clickers",
    "bot_clicks",
    "store_visits",
    "visit_rate",
    "orders",
    "gmv",
    "conversion_rate",
    "bot_click_orders",
    "late_orders",
)


def link_clicks(ops_engine: Engine, brand_id: str | None = None) -> pd.DataFrame:
    """Return every logged click of ``brand_id``'s links (all brands if None), bots included,
    one row per click: ``CLICK_COLUMNS`` (``ts`` naive UTC, ``is_bot`` bool)."""
    query = select(
        Click.click_id,
        Click.link_id,
        Click.note_id,
        Link.brand_id,
        Link.retailer_id,
        Click.ts,
        Click.ua_class,
        Click.ip_hash,
        Click.is_bot,
    ).join(Link, Link.link_id == Click.link_id)
    if brand_id is not None:
        query = query.where(Link.brand_id == brand_id)
    with ops_engine.connect() as conn:
        rows = conn.execute(query.order_by(Click.ts, Click.click_id)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(CLICK_COLUMNS))
    text = ("click_id", "link_id", "note_id", "brand_id", "retailer_id", "ua_class", "ip_hash")
    # Explicit types: an empty result must still say which columns are text (store tables).
    return frame.astype({**dict.fromkeys(text, "str"), "is_bot": "bool", "ts": "datetime64[us]"})


def link_conversions(
    ops_engine: Engine, settings: LinksSettings, brand_id: str | None = None
) -> pd.DataFrame:
    """Return the postback orders of ``brand_id``'s links with their click: ``CONVERSION_COLUMNS``.

    ``channel`` is ``link``; ``amount`` is GMV in the retailer's currency; ``in_window`` is True
    when click_ts <= order_ts <= click_ts + ``settings.click_days`` days (only those are link
    conversions); ``is_bot_click`` flags orders whose click was bot-flagged.
    """
    query = (
        select(
            PostbackOrder.retailer_id,
            PostbackOrder.order_id,
            PostbackOrder.click_id,
            PostbackOrder.link_id,
            Click.note_id,
            Link.brand_id,
            Click.ts,
            PostbackOrder.order_ts,
            PostbackOrder.amount,
            Click.is_bot,
        )
        .join(Click, Click.click_id == PostbackOrder.click_id)
        .join(Link, Link.link_id == PostbackOrder.link_id)
    )
    if brand_id is not None:
        query = query.where(Link.brand_id == brand_id)
    with ops_engine.connect() as conn:
        rows = conn.execute(query.order_by(PostbackOrder.order_ts, PostbackOrder.id)).all()
    cols = [c for c in CONVERSION_COLUMNS if c not in ("channel", "in_window")]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    text = ("retailer_id", "order_id", "click_id", "link_id", "note_id", "brand_id")
    frame = frame.astype(
        {
            **dict.fromkeys(text, "str"),
            "click_ts": "datetime64[us]",
            "order_ts": "datetime64[us]",
            "amount": "float64",
            "is_bot_click": "bool",
        }
    )
    window = timedelta(days=settings.click_days)
    in_window = (frame["order_ts"] >= frame["click_ts"]) & (
        frame["order_ts"] <= frame["click_ts"] + window
    )
    frame = frame.assign(channel=pd.Series(CHANNEL, index=frame.index, dtype="str"))
    frame = frame.assign(in_window=in_window.astype(bool))
    return frame[list(CONVERSION_COLUMNS)]


def link_report(ops_engine: Engine, brand_id: str, settings: LinksSettings) -> pd.DataFrame:
    """Return one row per link of ``brand_id`` (``REPORT_COLUMNS``), sorted by note and link.

    ``clicks``: clicks not flagged as bots (events); ``unique_clickers``: distinct salted address
    hashes among them (an approximation of people: a shared address counts once);
    ``bot_clicks``: flagged clicks; ``store_visits``: clicks the retailer reported a store
    visit (进店) for, ``visit_rate`` = store visits ÷ clicks; ``orders`` / ``gmv`` (currency):
    link conversions in the click-through window; ``conversion_rate``: orders ÷ clicks (NaN
    without clicks); ``bot_click_orders``: of those orders, how many came through a
    bot-flagged click; ``late_orders``: postback orders outside the window (not counted).
    """
    with ops_engine.connect() as conn:
        links = conn.execute(
            select(Link.link_id, Link.note_id, Link.retailer_id, Link.destination).where(
                Link.brand_id == brand_id
            )
        ).all()
    base = pd.DataFrame(
        [tuple(r) for r in links], columns=["link_id", "note_id", "retailer_id", "destination"]
    )
    clicks = link_clicks(ops_engine, brand_id)
    human = clicks[~clicks["is_bot"]]
    per_click = pd.DataFrame(
        {
            "clicks": human.groupby("link_id").size(),
            "unique_clickers": human[human["ip_hash"] != ""]
            .groupby("link_id")["ip_hash"]
            .nunique(),
            "bot_clicks": clicks[clicks["is_bot"]].groupby("link_id").size(),
        }
    )
    with ops_engine.connect() as conn:
        visit_rows = conn.execute(
            select(PostbackVisit.link_id, func.count(PostbackVisit.id))
            .join(Link, Link.link_id == PostbackVisit.link_id)
            .where(Link.brand_id == brand_id)
            .group_by(PostbackVisit.link_id)
        ).all()
    visits = pd.Series({r[0]: int(r[1]) for r in visit_rows}, dtype="float64", name="store_visits")
    conv = link_conversions(ops_engine, settings, brand_id)
    counted = conv[conv["in_window"]]
    per_order = pd.DataFrame(
        {
            "orders": counted.groupby("link_id").size(),
            "gmv": counted.groupby("link_id")["amount"].sum(),
            "bot_click_orders": counted[counted["is_bot_click"]].groupby("link_id").size(),
            "late_orders": conv[~conv["in_window"]].groupby("link_id").size(),
        }
    )
    out = base.merge(per_click, left_on="link_id", right_index=True, how="left")
    out = out.merge(per_order, left_on="link_id", right_index=True, how="left")
    out = out.merge(visits, left_on="link_id", right_index=True, how="left")
    counts = (
        "clicks",
        "unique_clickers",
        "bot_clicks",
        "store_visits",
        "orders",
        "bot_click_orders",
        "late_orders",
    )
    for col in counts:
        out[col] = out[col].fillna(0).astype("int64")
    out["gmv"] = out["gmv"].fillna(0.0).astype("float64")
    out["visit_rate"] = (out["store_visits"] / out["clicks"].where(out["clicks"] > 0)).astype(
        "float64"
    )
    rate = out["orders"] / out["clicks"].where(out["clicks"] > 0)
    out["conversion_rate"] = rate.astype("float64")
    out = out.sort_values(["note_id", "link_id"], kind="stable").reset_index(drop=True)
    return out[list(REPORT_COLUMNS)]


def note_link_report(report: pd.DataFrame) -> pd.DataFrame:
    """Roll :func:`link_report` up to notes: ``note_id``, ``links``, ``clicks``,
    ``store_visits``, ``orders``,
    ``gmv``, ``conversion_rate`` (orders ÷ clicks). Unique clickers are not summed (a person
    clicking two links of a note would count twice)."""
    grouped = report.groupby("note_id", sort=True)
    out = pd.DataFrame(
        {
            "links": grouped.size(),
            "clicks": grouped["clicks"].sum(),
            "store_visits": grouped["store_visits"].sum(),
            "orders": grouped["orders"].sum(),
            "gmv": grouped["gmv"].sum(),
        }
    ).reset_index()
    out["conversion_rate"] = (out["orders"] / out["clicks"].where(out["clicks"] > 0)).astype(
        "float64"
    )
    return out


LINK_JOURNEY_COLUMNS: tuple[str, ...] = (
    "journey_id",
    "channel",
    "converted",
    "retailer_id",
    "conversion_ts",
    "value",
    "note_id",
    "is_click",
    "ts",
)


def link_journeys(conversions: pd.DataFrame) -> pd.DataFrame:
    """Return the link channel's converting journeys from :func:`link_conversions`, in the
    shape of :func:`redcat.engine.derived.journey_touches` rows (one touch each): ``journey_id``
    ``link:<retailer>:<order id>``, ``channel`` ``link``, ``converted`` True, ``retailer_id``,
    ``conversion_ts`` (order time), ``value`` (GMV), ``note_id``, ``is_click`` True and ``ts``
    (the click). Orders outside the click window are left out."""
    rows = conversions[conversions["in_window"]]
    out = pd.DataFrame(
        {
            "journey_id": "link:" + rows["retailer_id"] + ":" + rows["order_id"],
            "channel": pd.Series(CHANNEL, index=rows.index, dtype="str"),
            "converted": pd.Series(True, index=rows.index, dtype="bool"),
            "retailer_id": rows["retailer_id"],
            "conversion_ts": rows["order_ts"],
            "value": rows["amount"].astype("float64"),
            "note_id": rows["note_id"],
            "is_click": pd.Series(True, index=rows.index, dtype="bool"),
            "ts": rows["click_ts"],
        }
    )
    return out.sort_values("journey_id", kind="stable").reset_index(drop=True)[
        list(LINK_JOURNEY_COLUMNS)
    ]


def load_link_tables(
    engine: AnalyticsEngine,
    ops_engine: Engine,
    settings: LinksSettings,
    brand_id: str | None = None,
) -> dict[str, int]:
    """Write the link channel into the analytics store as tables ``link_clicks``
    (:func:`link_clicks`, bots flagged), ``link_conversions`` (:func:`link_conversions`) and
    ``link_journeys`` (:func:`link_journeys`), replacing earlier copies; returns rows per table.
    Works on any Ibis backend of the engine (the frames go through ``create_table``)."""
    clicks = link_clicks(ops_engine, brand_id)
    conversions = link_conversions(ops_engine, settings, brand_id)
    tables = {
        "link_clicks": clicks,
        "link_conversions": conversions,
        "link_journeys": link_journeys(conversions),
    }
    for name, frame in tables.items():
        engine.ibis.create_table(name, obj=frame, overwrite=True)
    return {name: len(frame) for name, frame in tables.items()}
