"""The operational store's migration chain on a real PostgreSQL server (skipped when none
answers): every revision applies, the schema matches the models, auth works end to end.

``.ci/postgres.sh`` starts the server; the URL comes from ``REDCAT_TEST_PG_URL``. The test works
in a fresh schema that it drops afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from redcat.store import auth
from redcat.store.db import current_heads, load_models, make_engine, session_factory, upgrade

PG_URL = os.environ.get(
    "REDCAT_TEST_PG_URL", "postgresql+psycopg://redcat:redcat@127.0.0.1:5432/redcat_test"
)


def _reachable() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


pytestmark = pytest.mark.skipif(not _reachable(), reason=f"no PostgreSQL at {PG_URL}")


@pytest.fixture
def pg() -> Iterator[tuple[Engine, str]]:
    schema = f"store_{secrets.token_hex(4)}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_chain_to_head_matches_models_on_postgres(pg: tuple[Engine, str]) -> None:
    engine, url = pg
    upgrade(url)  # through the URL, as `redcat serve --ops-db postgresql+psycopg://...` does
    with engine.connect() as conn:
        version = conn.execute(text("select version_num from alembic_version")).scalar_one()
        diff = compare_metadata(MigrationContext.configure(conn), load_models())
    assert version == current_heads()[0]
    assert diff == []
    with session_factory(engine)() as db:
        auth.add_brand(db, "b1")
        auth.add_user(db, "pg-user", "long-password", auth.ROLE_BRAND_USER, "b1")
        secret, _ = auth.create_token(db, "pg-user", "t")
        db.commit()
        principal = auth.resolve_token(db, secret)
        assert principal is not None and principal.brand_id == "b1"
        assert auth.check_login(db, "pg-user", "long-password", "c") == principal
