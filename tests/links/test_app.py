"""The redirect service and postbacks through Starlette's test client."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, func, select

with warnings.catch_warnings():  # Starlette 1.x nags about httpx (it prefers httpx2)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from redcat.links.app import create_links_app
from redcat.links.postback import postback_headers
from redcat.links.service import LinkInfo, add_key, create_link, retire_key, set_link_active
from redcat.settings import LinksSettings
from redcat.store.db import session_factory, session_scope
from redcat.store.links import Click, PostbackNonce, PostbackOrder, PostbackVisit

SETTINGS = LinksSettings(burst_clicks=3, burst_seconds=60.0)
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def client(ops_engine: Engine) -> Iterator[TestClient]:
    app = create_links_app(ops_engine, SETTINGS, keyring_ttl_seconds=0.0, link_cache_seconds=0.0)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def _link(engine: Engine, retailer: str = "tmall") -> LinkInfo:
    url = {"tmall": "https://detail.tmall.com/i.htm?id=7#d", "jd": "https://item.jd.com/1.html"}
    with session_scope(session_factory(engine)) as s:
        return create_link(
            s,
            brand_id="b1",
            note_id="n1",
            retailer_id=retailer,
            url=url[retailer],
            settings=SETTINGS,
        )


def _clicks(engine: Engine) -> list[Click]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(Click).order_by(Click.ts)))


def test_redirect_logs_click_then_302(client: TestClient, ops_engine: Engine) -> None:
    link = _link(ops_engine)
    r = client.get(f"/l/{link.token}", headers={"user-agent": PHONE})
    assert r.status_code == 302
    loc = urlsplit(r.headers["location"])
    assert (loc.netloc, loc.path, loc.fragment) == ("detail.tmall.com", "/i.htm", "d")
    query = parse_qs(loc.query)
    assert query["id"] == ["7"]
    [click] = _clicks(ops_engine)
    assert query["rc_click"] == [click.click_id]
    assert (click.link_id, click.note_id, click.ua_class) == (link.link_id, "n1", "mobile")
    assert not click.is_bot and click.bot_reason is None
    assert len(click.ip_hash) == 32 and "testclient" not in click.ip_hash
    assert abs((datetime.now(UTC).replace(tzinfo=None) - click.ts).total_seconds()) < 5


def test_bad_tampered_disabled_and_retired_tokens_are_404_and_log_nothing(
    client: TestClient, ops_engine: Engine
) -> None:
    link = _link(ops_engine)
    tampered = link.token[:-1] + ("A" if link.token[-1] != "A" else "B")
    for token in ("nope", tampered, link.token + "A", "x" * 300):
        assert client.get(f"/l/{token}").status_code == 404
    with session_scope(session_factory(ops_engine)) as s:
        set_link_active(s, link.link_id, False)
    assert client.get(f"/l/{link.token}").status_code == 404
    with session_scope(session_factory(ops_engine)) as s:
        set_link_active(s, link.link_id, True)
        add_key(s, "link")
    assert client.get(f"/l/{link.token}", headers={"user-agent": PHONE}).status_code == 302
    with session_scope(session_factory(ops_engine)) as s:
        retire_key(s, link.token and _kid_of_link(s, link.link_id))
    assert client.get(f"/l/{link.token}").status_code == 404
    assert len(_clicks(ops_engine)) == 1


def _kid_of_link(session: object, link_id: str) -> str:
    from sqlalchemy.orm import Session

    from redcat.store.links import Link

    assert isinstance(session, Session)
    row = session.get(Link, link_id)
    assert row is not None
    return row.kid


def test_head_and_oversized_postback_log_nothing(client: TestClient, ops_engine: Engine) -> None:
    link = _link(ops_engine)
    assert client.head(f"/l/{link.token}", headers={"user-agent": PHONE}).status_code == 405
    assert client.post("/postback", content=b"x" * (65 * 1024)).status_code == 413
    assert _clicks(ops_engine) == []


def test_bots_flagged_not_counted(client: TestClient, ops_engine: Engine) -> None:
    link = _link(ops_engine)
    assert client.get(f"/l/{link.token}", headers={"user-agent": "curl/8"}).status_code == 302
    # Burst limit: 3 clicks per source per minute, the curl click included; clicks 4 and 5
    # from the same address are a burst.
    for _ in range(4):
        assert client.get(f"/l/{link.token}", headers={"user-agent": PHONE}).status_code == 302
    reasons = [c.bot_reason for c in _clicks(ops_engine)]
    assert reasons == ["ua", None, None, "burst", "burst"]


def _post(
    client: TestClient,
    body: dict[str, object],
    *,
    retailer: str,
    kid: str,
    secret: bytes,
    timestamp: int | None = None,
    nonce: str = "n" * 16,
) -> tuple[int, str]:
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = postback_headers(retailer, kid, secret, raw, timestamp=stamp, nonce=nonce)
    r = client.post("/postback", content=raw, headers=headers)
    return r.status_code, r.json()["status"]


def test_postback_rules(client: TestClient, ops_engine: Engine) -> None:
    link = _link(ops_engine)
    r = client.get(f"/l/{link.token}", headers={"user-agent": PHONE})
    click_id = parse_qs(urlsplit(r.headers["location"]).query)["rc_click"][0]
    with session_scope(session_factory(ops_engine)) as s:
        key, secret = add_key(s, "postback", retailer_id="tmall")
        jd_key, jd_secret = add_key(s, "postback", retailer_id="jd")
    order = {"order_id": "o1", "click_id": click_id, "amount": 99.5, "ts": "2026-11-25T10:00:00Z"}
    kw = {"retailer": "tmall", "kid": key.kid, "secret": secret}

    assert client.post("/postback", content=json.dumps(order)).status_code == 401  # unsigned
    assert _post(client, order, **kw, timestamp=int(time.time()) - 301) == (401, "stale")
    assert _post(client, order, **kw, timestamp=int(time.time()) + 301) == (401, "stale")
    assert _post(client, order, retailer="tmall", kid=key.kid, secret=b"w" * 32) == (
        401,
        "bad_signature",
    )
    # jd's key cannot post for tmall; jd cannot claim tmall's click.
    assert _post(client, order, retailer="tmall", kid=jd_key.kid, secret=jd_secret)[0] == 401
    assert _post(client, order, retailer="jd", kid=jd_key.kid, secret=jd_secret) == (
        422,
        "unknown_click",
    )
    assert _post(client, order, **kw, nonce="a" * 16) == (200, "stored")
    assert _post(client, order, **kw, nonce="a" * 16) == (409, "replayed")
    assert _post(client, order, **kw, nonce="b" * 16) == (200, "duplicate")
    bad = dict(order, amount=-1)
    assert _post(client, bad, **kw, nonce="c" * 16) == (422, "bad_body")
    assert _post(client, dict(order, click_id="zzz"), **kw, nonce="d" * 16) == (
        422,
        "unknown_click",
    )
    visit = {"event": "visit", "click_id": click_id, "ts": "2026-11-25T09:59:00+08:00"}
    assert _post(client, visit, **kw, nonce="e" * 16) == (200, "stored")
    assert _post(client, visit, **kw, nonce="f" * 16) == (200, "duplicate")
    assert _post(client, dict(visit, event="cart"), **kw, nonce="g" * 16) == (422, "bad_body")
    with session_factory(ops_engine)() as s:
        [stored_visit] = s.scalars(select(PostbackVisit))
        assert (stored_visit.click_id, stored_visit.link_id) == (click_id, link.link_id)
        assert stored_visit.visit_ts == datetime(2026, 11, 25, 1, 59, 0)  # +08:00 → UTC
    with session_factory(ops_engine)() as s:
        orders = list(s.scalars(select(PostbackOrder)))
        assert [(o.order_id, o.amount, o.link_id) for o in orders] == [("o1", 99.5, link.link_id)]
        assert orders[0].order_ts == datetime(2026, 11, 25, 10, 0, 0)
        # Nonces are consumed by stored and duplicate postbacks only (refusals roll back).
        assert s.scalar(select(func.count()).select_from(PostbackNonce)) == 4


def test_mounted_in_a_fastapi_dashboard(ops_engine: Engine) -> None:
    from fastapi import FastAPI

    dashboard = FastAPI()
    dashboard.mount("/go", create_links_app(ops_engine, SETTINGS))
    link = _link(ops_engine)
    with TestClient(dashboard, follow_redirects=False) as c:
        r = c.get(f"/go/l/{link.token}", headers={"user-agent": PHONE})
        assert r.status_code == 302
        assert r.headers["location"].startswith("https://detail.tmall.com/i.htm?id=7&rc_click=")
        assert c.get("/go/l/nope").status_code == 404
    assert len(_clicks(ops_engine)) == 1
