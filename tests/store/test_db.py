"""The operational store: migrations reach one head that matches the models, SQLite pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from redcat.errors import StoreError
from redcat.store.db import current_heads, load_models, make_engine, upgrade


def test_chain_has_one_head() -> None:
    assert len(current_heads()) == 1


def test_upgrade_creates_schema_matching_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), load_models())
        version = conn.execute(text("select version_num from alembic_version")).scalar_one()
    # Every model module's tables exist exactly as declared: a model change without a revision
    # (or a revision out of step with its model) fails here.
    assert diff == []
    assert version == current_heads()[0]
    assert {"brands", "users", "api_tokens", "web_sessions", "login_attempts"} <= set(
        inspect(engine).get_table_names()
    )
    upgrade(url)  # idempotent at head


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_in_memory_upgrade_through_engine() -> None:
    engine = make_engine("sqlite://")
    upgrade("sqlite://", engine=engine)
    assert "users" in inspect(engine).get_table_names()


def test_bad_url_is_store_error() -> None:
    with pytest.raises(StoreError):
        make_engine("not a url")
