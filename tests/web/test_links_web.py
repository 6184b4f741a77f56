"""种草直达 on the dashboard's host: the redirect and postback served by ``redcat serve``, the
links API and the links page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import World

from redcat.links.service import create_link
from redcat.store.db import make_engine, session_factory, session_scope
from redcat.store.links import Click


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
