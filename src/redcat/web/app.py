"""The FastAPI application factory: ``create_app(config)`` wires the operational store, the
snapshot reader, the date-range builder, the API, the pages, the API docs and the security
headers.

The API docs (Swagger UI at ``/docs``) load Swagger UI from the ``swagger-ui-bundle-v2`` package
(Swagger UI 5, Apache-2.0) served under ``/docs/assets``: no CDN. ReDoc is off (it would need a
CDN or another bundle; Swagger UI and ``/openapi.json`` cover the same ground)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from redcat import __version__
from redcat.links.app import create_links_app
from redcat.privacy.ledger import BudgetLedger
from redcat.store.db import make_engine, session_factory, upgrade
from redcat.web.admin import router as admin_router
from redcat.web.api import router as api_router
from redcat.web.config import WebConfig
from redcat.web.pages import LoginRequired
from redcat.web.pages import router as page_router
from redcat.web.ranges import RangeBuilder
from redcat.web.service import Reports

STATIC_DIR = Path(__file__).with_name("static")
DOCS_ASSETS = "/docs/assets"
# The links service's public routes served by the dashboard (its /healthz is the dashboard's).
LINK_PATHS = frozenset({"/l/{token}", "/postback"})

# Pages load only their own scripts and styles: no CDN, no inline script execution (chart options
# are JSON data blocks), no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class SecurityHeaders(BaseHTTPMiddleware):
    """Add CSP and the usual hardening headers to every response."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def create_app(config: WebConfig, *, migrate: bool = True) -> FastAPI:
    """Return the dashboard and API app for ``config``.

    Opens (and with ``migrate`` upgrades to head) the operational store, and reads report
    snapshots from ``config.report_dir`` as they are refreshed.
    """
    engine = make_engine(config.ops_db)
    if migrate:
        upgrade(config.ops_db, engine=engine)
    links = create_links_app(engine, config.settings.links)

    ranges = RangeBuilder(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The links service's lifespan stops its click log's checkpoint thread on shutdown;
        # the range builder drops its queue and lets a running build finish.
        async with links.router.lifespan_context(links):
            try:
                yield
            finally:
                ranges.close()

    app = FastAPI(
        lifespan=lifespan,
        title="redcat",
        version=__version__,
        description="Seeding-to-sales (种草 → 拔草) measurement: brand dashboard and API. "
        "Authenticate with `Authorization: Bearer <token>` (`redcat tokens create`).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.reports = Reports(config.report_dir)
    app.state.ranges = ranges
    # The budget the brand view's snapshots spend (refresh and range builds open it by URL).
    ledger_url = config.report_settings.privacy.ledger_url
    app.state.ledger = (
        BudgetLedger(engine, config.settings.privacy, description="operational store")
        if ledger_url == config.ops_db
        else BudgetLedger.open(str(ledger_url), config.settings.privacy)
    )
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    app.include_router(api_router)
    app.include_router(admin_router)
    app.include_router(page_router)
    _add_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The 种草直达 redirect and postback answer on the dashboard's host too. Added after every
    # dashboard route, so those win; plain Starlette routes stay out of the OpenAPI schema.
    app.state.links_app = links
    for route in links.routes:
        if getattr(route, "path", "") in LINK_PATHS:
            app.router.routes.append(route)
    return app


def _add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from the locally installed bundle (see the module
    docstring)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    oauth2 = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=oauth2,
            # no call to the public validator service either
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(oauth2, include_in_schema=False)
    def docs_oauth2() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def app_from_env() -> FastAPI:
    """Build the app from ``REDCAT_STORE``, ``REDCAT_OPS_DB``, ``REDCAT_REPORTS`` and
    ``REDCAT_VIEW`` (what ``redcat serve --workers N`` sets for its worker processes)."""
    import dataclasses
    import os

    from redcat.settings import Settings

    settings = Settings()
    if "REDCAT_VIEW" in os.environ:
        web = dataclasses.replace(settings.web, view=os.environ["REDCAT_VIEW"])
        settings = dataclasses.replace(settings, web=web)
    config = WebConfig.from_settings(
        settings,
        store=Path(os.environ["REDCAT_STORE"]) if "REDCAT_STORE" in os.environ else None,
        ops_db=os.environ.get("REDCAT_OPS_DB"),
        report_dir=Path(os.environ["REDCAT_REPORTS"]) if "REDCAT_REPORTS" in os.environ else None,
    )
    return create_app(config, migrate=False)
