"""The privacy budget ledger's tables: each brand's ε budget per period and every release made.

ε is kept in integer micro-units (1 ε = 1,000,000) so that spends add up exactly and the
"would this exceed the budget" comparison runs in the database, inside the spending statement.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from redcat.store.db import Base

#: Micro-ε per ε: budgets and spends are stored as whole numbers of these.
MICRO = 1_000_000


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_micro(epsilon: float) -> int:
    """Return ``epsilon`` in micro-ε, rounded up (a spend is never undercounted)."""
    micro = epsilon * MICRO
    rounded = round(micro)
    return rounded if abs(micro - rounded) < 1e-6 else int(micro) + 1


class PrivacyBudget(Base):
    """A brand's budget for one period (``YYYY-MM``): ``total`` and ``spent`` in micro-ε."""

    __tablename__ = "privacy_budgets"

    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_utcnow)


class PrivacyRelease(Base):
    """One release a brand paid for: its canonical ``query_hash`` (unique per brand and period),
    the query's name and kind, the ε spent (micro-ε) and the released answer (JSON), returned
    as-is when the same question is asked again."""

    __tablename__ = "privacy_releases"
    __table_args__ = (UniqueConstraint("brand_id", "period", "query_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(16))
    query_hash: Mapped[str] = mapped_column(String(64))
    query_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    epsilon: Mapped[int] = mapped_column(BigInteger)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_utcnow)
