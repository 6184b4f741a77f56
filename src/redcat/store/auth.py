"""Tenants (brands), users, API tokens, login sessions and login attempts.

Passwords are argon2id hashes (argon2-cffi); API tokens and session ids are random 256-bit values
stored only as SHA-256 digests (a high-entropy secret needs no slow hash, and a leaked table gives
no usable credential). Roles: ``brand_user`` sees one brand; ``operator`` manages every brand.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from redcat.errors import InputError
from redcat.store.db import Base

ROLE_BRAND_USER = "brand_user"
ROLE_OPERATOR = "operator"
ROLES: tuple[str, ...] = (ROLE_BRAND_USER, ROLE_OPERATOR)
TOKEN_PREFIX = "rct_"

_HASHER = PasswordHasher()


def utcnow() -> datetime:
    """Return the current UTC time, timezone-naive (how every store column keeps time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def digest(secret: str) -> str:
    """Return the hex SHA-256 of ``secret`` (how tokens and session ids are stored)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Brand(Base):
    """A tenant: one brand's three-party account; ``id`` is the brand_id of the data contract."""

    __tablename__ = "brands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="brand")


class User(Base):
    """A person who logs in. ``brand_id`` is set for brand users and empty for operators."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    brand_id: Mapped[str | None] = mapped_column(
        ForeignKey("brands.id", ondelete="CASCADE"), nullable=True, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    brand: Mapped[Brand | None] = relationship(back_populates="users")


class ApiToken(Base):
    """A bearer token for API clients; only its SHA-256 is kept, ``prefix`` identifies it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebSession(Base):
    """A logged-in browser session; ``id_hash`` is the SHA-256 of the cookie value."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginAttempt(Base):
    """One login attempt, kept to rate-limit failures per user name and per client address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    client: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    success: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: user id and name, role, and the brand a brand user is bound to."""

    user_id: int
    username: str
    role: str
    brand_id: str | None

    @property
    def is_operator(self) -> bool:
        """True for operators, who may read and manage every brand."""
        return self.role == ROLE_OPERATOR

    def may_see(self, brand_id: str) -> bool:
        """True when this principal may read ``brand_id``'s reports."""
        return self.is_operator or self.brand_id == brand_id


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.brand_id)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (encoded with its parameters and salt)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a bad hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_brand(session: Session, brand_id: str, name: str | None = None) -> Brand:
    """Create brand ``brand_id`` (or return it unchanged if it exists)."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        brand = Brand(id=brand_id, name=name or brand_id)
        session.add(brand)
        session.flush()
    return brand


def add_user(
    session: Session, username: str, password: str, role: str, brand_id: str | None = None
) -> Principal:
    """Create a user and return its principal. Brand users need an existing ``brand_id``;
    operators must have none. Raises :class:`InputError` for a taken name, unknown role or
    brand, or a password shorter than 8 characters."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if role == ROLE_BRAND_USER and not brand_id:
        raise InputError("a brand_user needs --brand")
    if role == ROLE_OPERATOR and brand_id:
        raise InputError("an operator is not bound to a brand")
    if brand_id and session.get(Brand, brand_id) is None:
        raise InputError(f"unknown brand {brand_id!r} (create it with `redcat users brand`)")
    if len(password) < 8:
        raise InputError("password must have at least 8 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise InputError(f"user {username!r} exists")
    user = User(
        username=username, password_hash=hash_password(password), role=role, brand_id=brand_id
    )
    session.add(user)
    session.flush()
    return _principal(user)


def set_password(session: Session, username: str, password: str) -> None:
    """Replace ``username``'s password; raises :class:`InputError` for an unknown user."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InputError(f"unknown user {username!r}")
    if len(password) < 8:
        raise InputError("password must have at least 8 characters")
    user.password_hash = hash_password(password)


def list_users(session: Session) -> list[Principal]:
    """Return every user's principal, ordered by name."""
    return [_principal(u) for u in session.scalars(select(User).order_by(User.username))]


def list_brands(session: Session) -> list[Brand]:
    """Return every brand, ordered by id."""
    return list(session.scalars(select(Brand).order_by(Brand.id)))


def recent_failures(session: Session, username: str, client: str, window: timedelta) -> int:
    """Return failed logins within ``window`` for this user name or from this client, whichever
    is larger (either alone locks: guessing one account, or spraying many)."""
    since = utcnow() - window
    by_user = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, ~LoginAttempt.success, LoginAttempt.at >= since)
    )
    by_client = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.client == client, ~LoginAttempt.success, LoginAttempt.at >= since)
    )
    return max(int(by_user or 0), int(by_client or 0))


def check_login(session: Session, username: str, password: str, client: str) -> Principal | None:
    """Verify a login and record the attempt; return the principal, or None on failure.

    The password is verified even for an unknown user (against a dummy hash), so response time
    does not reveal which names exist. Rate limiting is the caller's job (:func:`recent_failures`).
    """
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username[:100], client=client[:100], success=ok))
    session.flush()
    return _principal(user) if ok and user is not None else None


_DUMMY_HASH = _HASHER.hash("redcat-no-such-user")


def create_session(session: Session, principal: Principal, hours: float) -> tuple[str, str]:
    """Start a login session for ``principal`` lasting ``hours``; return (cookie value, CSRF
    token). Only the cookie's digest is stored."""
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=digest(sid),
            user_id=principal.user_id,
            csrf_token=csrf,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    session.flush()
    return sid, csrf


def resolve_session(session: Session, sid: str) -> tuple[Principal, str] | None:
    """Return (principal, CSRF token) of a live session cookie, or None if unknown or expired."""
    row = session.get(WebSession, digest(sid))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return _principal(user), row.csrf_token


def end_session(session: Session, sid: str) -> None:
    """Delete the session behind cookie value ``sid`` (logout); unknown ids are ignored."""
    row = session.get(WebSession, digest(sid))
    if row is not None:
        session.delete(row)
        session.flush()


def create_token(
    session: Session, username: str, name: str, days: float | None = None
) -> tuple[str, ApiToken]:
    """Create an API token for ``username``; return (the secret, shown once, and its row).

    ``days`` bounds its life (None: until revoked). Raises :class:`InputError` for an unknown
    user.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InputError(f"unknown user {username!r}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    session.add(row)
    session.flush()
    return secret, row


def resolve_token(session: Session, secret: str) -> Principal | None:
    """Return the principal of a live bearer token (and stamp its last use), or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return _principal(user)


def revoke_token(session: Session, token_id: int) -> bool:
    """Revoke token ``token_id``; return False when no such live token exists."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    """Return every token with its owner's user name, newest first."""
    rows = session.execute(
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    return [(t, u) for t, u in rows]
