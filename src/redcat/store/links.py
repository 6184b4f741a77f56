"""Operational tables of 种草直达 ad links: keys, links, clicks, postback orders and nonces.

Times are naive UTC (``DateTime`` without zone, written by the service in UTC). No raw IP
address or user agent is ever stored: clicks keep a coarse user-agent class and a salted hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from redcat.store.db import Base


class LinkKey(Base):
    """One secret: a link-token signing key (``purpose`` link), a retailer's postback key
    (``postback``, with ``retailer_id``) or the IP-hash salt (``ip``). ``status`` is active,
    verify (verifies only) or retired (refused)."""

    __tablename__ = "link_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    retailer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret_hex: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_link_keys_purpose_retailer", "purpose", "retailer_id"),)


class Link(Base):
    """An ad link under a note: its signed token and allow-listed destination."""

    __tablename__ = "links"

    link_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    token: Mapped[str] = mapped_column(String(96), unique=True)
    kid: Mapped[str] = mapped_column(String(32))
    brand_id: Mapped[str] = mapped_column(String(128), index=True)
    note_id: Mapped[str] = mapped_column(String(128), index=True)
    retailer_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Click(Base):
    """One answered redirect. ``is_bot`` clicks (``bot_reason`` ua | burst) are kept for audit
    but not counted as clicks."""

    __tablename__ = "clicks"

    click_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.link_id"))
    note_id: Mapped[str] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column(DateTime)
    ua_class: Mapped[str] = mapped_column(String(16))
    ip_hash: Mapped[str] = mapped_column(String(64))
    is_bot: Mapped[bool] = mapped_column(Boolean)
    bot_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)

    # On SQLite the rows live in the primary key's B-tree (WITHOUT ROWID): one B-tree fewer to
    # write per click than a rowid table with a separate key index.
    __table_args__ = (Index("ix_clicks_link_ts", "link_id", "ts"), {"sqlite_with_rowid": False})


class PostbackOrder(Base):
    """An order a retailer reported for a click; one row per (retailer, order id)."""

    __tablename__ = "postback_orders"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    retailer_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    click_id: Mapped[str] = mapped_column(ForeignKey("clicks.click_id"), index=True)
    link_id: Mapped[str] = mapped_column(String(24), index=True)
    amount: Mapped[float] = mapped_column(Float)
    order_ts: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    kid: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("retailer_id", "order_id", name="uq_postback_orders_retailer_order"),
    )


class PostbackNonce(Base):
    """A postback nonce already accepted (replay cache); rows older than the postback max age
    can be purged, since such requests are refused as stale anyway."""

    __tablename__ = "postback_nonces"

    retailer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class PostbackVisit(Base):
    """A store visit (进店) a retailer reported for a click: the reader reached the shop or
    product page and the retailer saw them there. One row per (retailer, click)."""

    __tablename__ = "postback_visits"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    retailer_id: Mapped[str] = mapped_column(String(64))
    click_id: Mapped[str] = mapped_column(ForeignKey("clicks.click_id"))
    link_id: Mapped[str] = mapped_column(String(24), index=True)
    visit_ts: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    kid: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("retailer_id", "click_id", name="uq_postback_visits_retailer_click"),
    )
