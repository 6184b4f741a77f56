"""A small simulated world, ingested and matched once per test session (two brands)."""

from __future__ import annotations

from pathlib import Path

import pytest

from redcat.engine import open_engine
from redcat.ingest.load import ingest_party
from redcat.match import run_direct_match
from redcat.settings import Settings
from redcat.simulate import WorldConfig, simulate_world


@pytest.fixture(scope="session")
def world_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacyworld")
    world_dir = root / "world"
    store = root / "redcat.duckdb"
    simulate_world(
        WorldConfig(users=4000, days=20, brands=2, retailers=2, seed=5), world_dir, fmt="parquet"
    )
    with open_engine(store) as engine:
        ingest_party(engine.duck, "content", world_dir / "content")
        for rdir in sorted(p for p in (world_dir / "retailers").iterdir() if p.is_dir()):
            ingest_party(engine.duck, "retailer", rdir, retailer_id=rdir.name)
        run_direct_match(engine.duck, Settings().match_salt)
    return store
