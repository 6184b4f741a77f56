"""Who a request acts as, and what it may touch.

Browsers carry a session cookie (``redcat_session``); state-changing form posts must echo the
session's CSRF token. API clients send ``Authorization: Bearer <token>``. Both resolve to a
:class:`~redcat.store.auth.Principal`; :func:`require_brand` is the one brand-scope check every
brand route uses (a brand the principal may not see answers 404, as if it did not exist).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from redcat.store import auth as store_auth
from redcat.store.auth import Principal
from redcat.web.config import WebConfig

SESSION_COOKIE = "redcat_session"
LANG_COOKIE = "redcat_lang"


def get_config(request: Request) -> WebConfig:
    """Return the app's :class:`WebConfig`."""
    config: WebConfig = request.app.state.config
    return config


def get_db(request: Request) -> Iterator[Session]:
    """Yield an operational-store session, committed when the request handler succeeds."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_principal(request: Request, db: Db) -> Principal | None:
    """Return the principal of a bearer token or session cookie, or None (anonymous).

    A request that sends a bearer token is judged by the token alone, never the cookie.
    """
    token = _bearer(request)
    if token is not None:
        return store_auth.resolve_token(db, token)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        found = store_auth.resolve_session(db, sid)
        if found is not None:
            request.state.csrf = found[1]
            return found[0]
    return None


def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """Return the authenticated principal; 401 for anonymous requests."""
    if principal is None:
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentUser = Annotated[Principal, Depends(require_principal)]


def require_operator(principal: CurrentUser) -> Principal:
    """Return the principal if it is an operator; 403 otherwise."""
    if not principal.is_operator:
        raise HTTPException(403, "operators only")
    return principal


Operator = Annotated[Principal, Depends(require_operator)]


def require_brand(
    brand_id: Annotated[str, Path(min_length=1, max_length=64)], principal: CurrentUser
) -> str:
    """Return ``brand_id`` when the principal may see it; 404 otherwise (a brand outside one's
    scope is indistinguishable from a missing one)."""
    if not principal.may_see(brand_id):
        raise HTTPException(404, "no such brand")
    return brand_id


BrandId = Annotated[str, Depends(require_brand)]


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise 403 unless a cookie-authenticated request's ``submitted`` token (form field or
    ``X-CSRF-Token`` header) matches its session's. Bearer requests carry no ambient authority
    and need none."""
    if _bearer(request) is not None:
        return
    expected = getattr(request.state, "csrf", None)
    given = submitted or request.headers.get("x-csrf-token")
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise HTTPException(403, "missing or wrong CSRF token")


def client_address(request: Request) -> str:
    """Return the client's address as the rate limiter counts it."""
    return request.client.host if request.client else "unknown"


def login_locked(db: Session, config: WebConfig, username: str, client: str) -> bool:
    """True when too many failed logins for this name or client fall within the window."""
    web = config.settings.web
    window = timedelta(seconds=web.login_window_seconds)
    return store_auth.recent_failures(db, username, client, window) >= web.login_max_failures
