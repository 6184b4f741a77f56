"""The dashboard in the brand view: every snapshot is one release from the brand's privacy budget
in the operational store, repeated refreshes of unchanged data spend nothing, a refused release
keeps the figures released before, and pages and API say which view and how much budget is left.

The session's world (conftest) is reused read-only; these tests write their own snapshots and
operational store, with a threshold of k = 5 people so that the small world has released cells.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, World, last_week, until_ready
from tests.web.test_browser import ARTIFACTS, CHROMIUM, _free_port

from redcat.errors import StoreError
from redcat.links.service import create_link
from redcat.privacy.ledger import BudgetLedger
from redcat.settings import PrivacySettings, Settings, WebSettings
from redcat.store import auth as store_auth
from redcat.store.db import make_engine, session_factory, session_scope, upgrade
from redcat.web.api import seconds_to_next_period
from redcat.web.app import create_app
from redcat.web.config import WebConfig
from redcat.web.snapshot import (
    ALL,
    HELD_CAVEAT,
    build_range,
    load_snapshot,
    on_demand_scopes,
    read_meta,
    refresh,
    scope_folder,
    scopes_of,
)

REPORT_EPSILON = 2.0  # PrivacySettings().release_epsilon["report"]


def brand_settings(world: World, budget: float = 10.0) -> Settings:
    privacy = PrivacySettings(k=5, epsilon_per_period=budget)
    return Settings(store=world.config.store, privacy=privacy, web=WebSettings(view="brand"))


def clock(year: int, month: int) -> datetime:
    return datetime(year, month, 15, 12, tzinfo=UTC)


def ledger(budget: float, month: int = 11) -> BudgetLedger:
    return BudgetLedger.in_memory(
        PrivacySettings(k=5, epsilon_per_period=budget), clock=lambda: clock(2026, month)
    )


def test_refresh_releases_all_retailers_once_and_repeats_for_free(
    world: World, tmp_path: Path
) -> None:
    settings = brand_settings(world)
    book = ledger(10.0)
    out = tmp_path / "reports"
    first = refresh(world.config.store, out, settings, ledger=book)
    brand = world.brands[0]
    # one release (2 ε): all retailers; each retailer is released when first opened
    assert first.scopes[brand] == (ALL,) and first.held == {}
    assert scopes_of(out, brand) == [ALL, "jd", "tmall"]
    assert on_demand_scopes(out, brand) == ["jd", "tmall"]
    assert (book.status(brand).spent, book.status(brand).releases) == (REPORT_EPSILON, 1)
    data = load_snapshot(scope_folder(out, brand, ALL))
    assert data.view == "brand" and "models" in data.withheld
    assert data.kpi_modes and "funnel" in data.captions
    assert data.model_scores["credited_orders"].isna().all() and data.credits.empty
    assert data.truth is None
    # a retailer opened: its whole period, built like a range, one more release
    period = (data.period_start, data.period_end)
    folder = build_range(world.config.store, out, brand, "jd", period, settings, ledger=book)
    jd = load_snapshot(folder)
    assert jd.view == "brand" and jd.retailers == ("jd",)
    assert (jd.period_start, jd.period_end) == period
    assert not any("Date range" in n for n in jd.notes_md)  # the whole period is no range
    assert book.status(brand).spent == 2 * REPORT_EPSILON
    # the same data asked again this month: the stored answers, nothing spent
    second = refresh(world.config.store, out, settings, ledger=book)
    assert second.held == {} and book.status(brand).spent == 2 * REPORT_EPSILON
    again = load_snapshot(scope_folder(out, brand, ALL))
    assert again.kpis == data.kpis
    pd.testing.assert_frame_equal(again.funnel, data.funnel)
    build_range(world.config.store, out, brand, "jd", period, settings, ledger=book)
    assert book.status(brand).spent == 2 * REPORT_EPSILON
    with pytest.raises(StoreError):  # not a retailer of this store
        build_range(world.config.store, out, brand, "nope", period, settings, ledger=book)


def test_a_refused_release_keeps_the_figures_released_before(world: World, tmp_path: Path) -> None:
    settings = brand_settings(world)
    out = tmp_path / "reports"
    brand = world.brands[0]
    refresh(world.config.store, out, settings, ledger=ledger(10.0, month=10))
    before = load_snapshot(scope_folder(out, brand, ALL))
    # a new month whose budget covers no release: the figures released before are kept
    tight = ledger(1.0, month=11)
    result = refresh(world.config.store, out, settings, ledger=tight)
    assert result.held[brand] == (ALL,) and result.scopes[brand] == (ALL,)
    assert tight.status(brand).spent == 0
    kept = load_snapshot(scope_folder(out, brand, ALL))
    assert kept.kpis == before.kpis and kept.generated_at == before.generated_at
    caveat = HELD_CAVEAT.format(period="2026-11", released=before.generated_at.date())
    assert caveat in kept.notes_md
    assert read_meta(scope_folder(out, brand, ALL))["held_since"] == str(before.generated_at.date())
    # held again: the caveat is not repeated
    refresh(world.config.store, out, settings, ledger=tight)
    kept_again = load_snapshot(scope_folder(out, brand, ALL))
    assert sum(n.startswith("Privacy budget: ") for n in kept_again.notes_md) == 1


def test_a_refused_release_with_nothing_before_leaves_the_brand_out(
    world: World, tmp_path: Path
) -> None:
    settings = brand_settings(world)
    brand = world.brands[0]
    none = tmp_path / "none"
    empty = refresh(world.config.store, none, settings, ledger=ledger(1.0))
    assert empty.brands == () and empty.held[brand] == (ALL,)
    assert scopes_of(none, brand) == []


def test_the_cli_refresh_spends_from_the_operational_store(world: World, tmp_path: Path) -> None:
    from redcat.cli.main import main

    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    out = tmp_path / "reports"
    brand = world.brands[1]
    args = ["refresh", "--store", str(world.config.store), "--reports", str(out)]
    args += ["--brand", brand, "--no-per-retailer", "--ops-db", ops]
    assert main(args) == 0
    assert load_snapshot(scope_folder(out, brand, ALL)).view == "brand"
    book = BudgetLedger.open(ops)
    try:
        assert book.status(brand).spent == REPORT_EPSILON
        assert main(args) == 0  # unchanged data: the stored answer
        assert book.status(brand).spent == REPORT_EPSILON
    finally:
        book.engine.dispose()
    assert main([*args[:-2], "--view", "operator"]) == 0
    assert load_snapshot(scope_folder(out, brand, ALL)).view == "operator"


@pytest.fixture(scope="module")
def brand_app(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[WebConfig, str]:
    root = tmp_path_factory.mktemp("brandview")
    ops = f"sqlite:///{root / 'ops.db'}"
    engine = make_engine(ops)
    upgrade(ops, engine=engine)
    brand = world.brands[0]
    with session_scope(session_factory(engine)) as db:
        for b in world.brands:
            store_auth.add_brand(db, b)
            store_auth.add_user(db, f"u_{b}", PASSWORD, store_auth.ROLE_BRAND_USER, b)
    engine.dispose()
    # a budget of four releases: the refresh spends one (all retailers), the rest a retailer
    # and date ranges
    settings = dataclasses.replace(
        brand_settings(world, budget=4 * REPORT_EPSILON),
        web=WebSettings(view="brand", watch_seconds=0),
    )
    config = WebConfig(world.config.store, ops, root / "reports", settings)
    refresh(config.store, config.report_dir, config.report_settings)
    return config, brand


def login(client: TestClient, user: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_pages_and_api_say_the_view_and_spend_the_budget_on_ranges(
    brand_app: tuple[WebConfig, str], world: World
) -> None:
    config, brand = brand_app
    with TestClient(create_app(config)) as client:
        login(client, f"u_{brand}")
        meta = client.get(f"/api/v1/brands/{brand}").json()
        assert meta["view"] == "brand" and "models" in meta["withheld"]
        budget = client.get(f"/api/v1/brands/{brand}/privacy/budget").json()
        assert (budget["spent"], budget["remaining"]) == (REPORT_EPSILON, 3 * REPORT_EPSILON)
        assert budget["releases_left"]["report"] == 3 and budget["view"] == "brand"
        assert meta["scopes"] == [ALL, "jd", "tmall"]  # retailers offered, released when opened
        kpis = client.get(f"/api/v1/brands/{brand}/kpis").json()
        assert kpis["modes"]["impressions"].startswith("精确")  # the platform's own data
        overview = client.get(f"/b/{brand}/overview")
        assert "品牌视图" in overview.text and 'id="budget"' in overview.text
        assert "剩余 6 / 8 ε，还可发布 3 个新视图" in overview.text
        assets = client.get(f"/b/{brand}/assets")
        assert "品牌视图不含此项" in assets.text  # withheld, not "not measured"
        models = client.get(f"/b/{brand}/models")
        assert 'id="withheld"' in models.text and "chart-models" not in models.text
        # a retailer opened for the first time: prepared, then released (2 ε)
        jd = f"/api/v1/brands/{brand}/kpis?scope=jd"
        first_answer = client.get(jd)
        assert first_answer.status_code == 202
        assert until_ready(client, jd).status_code == 200
        assert client.get(f"/b/{brand}/funnel?scope=jd").status_code == 200
        jd_meta = client.get(f"/api/v1/brands/{brand}?scope=jd").json()
        assert jd_meta["retailers"] == ["jd"] and jd_meta["view"] == "brand"
        # a date range is a new release: 2 ε
        first, last = last_week(world, brand)
        url = f"/api/v1/brands/{brand}/kpis?start={first}&end={last}"
        assert until_ready(client, url).status_code == 200
        after = client.get(f"/api/v1/brands/{brand}/privacy/budget").json()
        assert after["spent"] == 3 * REPORT_EPSILON
        # opening it again (or its page) costs nothing
        assert client.get(url).status_code == 200
        page = client.get(f"/b/{brand}/overview?start={first}&end={last}")
        assert page.status_code == 200 and "剩余 2 / 8 ε" in page.text
        # the last release the budget allows, then a refusal that spends nothing
        second = f"/api/v1/brands/{brand}/kpis?start={first}&end={first}"
        assert until_ready(client, second).status_code == 200
        third = f"/api/v1/brands/{brand}/kpis?start={last}&end={last}"
        refused = until_ready(client, third)
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["status"] == "refused" and "budget" in body["message"]
        assert 0 < int(refused.headers["Retry-After"]) <= 31 * 86400
        spent = client.get(f"/api/v1/brands/{brand}/privacy/budget").json()
        assert (spent["spent"], spent["releases_left"]["report"]) == (4 * REPORT_EPSILON, 0)
        notice = client.get(f"/b/{brand}/overview?start={last}&end={last}")
        assert notice.status_code == 403 and "本月隐私预算不足" in notice.text
        # another brand's budget is not this user's to see
        other = world.brands[1]
        assert client.get(f"/api/v1/brands/{other}/privacy/budget").status_code in (403, 404)


def test_links_withhold_what_the_retailers_report_back(
    brand_app: tuple[WebConfig, str], world: World
) -> None:
    config, brand = brand_app
    engine = make_engine(config.ops_db)
    try:
        with session_scope(session_factory(engine)) as db:
            create_link(
                db,
                brand_id=brand,
                note_id="n-brand-view",
                retailer_id="tmall",
                url="https://detail.tmall.com/item.htm?id=9",
                settings=config.settings.links,
            )
    finally:
        engine.dispose()
    with TestClient(create_app(config)) as client:
        login(client, f"u_{brand}")
        (row,) = client.get(f"/api/v1/brands/{brand}/links").json()
        assert row["clicks"] == 0  # the brand's own redirect log: exact
        assert [row[k] for k in ("store_visits", "orders", "gmv", "conversion_rate")] == [None] * 4
        page = client.get(f"/b/{brand}/links")
        assert page.status_code == 200 and 'id="links-withheld"' in page.text


def test_seconds_to_next_period() -> None:
    assert seconds_to_next_period(datetime(2026, 11, 30, 23, 59, 0, tzinfo=UTC)) == 60
    assert seconds_to_next_period(datetime(2026, 12, 31, 0, 0, 0, tzinfo=UTC)) == 86400
    assert seconds_to_next_period(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)) == 31 * 86400


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_the_brand_view_in_a_browser(brand_app: tuple[WebConfig, str]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    config, brand = brand_app
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/login")
            page.fill("input[name=username]", f"u_{brand}")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login-form button[type=submit]")
            # "commit": the charts-ready mark below says the page has loaded
            page.wait_for_url(
                lambda url: urlsplit(url).path == f"/b/{brand}/overview", wait_until="commit"
            )
            page.wait_for_selector("html[data-charts-ready='1']", state="attached")
            assert "品牌视图" in page.inner_text("#view")
            assert "隐私预算" in page.inner_text("#budget")
            page.screenshot(path=str(ARTIFACTS / "overview-brand-zh.png"), full_page=True)
            page.goto(f"{base}/b/{brand}/funnel")
            page.wait_for_selector("html[data-charts-ready='1']", state="attached")
            with page.expect_navigation():
                page.click("#lang-switch")
            page.wait_for_selector("html[data-charts-ready='1']", state="attached")
            assert "brand view" in page.inner_text("#view")
            assert "Privacy budget" in page.inner_text("#budget")
            page.screenshot(path=str(ARTIFACTS / "funnel-brand-en.png"), full_page=True)
            page.goto(f"{base}/b/{brand}/models")
            assert page.locator("#withheld").count() == 1
            assert errors == []
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
