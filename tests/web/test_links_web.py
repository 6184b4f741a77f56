"""种草直达 on the dashboard's host: the redirect and postback served by ``redcat serve``, the
links API and the links page."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import duckdb
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import PASSWORD, World, bearer
from tests.web.test_auth_pages import CSRF_FIELD

from redcat.links.service import create_link
from redcat.store.db import make_engine, session_factory, session_scope
from redcat.store.links import Click
from redcat.web.app import create_app


def test_dashboard_serves_the_redirect(client: TestClient, world: World) -> None:
    engine = make_engine(world.config.ops_db)
    try:
        with session_scope(session_factory(engine)) as db:
            link = create_link(
                db,
                brand_id=world.brands[0],
                note_id="n-redirect",
                retailer_id="tmall",
                url="https://detail.tmall.com/item.htm?id=7",
                settings=world.config.settings.links,
            )
        answer = client.get(
            f"/l/{link.token}", headers={"user-agent": "Mozilla/5.0"}, follow_redirects=False
        )
        assert answer.status_code == 302
        location = urlsplit(answer.headers["location"])
        assert location.netloc == "detail.tmall.com"
        query = parse_qs(location.query)
        assert query["id"] == ["7"]
        click_id = query[world.config.settings.links.click_param][0]
        with session_factory(engine)() as db:
            logged = db.scalars(select(Click).where(Click.link_id == link.link_id)).all()
        assert [c.click_id for c in logged] == [click_id]
        assert logged[0].note_id == "n-redirect"
        # a tampered token is not found and logs nothing
        bad = link.token[:-2] + ("AA" if not link.token.endswith("AA") else "BB")
        assert client.get(f"/l/{bad}", follow_redirects=False).status_code == 404
        # an unsigned postback is refused, not a server error, and the dashboard still wins
        assert client.post("/postback", content=b"{}").status_code in (400, 401, 403)
        assert client.get("/healthz").json()["status"] == "ok"
    finally:
        engine.dispose()


def _note_of(world: World, brand: str) -> str:
    con = duckdb.connect(str(world.config.store), read_only=True)
    try:
        row = con.execute("SELECT min(note_id) FROM notes WHERE brand_id = ?", [brand]).fetchone()
    finally:
        con.close()
    assert row is not None and row[0] is not None
    return str(row[0])


def test_api_creates_and_lists_links(client: TestClient, world: World) -> None:
    a, b = world.brands
    headers = bearer(world, f"user_{a}")
    body = {
        "note_id": _note_of(world, a),
        "retailer_id": "jd",
        "url": "https://item.jd.com/100.html",
    }
    made = client.post(f"/api/v1/brands/{a}/links", json=body, headers=headers)
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["brand_id"] == a and link["destination"] == "https://item.jd.com/100.html"
    token = link["url"].rsplit("/l/", 1)[1]
    for agent in ("Mozilla/5.0 (iPhone)", "Googlebot/2.1"):
        hop = client.get(f"/l/{token}", headers={"user-agent": agent}, follow_redirects=False)
        assert hop.status_code == 302
    listed = client.get(f"/api/v1/brands/{a}/links", headers=headers)
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["link_id"] == link["link_id"])
    # the bot's hop is not a click; no orders yet, so conversion is 0 of 1 click
    assert (row["clicks"], row["unique_clickers"], row["orders"]) == (1, 1, 0)
    assert row["gmv"] == 0.0 and row["conversion_rate"] == 0.0
    # another brand's note, an off-list host, an unknown retailer: 422, nothing created
    bad_bodies = [
        {**body, "note_id": _note_of(world, b)},
        {**body, "note_id": "no-such-note"},
        {**body, "url": "https://evil.example.com/x"},
        {**body, "url": "http://item.jd.com/100.html"},
        {**body, "retailer_id": "nowhere"},
    ]
    for bad in bad_bodies:
        answer = client.post(f"/api/v1/brands/{a}/links", json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
    after = client.get(f"/api/v1/brands/{a}/links", headers=headers).json()
    assert len(after) == len(listed.json())
    # brand b's user neither sees nor creates brand a's links
    other = bearer(world, f"user_{b}")
    assert client.get(f"/api/v1/brands/{a}/links", headers=other).status_code == 404
    assert client.post(f"/api/v1/brands/{a}/links", json=body, headers=other).status_code == 404


def test_links_page_lists_and_creates(world: World) -> None:
    a, b = world.brands
    app = create_app(world.config)
    with TestClient(app, client=("10.0.9.1", 50000)) as c:
        form = c.get("/login")
        login_csrf = CSRF_FIELD.search(form.text)
        assert login_csrf is not None
        logged = c.post(
            "/login",
            data={
                "username": f"user_{a}",
                "password": PASSWORD,
                "csrf": login_csrf.group(1),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert logged.status_code == 303
        page = c.get(f"/b/{a}/links?lang=en")
        assert page.status_code == 200
        assert 'data-page="links"' in page.text and "Unique clickers" in page.text
        assert "独立点击人" in c.get(f"/b/{a}/links?lang=zh").text
        found = CSRF_FIELD.search(page.text)
        assert found is not None
        fields = {
            "note_id": _note_of(world, a),
            "retailer_id": "vip",
            "url": "https://detail.vip.com/p-9.html",
        }
        # without the CSRF token: refused, nothing created
        assert c.post(f"/b/{a}/links", data=fields, follow_redirects=False).status_code == 403
        made = c.post(
            f"/b/{a}/links", data={**fields, "csrf": found.group(1)}, follow_redirects=False
        )
        assert made.status_code == 303
        assert "created=" in made.headers["location"]
        shown = c.get(made.headers["location"])
        assert "https://detail.vip.com/p-9.html" in shown.text
        assert shown.text.count("data-link=") == len(c.get(f"/api/v1/brands/{a}/links").json())
        # another brand's note is refused with the reason on the page
        refused = c.post(
            f"/b/{a}/links",
            data={**fields, "note_id": _note_of(world, b), "csrf": found.group(1)},
        )
        assert refused.status_code == 200 and 'id="link-error"' in refused.text
        # another brand's page and form are not found
        assert c.get(f"/b/{b}/links").status_code == 404
        other = c.post(f"/b/{b}/links", data={**fields, "csrf": found.group(1)})
        assert other.status_code == 404


def test_shutdown_stops_the_click_log(world: World) -> None:
    def checkpointers() -> int:
        return sum(t.name == "redcat-links-checkpoint" for t in threading.enumerate())

    before = checkpointers()
    with TestClient(create_app(world.config)) as c:
        assert c.get("/l/not-a-token", follow_redirects=False).status_code == 404
    assert checkpointers() <= before
