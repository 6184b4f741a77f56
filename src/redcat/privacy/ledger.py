"""The privacy budget ledger: each brand's ε per calendar month, spent atomically per release.

- **Atomic spending.** A spend is one transaction: a conditional ``UPDATE ... SET spent = spent +
  ε WHERE spent + ε <= total`` (the database compares, so two concurrent spends cannot both pass
  on the same remainder) and the insert of the release with its answer. A spend that does not fit
  raises :class:`~redcat.errors.PrivacyBudgetExceeded` and changes nothing.
- **Same question, same answer.** A release is keyed by a canonical hash of (brand, query name,
  parameters, ε, ...). Asking it again returns the stored noisy answer and spends nothing, so
  averaging repeated answers learns nothing new. Two identical questions racing each other spend
  once: the second insert hits the unique key, rolls back its spend and returns the first answer.
- **Before asking.** :meth:`BudgetLedger.remaining` says how many more releases of each kind
  (``PrivacySettings.release_epsilon``) the brand's remaining ε allows.

Budgets live in the operational store (:mod:`redcat.store.privacy`; SQLite by default). Every
mechanism redcat uses is pure ε-differential privacy (Laplace), so δ = 0 and only ε is kept;
releases compose by adding their ε (basic composition), which is what the budget sums.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from redcat.errors import ConfigError, PrivacyBudgetExceeded
from redcat.settings import PrivacySettings
from redcat.store.db import Base, make_engine, open_store
from redcat.store.privacy import MICRO, PrivacyBudget, PrivacyRelease, to_micro


def query_hash(brand_id: str, name: str, params: Mapping[str, Any], epsilon: float) -> str:
    """Return the canonical hash (hex SHA-256) of a question: the same brand, query name,
    parameters (any JSON-serializable values, key order irrelevant) and ε give the same hash."""
    canonical = json.dumps(
        {"brand": brand_id, "query": name, "params": params, "epsilon": round(epsilon, 9)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_period(now: datetime | None = None) -> str:
    """Return the budget period containing ``now`` (default: the current UTC time) as
    ``YYYY-MM``."""
    now = now or datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


@dataclass(frozen=True)
class BudgetStatus:
    """A brand's budget in one period: ``total``, ``spent`` and ``remaining`` ε, ``releases``
    made, and ``releases_left`` (kind → how many more releases of that kind fit)."""

    brand_id: str
    period: str
    total: float
    spent: float
    remaining: float
    releases: int
    releases_left: Mapping[str, int]


@dataclass(frozen=True)
class ReleaseRecord:
    """One paid release: when (UTC), the query's name and kind, the ε it spent and its hash."""

    at: datetime
    name: str
    kind: str
    epsilon: float
    query_hash: str


@dataclass(frozen=True)
class Spent:
    """The outcome of :meth:`BudgetLedger.release`: the ``answer`` (as stored), whether it came
    from an earlier identical question (``cached``, nothing spent) and the ε spent now."""

    answer: str
    cached: bool
    epsilon: float
    query_hash: str


class BudgetLedger:
    """Privacy budgets of every brand, in the operational store behind ``engine``.

    ``description`` says where the ledger lives (shown in reports). New brands start each
    period with ``settings.epsilon_per_period``.
    """

    def __init__(
        self,
        engine: Engine,
        settings: PrivacySettings | None = None,
        *,
        description: str = "operational store",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or PrivacySettings()
        self.description = description
        self._clock = clock or (lambda: datetime.now(UTC))
        # An in-memory SQLite store is one connection shared by every thread: serialize
        # spends in this process; the database's conditional update serializes processes.
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        settings: PrivacySettings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> BudgetLedger:
        """Open (and migrate to head) the operational store at ``url`` and return its ledger."""
        engine, _sessions = open_store(url)
        return cls(engine, settings, description=_safe_url(url), clock=clock)

    @classmethod
    def in_memory(
        cls,
        settings: PrivacySettings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> BudgetLedger:
        """Return a ledger in a fresh in-memory SQLite database (lost when the process ends)."""
        engine = make_engine("sqlite://")
        tables = [Base.metadata.tables[t] for t in ("privacy_budgets", "privacy_releases")]
        Base.metadata.create_all(engine, tables=tables)
        return cls(engine, settings, description="in memory (this run only)", clock=clock)

    def period(self) -> str:
        """Return the current budget period (``YYYY-MM``)."""
        return current_period(self._clock())

    def _ensure(self, conn: Any, brand_id: str, period: str) -> None:
        # Create the period's budget row unless it exists, in one statement that writes first:
        # a SQLite transaction that read before writing could fail to take the write lock.
        values = {
            "brand_id": brand_id,
            "period": period,
            "total": to_micro(self.settings.epsilon_per_period),
            "spent": 0,
            "updated_at": datetime.now(UTC).replace(tzinfo=None),
        }
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(PrivacyBudget).values(**values).on_conflict_do_nothing())
        elif conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(sqlite_insert(PrivacyBudget).values(**values).on_conflict_do_nothing())
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported stores
            raise ConfigError(f"unsupported operational store dialect {conn.dialect.name!r}")

    def set_budget(self, brand_id: str, epsilon: float, period: str | None = None) -> None:
        """Set ``brand_id``'s total ε for ``period`` (default: the current one)."""
        if epsilon < 0:
            raise ConfigError("a privacy budget cannot be negative")
        period = period or self.period()
        with self._lock, self.engine.begin() as conn:
            self._ensure(conn, brand_id, period)
            conn.execute(
                update(PrivacyBudget)
                .where(PrivacyBudget.brand_id == brand_id, PrivacyBudget.period == period)
                .values(total=to_micro(epsilon))
            )

    def status(self, brand_id: str, period: str | None = None) -> BudgetStatus:
        """Return ``brand_id``'s budget in ``period`` (default: the current one); a brand that
        never spent has the full default budget."""
        period = period or self.period()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(PrivacyBudget.total, PrivacyBudget.spent).where(
                    PrivacyBudget.brand_id == brand_id, PrivacyBudget.period == period
                )
            ).first()
            count = conn.execute(
                select(PrivacyRelease.id).where(
                    PrivacyRelease.brand_id == brand_id, PrivacyRelease.period == period
                )
            ).all()
        total, spent = (
            (int(row[0]), int(row[1]))
            if row is not None
            else (to_micro(self.settings.epsilon_per_period), 0)
        )
        left = max(total - spent, 0)
        per_kind = {
            kind: left // to_micro(eps) for kind, eps in self.settings.release_epsilon.items()
        }
        return BudgetStatus(
            brand_id=brand_id,
            period=period,
            total=total / MICRO,
            spent=spent / MICRO,
            remaining=left / MICRO,
            releases=len(count),
            releases_left=MappingProxyType(per_kind),
        )

    def history(self, brand_id: str, period: str | None = None) -> list[ReleaseRecord]:
        """Return ``brand_id``'s releases in ``period`` (default: the current one), oldest
        first (answers left out)."""
        period = period or self.period()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    PrivacyRelease.created_at,
                    PrivacyRelease.query_name,
                    PrivacyRelease.kind,
                    PrivacyRelease.epsilon,
                    PrivacyRelease.query_hash,
                )
                .where(PrivacyRelease.brand_id == brand_id, PrivacyRelease.period == period)
                .order_by(PrivacyRelease.id)
            ).all()
        return [
            ReleaseRecord(
                at=row[0],
                name=str(row[1]),
                kind=str(row[2]),
                epsilon=row[3] / MICRO,
                query_hash=str(row[4]),
            )
            for row in rows
        ]

    def remaining(self, brand_id: str, period: str | None = None) -> Mapping[str, int]:
        """Return how many more releases of each kind (kind → count) ``brand_id`` can make in
        ``period`` (default: the current one)."""
        return self.status(brand_id, period).releases_left

    def lookup(self, brand_id: str, qhash: str, period: str | None = None) -> str | None:
        """Return the stored answer to the question ``qhash`` of ``brand_id`` in ``period``, or
        None if it was never asked."""
        period = period or self.period()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(PrivacyRelease.answer).where(
                    PrivacyRelease.brand_id == brand_id,
                    PrivacyRelease.period == period,
                    PrivacyRelease.query_hash == qhash,
                )
            ).first()
        return None if row is None else str(row[0])

    def release(
        self,
        brand_id: str,
        qhash: str,
        *,
        name: str,
        kind: str,
        epsilon: float,
        compute: Callable[[], str],
        period: str | None = None,
    ) -> Spent:
        """Answer the question ``qhash``: the stored answer if ``brand_id`` asked it before in
        ``period`` (nothing spent), else ``compute()`` (the noisy answer, serialized), paid for
        with ``epsilon`` in one transaction and stored.

        Raises :class:`PrivacyBudgetExceeded` (nothing spent, the computed answer discarded)
        when ``epsilon`` exceeds what is left.
        """
        if epsilon <= 0:
            raise ConfigError(f"a release must spend a positive ε, not {epsilon}")
        period = period or self.period()
        stored = self.lookup(brand_id, qhash, period)
        if stored is not None:
            return Spent(answer=stored, cached=True, epsilon=0.0, query_hash=qhash)
        cost = to_micro(epsilon)
        answer = compute()
        try:
            with self._lock, self.engine.begin() as conn:
                self._ensure(conn, brand_id, period)
                paid = conn.execute(
                    update(PrivacyBudget)
                    .where(
                        PrivacyBudget.brand_id == brand_id,
                        PrivacyBudget.period == period,
                        PrivacyBudget.spent + cost <= PrivacyBudget.total,
                    )
                    .values(spent=PrivacyBudget.spent + cost)
                )
                if paid.rowcount != 1:
                    raise PrivacyBudgetExceeded(self._refusal(conn, brand_id, period, epsilon))
                conn.execute(
                    insert(PrivacyRelease).values(
                        brand_id=brand_id,
                        period=period,
                        query_hash=qhash,
                        query_name=name,
                        kind=kind,
                        epsilon=cost,
                        answer=answer,
                    )
                )
        except IntegrityError:
            # The same question was answered concurrently: our spend rolled back with the
            # insert; hand out the answer that won.
            stored = self.lookup(brand_id, qhash, period)
            if stored is None:
                raise
            return Spent(answer=stored, cached=True, epsilon=0.0, query_hash=qhash)
        return Spent(answer=answer, cached=False, epsilon=cost / MICRO, query_hash=qhash)

    def _refusal(self, conn: Any, brand_id: str, period: str, epsilon: float) -> str:
        row = conn.execute(
            select(PrivacyBudget.total, PrivacyBudget.spent).where(
                PrivacyBudget.brand_id == brand_id, PrivacyBudget.period == period
            )
        ).first()
        left = (int(row[0]) - int(row[1])) / MICRO if row is not None else 0.0
        return (
            f"privacy budget of brand {brand_id!r} for {period} is exhausted: this release needs "
            f"ε={epsilon:g}, {left:g} is left; nothing was spent (ask again next period, or ask "
            "an operator to raise the budget)"
        )


def _safe_url(url: str) -> str:
    # Never echo a password from a PostgreSQL URL into a report.
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "operational store"
