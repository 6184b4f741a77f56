"""The redirect's hot path: look a link up and commit its click, through the raw DB-API driver.

Each redirect costs one primary-key SELECT and one INSERT + COMMIT. The ORM (and even Core's
statement compilation) would cost more than the insert itself, so this module speaks plain
DB-API on a connection taken from the SQLAlchemy engine, with the dialect's parameter style.

Durability: the click row is committed before the caller answers 302. On SQLite in WAL mode a
commit appends the transaction to the ``-wal`` file with ``write()``: once the call returns the
data is in the operating system's page cache, so killing the server process (even ``kill -9``)
cannot lose it; ``synchronous=NORMAL`` only skips the ``fsync``, which matters for an OS crash or
power loss (set ``LinksSettings.sqlite_synchronous`` to FULL to cover those, at a cost per click).
On PostgreSQL a commit returns after the WAL record is flushed (``synchronous_commit=on``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from redcat.links.urls import click_template

_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's own SQLite DateTime storage format


def new_click_id() -> str:
    """Return a fresh click id: 12 random bytes, URL-safe base64 (16 characters)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class ClickRecord:
    """One click to log: ids, time (naive UTC), coarse UA class, salted IP hash, bot flag."""

    click_id: str
    link_id: str
    note_id: str
    ts: datetime
    ua_class: str
    ip_hash: str
    bot_reason: str | None


@dataclass(frozen=True)
class LinkTarget:
    """What a redirect needs of a link: its note and the destination split around the click id
    (``prefix + click_id + suffix``)."""

    note_id: str
    prefix: str
    suffix: str


class ClickLog:
    """Link lookups and click inserts on one engine.

    On SQLite one long-lived connection serves every call under a lock (calls are a few tens of
    microseconds; SQLite has one writer anyway) and ``sqlite`` is True so the caller may run it
    inline on the event loop. Other databases take a pooled connection per call, to be run in a
    worker thread.
    """

    def __init__(self, engine: Engine, *, click_param: str, synchronous: str = "NORMAL") -> None:
        self.engine = engine
        self.click_param = click_param
        self.sqlite = engine.dialect.name == "sqlite"
        mark: Callable[[int], str] = (
            (lambda n: ", ".join("?" * n))
            if engine.dialect.paramstyle == "qmark"
            else (lambda n: ", ".join(["%s"] * n))
        )
        one = mark(1)
        self._select = f"SELECT note_id, destination, active FROM links WHERE link_id = {one}"
        self._insert = (
            "INSERT INTO clicks (click_id, link_id, note_id, ts, ua_class, ip_hash, is_bot,"
            f" bot_reason) VALUES ({mark(8)})"
        )
        self._lock = threading.Lock()
        self._conn: Any = None
        if self.sqlite:
            self._conn = engine.raw_connection()
            cur = self._conn.cursor()
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

    def close(self) -> None:
        """Return the long-lived SQLite connection to the pool."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _params(self, click: ClickRecord) -> tuple[Any, ...]:
        ts: Any = click.ts.strftime(_SQLITE_TS) if self.sqlite else click.ts
        is_bot: Any = click.bot_reason is not None
        if self.sqlite:
            is_bot = int(is_bot)
        return (
            click.click_id,
            click.link_id,
            click.note_id,
            ts,
            click.ua_class,
            click.ip_hash,
            is_bot,
            click.bot_reason,
        )

    def _run(
        self, conn: Any, link_id: str, make: Callable[[LinkTarget], ClickRecord]
    ) -> str | None:
        cur = conn.cursor()
        try:
            cur.execute(self._select, (link_id,))
            row = cur.fetchone()
            if row is None or not row[2]:
                conn.rollback()
                return None
            prefix, suffix = click_template(row[1], self.click_param)
            click = make(LinkTarget(row[0], prefix, suffix))
            cur.execute(self._insert, self._params(click))
            conn.commit()
            return prefix + click.click_id + suffix
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def record(self, link_id: str, make: Callable[[LinkTarget], ClickRecord]) -> str | None:
        """Look up ``link_id``; if it exists and is active, build its click with ``make``,
        commit it, and return the destination with the click id appended; else None (nothing
        is written). Blocks until the commit returns."""
        if self._conn is not None:
            with self._lock:
                return self._run(self._conn, link_id, make)
        conn = self.engine.raw_connection()
        try:
            return self._run(conn, link_id, make)
        finally:
            conn.close()
