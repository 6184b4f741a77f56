"""Logins, sessions, CSRF, rate limiting, the pages, and the brand scope of every route."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, World, bearer, last_week

from redcat.errors import StoreError
from redcat.store import auth as store_auth
from redcat.store.db import session_scope
from redcat.web.app import create_app
from redcat.web.pages import PAGES
from redcat.web.ranges import RangeBuilder, RangeKey
from redcat.web.snapshot import range_snapshots

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(world: World) -> FastAPI:
    return create_app(world.config)


def browser(app: FastAPI, address: str) -> TestClient:
    """A client from its own address, so rate limiting of one test never locks another."""
    return TestClient(app, client=(address, 50000))


def login(client: TestClient, user: str, password: str = PASSWORD) -> int:
    form = client.get("/login")
    token = CSRF_FIELD.search(form.text)
    assert token is not None
    answer = client.post(
        "/login",
        data={"username": user, "password": password, "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    return answer.status_code


@pytest.fixture
def alice(app: FastAPI, world: World, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with browser(app, f"10.0.1.{abs(hash(request.node.name)) % 250}") as c:
        assert login(c, f"user_{world.brands[0]}") == 303
        yield c


def test_login_page_then_pages_in_both_languages(alice: TestClient, world: World) -> None:
    a = world.brands[0]
    home = alice.get("/", follow_redirects=False)
    assert home.headers["location"] == f"/b/{a}/overview"
    for page in PAGES:
        zh = alice.get(f"/b/{a}/{page}", params={"lang": "zh"})
        assert zh.status_code == 200, page
        assert 'lang="zh-CN"' in zh.text and "数据更新于" in zh.text
        en = alice.get(f"/b/{a}/{page}", params={"lang": "en"})
        assert 'lang="en"' in en.text and "Data as of" in en.text
    # the language is remembered
    assert 'lang="en"' in alice.get(f"/b/{a}/overview").text
    assert 'lang="zh-CN"' in alice.get("/login", params={"lang": "zh"}).text


def test_pages_send_security_headers_and_no_cdn(alice: TestClient, world: World) -> None:
    page = alice.get(f"/b/{world.brands[0]}/overview")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text and "https://" not in page.text
    assert alice.get("/static/echarts.min.js").status_code == 200


def test_notes_table_sorts_searches_and_pages(alice: TestClient, world: World) -> None:
    a = world.brands[0]
    page = alice.get(f"/b/{a}/notes", params={"sort": "gmv", "order": "asc", "lang": "en"})
    assert page.status_code == 200 and "GMV ▲" in page.text
    creators = alice.get(f"/b/{a}/notes", params={"table": "creators", "q": "zzz-no-match"})
    assert "Page 1 of 1, 0 rows" in creators.text
    assert alice.get(f"/b/{a}/notes", params={"table": "credits"}).status_code == 200


def test_anonymous_pages_redirect_to_login(app: FastAPI, world: World) -> None:
    with browser(app, "10.0.2.1") as c:
        answer = c.get(f"/b/{world.brands[0]}/overview", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_login_needs_its_csrf_cookie(app: FastAPI, world: World) -> None:
    with browser(app, "10.0.2.2") as c:
        forged = c.post(
            "/login",
            data={"username": "op", "password": PASSWORD, "csrf": "guess", "next": "/"},
        )
        assert forged.status_code == 403


def test_wrong_password_then_lockout(app: FastAPI, world: World) -> None:
    limit = world.config.settings.web.login_max_failures
    with session_scope(app.state.sessions) as db:
        store_auth.add_user(db, "target", PASSWORD, store_auth.ROLE_OPERATOR)
    with browser(app, "10.0.2.3") as c:
        for _ in range(limit):
            assert login(c, "target", "wrong-password") == 401
        # locked even with the right password, until the window passes
        assert login(c, "target") == 429
    with browser(app, "10.0.2.4") as other:
        # the user name is locked too, from any address
        assert login(other, "target") == 429


def test_logout_needs_csrf_and_ends_the_session(alice: TestClient, world: World) -> None:
    a = world.brands[0]
    assert alice.post("/logout", data={"csrf": "wrong"}).status_code == 403
    page = alice.get(f"/b/{a}/overview")
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    assert (
        alice.post("/logout", data={"csrf": token.group(1)}, follow_redirects=False).status_code
        == 303
    )
    assert alice.get(f"/b/{a}/overview", follow_redirects=False).status_code == 303


def test_cookie_posts_to_the_api_need_csrf(app: FastAPI, world: World) -> None:
    with browser(app, "10.0.2.5") as c:
        assert login(c, "op") == 303
        assert c.post("/api/v1/admin/refresh").status_code == 403


# Path parameter values used to call every route.
SAMPLE = {
    "table": "notes",
    "chart": "trend",
    "name": "notes.csv",
    "page": "overview",
    "token_id": "1",
}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/login",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/docs/assets",  # Swagger UI's own files
    "/redoc",
    "/static/echarts.min.js",
    "/favicon.ico",
    "/static",
    "/l/{token}",  # 种草直达: the signed token is the authority, no login
    "/postback",  # retailers sign their postbacks with their own keys
}
SELF = {"/api/v1/me", "/api/v1/brands", "/", "/brands", "/logout"}
ADMIN_PREFIXES = ("/api/v1/admin/", "/admin")


def all_routes(routes: list[Any]) -> list[Any]:
    """Flatten the app's routes (FastAPI may keep an included router as one entry)."""
    flat: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        flat.extend(all_routes(inner.routes) if inner is not None else [route])
    return flat


def test_every_route_refuses_another_brand(app: FastAPI, world: World) -> None:
    """Walk ALL routes as brand A (token, then session cookie) aimed at brand B: each brand
    route answers 403 or 404 — also when it asks for a date range of B, which must not even be
    queued for building — admin routes 403, and the self routes never mention B."""
    a, b = world.brands
    first, last = last_week(world, b)
    ranged = f"?start={first.isoformat()}&end={last.isoformat()}"
    builds = app.state.ranges.builds
    walked = 0
    with browser(app, "10.0.3.1") as cookie_client:
        assert login(cookie_client, f"user_{a}") == 303
        page = cookie_client.get(f"/b/{a}/overview")
        csrf_match = CSRF_FIELD.search(page.text)
        assert csrf_match is not None
        csrf = csrf_match.group(1)
        token_client = browser(app, "10.0.3.2")
        token_headers = bearer(world, f"user_{a}")
        for route in all_routes(app.routes):
            path = getattr(route, "path", "")
            methods = sorted(getattr(route, "methods", None) or {"GET"})
            if path in PUBLIC or path.startswith("/static"):
                continue
            for method in methods:
                if method == "HEAD":
                    continue
                url = path.replace("{brand_id}", b)
                for key, value in SAMPLE.items():
                    url = url.replace("{" + key + "}", value)
                assert "{" not in url, f"no sample value for a parameter of {path}"
                urls = [url, url + ranged] if "{brand_id}" in path else [url]
                answers = [
                    answer
                    for target in urls
                    for answer in (
                        token_client.request(
                            method, target, headers=token_headers, follow_redirects=False
                        ),
                        cookie_client.request(
                            method, target, headers={"X-CSRF-Token": csrf}, follow_redirects=False
                        ),
                    )
                ]
                for answer in answers:
                    if "{brand_id}" in path or path.startswith(ADMIN_PREFIXES):
                        assert answer.status_code in (403, 404), (method, path, answer.status_code)
                    elif path in SELF:
                        assert b not in answer.text, (method, path)
                    else:
                        pytest.fail(f"route {method} {path} is not classified for this test")
                walked += 1
        token_client.close()
    assert walked >= 12
    assert app.state.ranges.wait_idle(0) and app.state.ranges.builds == builds
    assert range_snapshots(world.config.report_dir, b) == []
    assert any(isinstance(r, APIRoute) and "{brand_id}" in r.path for r in all_routes(app.routes))


def test_operator_pages(app: FastAPI, world: World) -> None:
    with browser(app, "10.0.4.1") as c:
        assert login(c, "op") == 303
        assert c.get("/", follow_redirects=False).headers["location"] == "/admin"
        page = c.get("/admin")
        assert page.status_code == 200 and "Match runs" in page.text
        csrf_match = CSRF_FIELD.search(page.text)
        assert csrf_match is not None
        csrf = csrf_match.group(1)
        wrong = {"brand_id": "ADM1", "csrf": "wrong"}
        assert c.post("/admin/brands", data=wrong).status_code == 403
        assert c.post("/admin/brands", data={"brand_id": "ADM1", "csrf": csrf}).status_code == 200
        made = c.post(
            "/admin/users",
            data={
                "username": "adm-user",
                "password": "adm-password",
                "brand_id": "ADM1",
                "csrf": csrf,
            },
        )
        assert made.status_code == 200 and "adm-user" in made.text
        short = c.post(
            "/admin/users",
            data={"username": "x", "password": "short", "brand_id": "ADM1", "csrf": csrf},
        )
        assert short.status_code == 400 and "8 characters" in short.text
        token = c.post("/admin/tokens", data={"username": "adm-user", "csrf": csrf})
        secret = re.search(r"<code>(rct_[^<]+)</code>", token.text)
        assert secret is not None
        with browser(app, "10.0.4.2") as api:
            me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
            assert me.json()["brand_id"] == "ADM1"


def test_range_pages_say_they_are_preparing_then_show_the_range(world: World) -> None:
    """A range not built yet: a notice (zh and en) that reloads itself, 202; an invalid range:
    a notice, 400; the filter bar offers 近7天 / 近14天 / 全部."""
    a = world.brands[0]
    gate = threading.Event()
    asked: list[RangeKey] = []

    def build(key: RangeKey) -> Path:
        asked.append(key)
        gate.wait(10)
        raise StoreError("not built in this test")

    app = create_app(world.config)
    app.state.ranges = RangeBuilder(world.config, build=build)
    first, _last = last_week(world, a)
    days = {"start": first.isoformat(), "end": first.isoformat()}
    try:
        with browser(app, "10.0.5.1") as c:
            assert login(c, f"user_{a}") == 303
            zh = c.get(f"/b/{a}/funnel", params={**days, "lang": "zh"})
            assert zh.status_code == 202 and "正在为这个日期区间准备数据" in zh.text
            assert '<meta http-equiv="refresh" content="2">' in zh.text
            assert f'value="{first.isoformat()}"' in zh.text  # the inputs keep the range
            en = c.get(f"/b/{a}/funnel", params={**days, "lang": "en"})
            assert en.status_code == 202 and "Preparing the figures for this date range" in en.text
            assert asked == [RangeKey(a, "all", first, first)]  # asked twice, queued once
            bad = c.get(f"/b/{a}/funnel", params={"start": "2001-01-01", "lang": "en"})
            assert bad.status_code == 400 and "Invalid date range" in bad.text
            assert "http-equiv" not in bad.text
            whole = c.get(f"/b/{a}/overview", params={"lang": "zh"})
            for key in ("7", "14", "all"):
                assert f'id="preset-{key}"' in whole.text
            assert "近7天" in whole.text and "只发生了这些天的" in whole.text
    finally:
        gate.set()
        app.state.ranges.close()


def test_docs_load_swagger_ui_from_this_server(app: FastAPI) -> None:
    with TestClient(app) as c:
        docs = c.get("/docs")
        assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
        assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", docs.text), docs.text
        for asset in re.findall(r'(?:href|src)="(/docs/assets/[^"]+)"', docs.text):
            assert c.get(asset).status_code == 200, asset
        assert c.get("/redoc").status_code == 404
