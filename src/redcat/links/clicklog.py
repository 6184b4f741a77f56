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
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from redcat.links.urls import click_template

_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's own SQLite DateTime storage format
_MAX_CACHED = 100_000  # link targets kept in memory before the cache starts over


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
    inline on the event loop; a background thread checkpoints the WAL every
    ``checkpoint_seconds`` so that clicks rarely pay for one: the writer's own auto-checkpoint
    is raised to ``wal_restart_frames`` pages (4 KiB each) and then finds little left to copy.
    Other databases take a pooled connection per call, to be run in a worker thread.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        click_param: str,
        synchronous: str = "NORMAL",
        cache_seconds: float = 5.0,
        checkpoint_seconds: float = 0.1,
        # 4 MiB: under saturation the writer's own checkpoint copies at most this much inline;
        # at 8,192 pages (32 MiB) that pause pushed p99 to 17-28 ms, at 1,024 it stays ~12 ms
        # (bench/links.py)
        wal_restart_frames: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self.wal_restart_frames = wal_restart_frames
        self._clock = clock
        # link id -> (loaded at, target or None for an unknown or disabled link): a link is
        # immutable but for its active flag, so a disable takes effect within cache_seconds.
        self._targets: dict[str, tuple[float, LinkTarget | None]] = {}
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
        self._pooled: Any = None
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.sqlite:
            self._pooled = engine.raw_connection()
            # The driver's own connection: the pool's proxy costs a call layer per statement.
            self._conn = self._pooled.driver_connection
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            if checkpoint_seconds > 0 and engine.url.database not in (None, "", ":memory:"):
                # A commit that crosses the WAL's auto-checkpoint size copies the WAL into the
                # database and syncs it, inline, on the event loop: a latency spike every few
                # hundred clicks. A background thread checkpoints instead (PASSIVE: it never
                # blocks the writer; sqlite3 releases the GIL while it runs).
                # The writer still checkpoints by itself once the WAL holds wal_restart_frames
                # pages, which bounds the WAL under saturation (a passive checkpoint never quite
                # catches a busy writer, and a WAL rewinds only once fully checkpointed); by then
                # the thread has copied nearly all of it, so that click pays for a short tail.
                self._conn.execute(f"PRAGMA wal_autocheckpoint={wal_restart_frames}")
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop,
                    args=(checkpoint_seconds,),
                    name="redcat-links-checkpoint",
                    daemon=True,
                )
                self._checkpointer.start()

    def _checkpoint_loop(self, every: float) -> None:
        conn = self.engine.raw_connection()
        raw: Any = conn.driver_connection
        try:
            while not self._stop.wait(every):
                # fetchall, not fetchone: an unfinished statement would hold a read snapshot,
                # and a WAL with a reader on it cannot start over.
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the checkpoint thread and return the long-lived SQLite connection to the pool."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
            self._checkpointer = None
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = self._conn = None

    def _target(self, cur: Any, link_id: str) -> LinkTarget | None:
        now = self._clock()
        cached = self._targets.get(link_id)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        cur.execute(self._select, (link_id,))
        row = cur.fetchone()
        target = None
        if row is not None and row[2]:
            prefix, suffix = click_template(row[1], self.click_param)
            target = LinkTarget(row[0], prefix, suffix)
        # Worker threads share the cache; single dict operations are atomic, and a lost entry
        # only costs one more SELECT.
        if len(self._targets) >= _MAX_CACHED:
            self._targets.clear()
        self._targets[link_id] = (now, target)
        return target

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
            target = self._target(cur, link_id)
            if target is None:
                conn.rollback()
                return None
            click = make(target)
            cur.execute(self._insert, self._params(click))
            conn.commit()
            return target.prefix + click.click_id + target.suffix
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def record(self, link_id: str, make: Callable[[LinkTarget], ClickRecord]) -> str | None:
        """Look up ``link_id`` (cached for ``cache_seconds``); if it exists and is active, build
        its click with ``make``, commit it, and return the destination with the click id
        appended; else None (nothing is written). Blocks until the commit returns."""
        if self._conn is not None:
            with self._lock:
                return self._run(self._conn, link_id, make)
        conn = self.engine.raw_connection()
        try:
            return self._run(conn, link_id, make)
        finally:
            conn.close()
