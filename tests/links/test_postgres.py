"""The links service on a real PostgreSQL server (skipped when none answers locally).

``.ci/postgres.sh`` installs and starts one; the URL comes from ``REDCAT_TEST_PG_URL``. Each run
works in a fresh schema it drops afterwards, so parallel runs and other tests do not collide.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, select
from tests.pg import fresh_schema, needs_postgres

from redcat.links.app import create_links_app
from redcat.links.postback import postback_headers
from redcat.links.report import link_report
from redcat.links.service import add_key, create_link
from redcat.settings import LinksSettings
from redcat.store.db import session_factory, session_scope
from redcat.store.links import Click

with warnings.catch_warnings():  # Starlette 1.x nags about httpx (it prefers httpx2)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SETTINGS = LinksSettings()
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


pytestmark = needs_postgres


@pytest.fixture
def pg_engine() -> Iterator[tuple[Engine, str]]:
    with fresh_schema("links", migrate=True) as (engine, url):
        yield engine, url


def test_redirect_postback_report_on_postgres(pg_engine: tuple[Engine, str]) -> None:
    engine, _url = pg_engine
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        link = create_link(
            s,
            brand_id="b1",
            note_id="n1",
            retailer_id="jd",
            url="https://item.jd.com/100.html",
            settings=SETTINGS,
        )
        key, secret = add_key(s, "postback", retailer_id="jd")
    app = create_links_app(engine, SETTINGS)
    with TestClient(app, follow_redirects=False) as client:
        click_ids = []
        for _ in range(3):
            r = client.get(f"/l/{link.token}", headers={"user-agent": PHONE})
            assert r.status_code == 302
            click_ids.append(parse_qs(urlsplit(r.headers["location"]).query)["rc_click"][0])
        assert client.get(f"/l/{link.token[:-2]}AA").status_code == 404
        body = json.dumps(
            {"order_id": "o-1", "click_id": click_ids[0], "amount": 12.5, "ts": time.time()}
        ).encode()
        for nonce, expected in (("x" * 16, "stored"), ("y" * 16, "duplicate")):
            headers = postback_headers(
                "jd", key.kid, secret, body, timestamp=int(time.time()), nonce=nonce
            )
            r = client.post("/postback", content=body, headers=headers)
            assert (r.status_code, r.json()["status"]) == (200, expected)
        r = client.post("/postback", content=body, headers=headers)
        assert r.status_code == 409
    with sessions() as s:
        assert sorted(s.scalars(select(Click.click_id))) == sorted(click_ids)
    report = link_report(engine, "b1", SETTINGS)
    assert report[["clicks", "orders", "gmv"]].to_dict("records") == [
        {"clicks": 3, "orders": 1, "gmv": 12.5}
    ]
