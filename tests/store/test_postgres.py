"""The operational store's migration chain on a real PostgreSQL server (skipped when none
answers): every revision applies, the schema matches the models, auth works end to end.

``.ci/postgres.sh`` starts the server; the URL comes from ``REDCAT_TEST_PG_URL``. The test works
in a fresh schema that it drops afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from tests.pg import fresh_schema, needs_postgres

from redcat.store import auth
from redcat.store.db import current_heads, load_models, session_factory, upgrade

pytestmark = needs_postgres


@pytest.fixture
def pg() -> Iterator[tuple[Engine, str]]:
    with fresh_schema("store", migrate=False) as (engine, url):
        yield engine, url


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
