"""Keys and link creation on a real (SQLite) operational store."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from redcat.errors import ConfigError, InputError
from redcat.links.service import (
    add_key,
    create_link,
    ensure_keys,
    keyring,
    list_keys,
    list_links,
    retire_key,
)
from redcat.links.tokens import verify_link
from redcat.settings import LinksSettings
from redcat.store.db import session_factory, session_scope

SETTINGS = LinksSettings(public_base="https://go.example/")


def test_create_and_list(ops_engine: Engine) -> None:
    sessions = session_factory(ops_engine)
    with session_scope(sessions) as s:
        link = create_link(
            s,
            brand_id="b1",
            note_id="n1",
            retailer_id="tmall",
            url="https://detail.tmall.com/item.htm?id=9",
            settings=SETTINGS,
        )
    assert link.url == f"https://go.example/l/{link.token}"
    assert link.destination == "https://detail.tmall.com/item.htm?id=9"
    with session_scope(sessions) as s:
        verified = verify_link(keyring(s), link.token)
        assert verified is not None and verified.link_id == link.link_id
        assert [lk.link_id for lk in list_links(s, SETTINGS, "b1")] == [link.link_id]
        assert list_links(s, SETTINGS, "b2") == []


@pytest.mark.parametrize(
    ("retailer", "url"),
    [
        ("tmall", "https://item.jd.com/1.html"),  # another retailer's host
        ("nowhere", "https://detail.tmall.com/"),
        ("tmall", "https://detail.tmall.com@evil.com/"),
        ("tmall", "https://detail.tmall.com/?rc_click=forged"),
    ],
)
def test_create_refuses(ops_engine: Engine, retailer: str, url: str) -> None:
    with session_scope(session_factory(ops_engine)) as s, pytest.raises(InputError):
        create_link(
            s, brand_id="b1", note_id="n1", retailer_id=retailer, url=url, settings=SETTINGS
        )


def test_rotation_and_retirement(ops_engine: Engine) -> None:
    sessions = session_factory(ops_engine)
    with session_scope(sessions) as s:
        ensure_keys(s)
        first = create_link(
            s,
            brand_id="b",
            note_id="n",
            retailer_id="jd",
            url="https://item.jd.com/1.html",
            settings=SETTINGS,
        )
        old_kid = keyring(s).active.kid
        info, secret = add_key(s, "link")
        assert len(secret) == 32 and info.kid != old_kid
    with session_scope(sessions) as s:
        ring = keyring(s)
        assert ring.active.kid == info.kid
        assert verify_link(ring, first.token) is not None  # old key still verifies
        with pytest.raises(ConfigError, match="active"):
            retire_key(s, info.kid)
        retire_key(s, old_kid)
    with session_scope(sessions) as s:
        assert verify_link(keyring(s), first.token) is None
        statuses = {k.kid: k.status for k in list_keys(s) if k.purpose == "link"}
        assert statuses == {old_kid: "retired", info.kid: "active"}


def test_postback_keys_per_retailer(ops_engine: Engine) -> None:
    with session_scope(session_factory(ops_engine)) as s:
        with pytest.raises(ConfigError):
            add_key(s, "postback")
        with pytest.raises(ConfigError):
            add_key(s, "link", retailer_id="tmall")
        with pytest.raises(ConfigError):
            add_key(s, "nonsense")
        a, _ = add_key(s, "postback", retailer_id="tmall")
        b, _ = add_key(s, "postback", retailer_id="jd")
        assert keyring(s, "postback", "tmall").active.kid == a.kid
        assert keyring(s, "postback", "jd").active.kid == b.kid
        with pytest.raises(ConfigError, match="no active"):
            keyring(s, "postback", "vip")
        with pytest.raises(ConfigError, match="exists"):
            add_key(s, "link", kid=a.kid)
