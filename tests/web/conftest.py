"""A small simulated world measured once per test session: store, report snapshots, an
operational store with two brand users, an operator and their API tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from redcat.engine import open_engine
from redcat.ingest.load import ingest_party
from redcat.match import run_direct_match
from redcat.report.assemble import load_truth
from redcat.settings import Settings, WebSettings
from redcat.simulate import WorldConfig, simulate_world
from redcat.store import auth as store_auth
from redcat.store.db import make_engine, session_factory, session_scope, upgrade
from redcat.web.app import create_app
from redcat.web.config import WebConfig
from redcat.web.snapshot import refresh

PASSWORD = "s3cret-passw0rd"


@dataclass(frozen=True)
class World:
    """Paths and credentials of the session's world. ``brands``: the two brands with users;
    ``tokens``: bearer token per user name (``user_<brand>`` and ``op``)."""

    root: Path
    config: WebConfig
    brands: tuple[str, str]
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("webworld")
    world_dir = root / "world"
    store = root / "redcat.duckdb"
    simulate_world(
        WorldConfig(users=3000, days=20, brands=2, retailers=2, seed=11), world_dir, fmt="parquet"
    )
    # The exact operator view: these tests check figures, filters and routes; the brand view
    # (released figures, privacy budget) has its own world in test_brand_view.py.
    settings = Settings(store=store, web=WebSettings(view="operator"))
    with open_engine(store) as engine:
        ingest_party(engine.duck, "content", world_dir / "content")
        for rdir in sorted(p for p in (world_dir / "retailers").iterdir() if p.is_dir()):
            ingest_party(engine.duck, "retailer", rdir, retailer_id=rdir.name)
        run_direct_match(engine.duck, settings.match_salt)
    reports = root / "reports"
    result = refresh(
        store, reports, settings, truth=load_truth(world_dir / "truth" / "note_truth.csv")
    )
    brands = result.brands
    assert len(brands) == 2
    ops = f"sqlite:///{root / 'ops.db'}"
    engine = make_engine(ops)
    upgrade(ops, engine=engine)
    tokens: dict[str, str] = {}
    with session_scope(session_factory(engine)) as db:
        for brand in brands:
            store_auth.add_brand(db, brand)
            name = f"user_{brand}"
            store_auth.add_user(db, name, PASSWORD, store_auth.ROLE_BRAND_USER, brand)
            tokens[name] = store_auth.create_token(db, name, "tests")[0]
        store_auth.add_user(db, "op", PASSWORD, store_auth.ROLE_OPERATOR)
        tokens["op"] = store_auth.create_token(db, "op", "tests")[0]
    engine.dispose()
    config = WebConfig(store=store, ops_db=ops, report_dir=reports, settings=settings)
    return World(root, config, (brands[0], brands[1]), tokens)


@pytest.fixture(scope="session")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.config)) as c:
        yield c


def bearer(world: World, user: str) -> dict[str, str]:
    """Authorization header of ``user``'s token."""
    return {"Authorization": f"Bearer {world.tokens[user]}"}


def last_week(world: World, brand: str) -> tuple[date, date]:
    """The last 7 days of ``brand``'s data period (the dashboard's 近7天 preset): the one range
    the web tests build, so they share its range snapshot."""
    from redcat.web.snapshot import read_meta, scope_folder

    meta = read_meta(scope_folder(world.config.report_dir, brand, "all"))
    end = date.fromisoformat(meta["period_end"])
    return end - timedelta(days=6), end


def until_ready(client: TestClient, url: str, timeout: float = 120.0, **kwargs: Any) -> Any:
    """GET ``url`` until it stops answering 202 (a date range being prepared); return the last
    answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(url, **kwargs)
        if answer.status_code != 202 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
