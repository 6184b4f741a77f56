"""Engine, sessions and migrations of the operational store.

``make_engine(url)`` opens SQLite (the default, file in WAL mode) or PostgreSQL; ``upgrade(url)``
runs the Alembic chain in ``migrations/`` to head. Models of every domain derive from :class:`Base`
so one metadata describes the whole schema.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from redcat.errors import StoreError
from redcat.settings import DEFAULT_OPS_DB

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Stable constraint names, so Alembic revisions can drop or alter them on SQLite (batch mode)
# and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every operational-store model (all domains share its metadata)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web server read while a writer (refresh, link clicks) commits; NORMAL sync is
    # durable across application crashes, which is what operational state needs.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Return a SQLAlchemy engine for ``url`` (default ``sqlite:///redcat-ops.db``).

    SQLite connections get WAL journaling, synchronous=NORMAL, foreign keys and a 5 s busy
    timeout; an in-memory SQLite URL shares one connection across threads (tests). Raises
    :class:`StoreError` for a URL SQLAlchemy cannot parse or whose driver is missing.
    """
    url = url or DEFAULT_OPS_DB
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r}") from exc
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot open operational store {url!r}: {exc}") from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def load_models() -> MetaData:
    """Import every model module under ``redcat.store`` and return the shared metadata.

    Alembic's env and tests call this so that a domain's tables are known without the caller
    naming its module.
    """
    import redcat.store as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("db", "migrations") and not info.ispkg:
            importlib.import_module(f"redcat.store.{info.name}")
    return Base.metadata


def alembic_config(url: str | None = None) -> Any:
    """Return an Alembic ``Config`` for the packaged migrations, pointed at ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser interpolates '%'; URL-escaped passwords contain it.
    config.set_main_option("sqlalchemy.url", (url or DEFAULT_OPS_DB).replace("%", "%%"))
    return config


def upgrade(
    url: str | None = None, revision: str = "head", *, engine: Engine | None = None
) -> None:
    """Apply Alembic revisions up to ``revision`` (default head) on the store at ``url``.

    With ``engine`` given, migrate through it (needed for in-memory SQLite, whose data lives in
    the engine's one connection). Raises :class:`StoreError` when the database cannot be reached.
    """
    from alembic import command

    config = alembic_config(url)
    try:
        if engine is not None:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        else:
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StoreError(f"cannot migrate operational store {url!r}: {exc.orig}") from exc


def current_heads() -> tuple[str, ...]:
    """Return the head revision ids of the packaged migration chain (one when linear)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def open_store(url: str | None = None) -> tuple[Engine, sessionmaker[Session]]:
    """Open the operational store at ``url``, migrate it to head and return (engine, sessions)."""
    engine = make_engine(url)
    upgrade(url, engine=engine)
    return engine, session_factory(engine)
