"""Shared fixtures: a migrated SQLite operational store in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from redcat.store.db import make_engine, upgrade


@pytest.fixture
def ops_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


@pytest.fixture
def ops_engine(ops_url: str) -> Iterator[Engine]:
    engine = make_engine(ops_url)
    upgrade(ops_url, engine=engine)
    yield engine
    engine.dispose()
