"""A real PostgreSQL for the tests that need one (`.ci/postgres.sh` installs and starts it): its
URL, whether it answers, and a fresh schema per test so tests never see each other's rows."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import Engine

from redcat.store.db import make_engine, upgrade

PG_URL = os.environ.get(
    "REDCAT_TEST_PG_URL", "postgresql+psycopg://redcat:redcat@127.0.0.1:5432/redcat_test"
)


def reachable() -> bool:
    """True when a PostgreSQL server answers at :data:`PG_URL` within 2 seconds."""
    try:
        import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


#: Mark a test module with ``pytestmark = needs_postgres``.
needs_postgres = pytest.mark.skipif(not reachable(), reason=f"no PostgreSQL at {PG_URL}")


@contextmanager
def fresh_schema(prefix: str, *, migrate: bool = True) -> Iterator[tuple[Engine, str]]:
    """Yield an engine and URL on a new schema ``<prefix>_<random>`` (migrated to head unless
    ``migrate`` is false), dropped with everything in it afterwards."""
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    if migrate:
        upgrade(url, engine=engine)
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
