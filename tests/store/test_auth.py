"""Users, passwords, tokens, sessions and login-failure counts in the operational store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from redcat.errors import InputError
from redcat.store import auth
from redcat.store.db import make_engine, session_factory, upgrade


@pytest.fixture
def db() -> Iterator[Session]:
    engine = make_engine("sqlite://")
    upgrade("sqlite://", engine=engine)
    with session_factory(engine)() as session:
        yield session


def test_password_hash_is_argon2_and_verifies(db: Session) -> None:
    auth.add_brand(db, "b1")
    auth.add_user(db, "alice", "correct horse", auth.ROLE_BRAND_USER, "b1")
    user = db.scalar(select(auth.User).where(auth.User.username == "alice"))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert auth.check_login(db, "alice", "correct horse", "1.2.3.4") == auth.Principal(
        user.id, "alice", "brand_user", "b1"
    )
    assert auth.check_login(db, "alice", "wrong pass", "1.2.3.4") is None
    assert auth.check_login(db, "nobody", "whatever1", "1.2.3.4") is None


def test_user_rules(db: Session) -> None:
    auth.add_brand(db, "b1")
    with pytest.raises(InputError):
        auth.add_user(db, "x", "longenough", auth.ROLE_BRAND_USER)  # no brand
    with pytest.raises(InputError):
        auth.add_user(db, "x", "longenough", auth.ROLE_OPERATOR, "b1")
    with pytest.raises(InputError):
        auth.add_user(db, "x", "longenough", auth.ROLE_BRAND_USER, "nope")
    with pytest.raises(InputError):
        auth.add_user(db, "x", "short", auth.ROLE_BRAND_USER, "b1")
    with pytest.raises(InputError):
        auth.add_user(db, "x", "longenough", "admin")
    auth.add_user(db, "x", "longenough", auth.ROLE_OPERATOR)
    with pytest.raises(InputError):
        auth.add_user(db, "x", "longenough", auth.ROLE_OPERATOR)


def test_failures_count_per_name_and_per_client(db: Session) -> None:
    auth.add_brand(db, "b1")
    auth.add_user(db, "alice", "correct horse", auth.ROLE_BRAND_USER, "b1")
    for _ in range(3):
        auth.check_login(db, "alice", "bad password", "10.0.0.1")
    auth.check_login(db, "bob", "bad password", "10.0.0.1")
    auth.check_login(db, "alice", "correct horse", "10.0.0.9")  # a success does not count
    window = timedelta(minutes=15)
    assert auth.recent_failures(db, "alice", "10.0.0.9", window) == 3
    assert auth.recent_failures(db, "carol", "10.0.0.1", window) == 4
    assert auth.recent_failures(db, "carol", "10.0.0.2", window) == 0
    assert auth.recent_failures(db, "alice", "10.0.0.9", timedelta(0)) == 0


def test_token_stored_hashed_and_revocable(db: Session) -> None:
    auth.add_brand(db, "b1")
    auth.add_user(db, "alice", "correct horse", auth.ROLE_BRAND_USER, "b1")
    secret, row = auth.create_token(db, "alice", "ci")
    assert secret.startswith(auth.TOKEN_PREFIX)
    assert row.token_hash == auth.digest(secret) and secret not in row.token_hash
    principal = auth.resolve_token(db, secret)
    assert principal is not None and principal.brand_id == "b1"
    assert auth.resolve_token(db, secret + "x") is None
    assert auth.revoke_token(db, row.id)
    assert auth.resolve_token(db, secret) is None
    assert not auth.revoke_token(db, row.id)


def test_expired_token_and_session(db: Session) -> None:
    auth.add_user(db, "op", "correct horse", auth.ROLE_OPERATOR)
    secret, row = auth.create_token(db, "op", "short", days=1)
    row.expires_at = auth.utcnow() - timedelta(seconds=1)
    assert auth.resolve_token(db, secret) is None
    principal = auth.check_login(db, "op", "correct horse", "c")
    assert principal is not None and principal.is_operator and principal.may_see("any")
    sid, csrf = auth.create_session(db, principal, hours=1)
    assert auth.resolve_session(db, sid) == (principal, csrf)
    auth.end_session(db, sid)
    assert auth.resolve_session(db, sid) is None
    sid2, _ = auth.create_session(db, principal, hours=-1)
    assert auth.resolve_session(db, sid2) is None
