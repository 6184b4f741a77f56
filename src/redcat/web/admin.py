"""The operator's pages: brand accounts, users, API tokens, match runs and a refresh button.

Every form posts with the session's CSRF token; every route needs the operator role (403 for
anyone else, and anonymous visitors are sent to /login).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from redcat.engine import open_engine
from redcat.errors import InputError, MatchError, StoreError
from redcat.match import run_direct_match
from redcat.store import auth as store_auth
from redcat.store.auth import Principal
from redcat.web.auth import Db, check_csrf, get_config
from redcat.web.pages import page_lang, page_user, render
from redcat.web.service import display_rows, header_label
from redcat.web.snapshot import read_match_runs, refresh

router = APIRouter(include_in_schema=False)


def page_operator(user: Annotated[Principal, Depends(page_user)]) -> Principal:
    """Return the logged-in operator; 403 for brand users."""
    if not user.is_operator:
        raise HTTPException(403, "operators only")
    return user


OperatorPage = Annotated[Principal, Depends(page_operator)]
Csrf = Annotated[str, Form(max_length=100)]


def _admin_page(
    request: Request,
    db: Db,
    user: Principal,
    *,
    message: str | None = None,
    secret: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = page_lang(request)
    runs = read_match_runs(get_config(request).report_dir)
    return render(
        request,
        "admin.html",
        status,
        user=user,
        brands=store_auth.list_brands(db),
        users=store_auth.list_users(db),
        tokens=store_auth.list_tokens(db),
        runs_headers=[header_label(str(c), lang) for c in runs.columns],
        runs_rows=display_rows(runs, lang),
        message=message,
        secret=secret,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, db: Db, user: OperatorPage) -> HTMLResponse:
    """Brands, users, tokens and match runs, with forms to manage them."""
    return _admin_page(request, db, user)


@router.post("/admin/brands", response_class=HTMLResponse)
def admin_brand(
    request: Request,
    db: Db,
    user: OperatorPage,
    csrf: Csrf,
    brand_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a brand account."""
    check_csrf(request, csrf)
    store_auth.add_brand(db, brand_id, name or None)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users", response_class=HTMLResponse)
def admin_user(
    request: Request,
    db: Db,
    user: OperatorPage,
    csrf: Csrf,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)] = store_auth.ROLE_BRAND_USER,
    brand_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create a user; a refused one (taken name, unknown brand, short password) says why."""
    check_csrf(request, csrf)
    try:
        store_auth.add_user(db, username, password, role, brand_id or None)
    except InputError as exc:
        db.rollback()
        return _admin_page(request, db, user, message=str(exc), status=400)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens", response_class=HTMLResponse)
def admin_token(
    request: Request,
    db: Db,
    user: OperatorPage,
    csrf: Csrf,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    name: Annotated[str, Form(min_length=1, max_length=100)] = "api",
) -> Response:
    """Create a token and show its secret on this one page."""
    check_csrf(request, csrf)
    try:
        secret, _row = store_auth.create_token(db, username, name)
    except InputError as exc:
        return _admin_page(request, db, user, message=str(exc), status=400)
    db.commit()
    return _admin_page(request, db, user, secret=secret)


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
def admin_revoke(
    request: Request, db: Db, user: OperatorPage, csrf: Csrf, token_id: int
) -> Response:
    """Revoke a token."""
    check_csrf(request, csrf)
    store_auth.revoke_token(db, token_id)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/refresh", response_class=HTMLResponse)
def admin_refresh(request: Request, db: Db, user: OperatorPage, csrf: Csrf) -> Response:
    """Rebuild every brand's report snapshots now (takes as long as measuring them)."""
    check_csrf(request, csrf)
    config = get_config(request)
    result = refresh(config.store, config.report_dir, config.report_settings)
    note = f"refreshed {len(result.brands)} brand(s) in {result.seconds:.1f} s"
    return _admin_page(request, db, user, message=note)


@router.post("/admin/match", response_class=HTMLResponse)
def admin_match(request: Request, db: Db, user: OperatorPage, csrf: Csrf) -> Response:
    """Rerun the single-store match, then rebuild the snapshots; says what it matched."""
    check_csrf(request, csrf)
    config = get_config(request)
    try:
        with open_engine(config.store) as engine:
            report = run_direct_match(engine.duck, config.settings.match_salt)
    except (StoreError, MatchError) as exc:
        return _admin_page(request, db, user, message=str(exc), status=409)
    result = refresh(config.store, config.report_dir, config.report_settings)
    matched = ", ".join(f"{r.retailer_id} {r.match_rate:.1%}" for r in report.retailers)
    note = f"matched {matched}; refreshed {len(result.brands)} brand(s) in {result.seconds:.1f} s"
    return _admin_page(request, db, user, message=note)
