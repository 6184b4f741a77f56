"""The redirect service: ``GET /l/{token}`` (signed redirect) and ``POST /postback`` (orders).

:func:`create_links_app` returns a Starlette app, mountable into the dashboard
(``dashboard.mount("/go", links_app)``) or served alone (:func:`serve`, ``redcat links serve``).

A redirect verifies the token (a bad, tampered, retired-key or disabled-link token answers 404
and logs nothing), commits the click (see :mod:`redcat.links.clicklog` for durability), then
answers 302 to the destination with the click id appended. Bots (user agents matching the
settings' patterns, sources bursting over the limit) are redirected too but flagged, so they are
not counted as clicks. The client address is taken from the connection (behind a reverse proxy,
run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``); only its salted hash is kept.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from redcat.links.bots import BurstDetector, bot_pattern, hash_ip, ua_class
from redcat.links.clicklog import ClickLog, ClickRecord, LinkTarget, new_click_id
from redcat.links.postback import handle_postback
from redcat.links.service import ensure_keys, ip_salt, keyring, utcnow
from redcat.links.tokens import (
    MAX_TOKEN_CHARS,
    Keyring,
    VerifiedToken,
    b64decode_strict,
    verify_link,
)
from redcat.settings import LinksSettings
from redcat.store.db import session_factory

_NOT_FOUND = PlainTextResponse("not found", status_code=404)
MAX_POSTBACK_BYTES = 64 * 1024  # one order or visit is a few hundred bytes


@dataclass
class KeyringCache:
    """The link keyring, reloaded from the store every ``ttl_seconds`` (so a rotation or
    retirement takes effect within that time) and at most once a second on an unknown key id."""

    load: Callable[[], Keyring]
    ttl_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _ring: Keyring | None = field(default=None, init=False)
    _loaded: float = field(default=0.0, init=False)

    def get(self, *, unknown_kid: bool = False) -> Keyring:
        """Return the keyring, reloading it when stale (or on ``unknown_kid``, rate-limited)."""
        now = self.clock()
        age = now - self._loaded
        if self._ring is None or age >= self.ttl_seconds or (unknown_kid and age >= 1.0):
            self._ring = self.load()
            self._loaded = now
        return self._ring


def _kid_of(token: str) -> str | None:
    data = b64decode_strict(token) if len(token) <= MAX_TOKEN_CHARS else None
    if data is None or len(data) < 2:
        return None
    return data[2 : 2 + data[1]].decode("ascii", "replace")


def create_links_app(
    engine: Engine,
    settings: LinksSettings,
    *,
    keyring_ttl_seconds: float = 30.0,
    link_cache_seconds: float = 5.0,
) -> Starlette:
    """Return the links service on ``engine`` (an operational store migrated to head).

    Key changes reach a running service within ``keyring_ttl_seconds``, a disabled link within
    ``link_cache_seconds``.
    Creates the first link key and IP salt when the store has none. Routes: ``GET /l/{token}``,
    ``POST /postback``, ``GET /healthz``.
    """
    sessions = session_factory(engine)
    with sessions() as session:
        ensure_keys(session)
        session.commit()
        salt = ip_salt(session)

    def load_ring() -> Keyring:
        with sessions() as session:
            return keyring(session)

    rings = KeyringCache(load_ring, ttl_seconds=keyring_ttl_seconds)
    log = ClickLog(
        engine,
        click_param=settings.click_param,
        synchronous=settings.sqlite_synchronous,
        cache_seconds=link_cache_seconds,
    )
    bots = bot_pattern(settings.bot_user_agents)

    # Few distinct user agents make most traffic; classifying one costs several regex scans.
    @functools.lru_cache(maxsize=4096)
    def classify(user_agent: str | None) -> str:
        return ua_class(user_agent, bots)

    bursts = BurstDetector(settings.burst_clicks, settings.burst_seconds)

    @functools.lru_cache(maxsize=65536)
    def hashed(address: str | None) -> str:
        return hash_ip(address, salt)

    def click_maker(request: Request, link_id: str) -> Callable[[LinkTarget], ClickRecord]:
        ua = classify(request.headers.get("user-agent"))
        ip = hashed(request.client.host if request.client else None)

        def make(target: LinkTarget) -> ClickRecord:
            burst = bursts.hit(ip, time.monotonic())
            reason = "ua" if ua == "bot" else ("burst" if burst else None)
            return ClickRecord(new_click_id(), link_id, target.note_id, utcnow(), ua, ip, reason)

        return make

    # Tokens that verified under the current keyring object (a reload starts a new cache, so a
    # retired key's tokens stop working with the reload that retires it).
    verified_tokens: dict[str, VerifiedToken] = {}
    cache_ring: list[Keyring | None] = [None]

    def verify(ring: Keyring, token: str) -> VerifiedToken | None:
        if cache_ring[0] is not ring or len(verified_tokens) >= 100_000:
            verified_tokens.clear()
            cache_ring[0] = ring
        verified = verified_tokens.get(token)
        if verified is None:
            verified = verify_link(ring, token)
            if verified is not None:
                verified_tokens[token] = verified
        return verified

    async def redirect(request: Request) -> Response:
        if request.method != "GET":
            # Starlette answers HEAD on GET routes; a HEAD (link checkers, unfurlers) is no
            # click, so it is neither logged nor redirected.
            return Response(status_code=405, headers={"allow": "GET"})
        token = request.path_params["token"]
        ring = rings.get()
        verified = verify(ring, token)
        if verified is None:
            kid = _kid_of(token)
            if kid is None or kid in ring.keys:
                return _NOT_FOUND
            # Signed by a key this process has not loaded yet (added by another process).
            verified = verify_link(rings.get(unknown_kid=True), token)
            if verified is None:
                return _NOT_FOUND
        make = click_maker(request, verified.link_id)
        if log.sqlite:
            # A SQLite commit in WAL mode takes tens of microseconds: cheaper inline than a
            # thread hop. Other databases wait on the network, so they go to a worker thread.
            location = log.record(verified.link_id, make)
        else:
            location = await run_in_threadpool(log.record, verified.link_id, make)
        if location is None:
            return _NOT_FOUND
        return Response(
            status_code=302, headers={"location": location, "cache-control": "no-store"}
        )

    def postback_sync(headers: dict[str, str], body: bytes) -> JSONResponse:
        with sessions() as session:
            result = handle_postback(
                session,
                headers,
                body,
                now=utcnow(),
                max_age_seconds=settings.postback_max_age_seconds,
            )
        content = {"status": result.status}
        if result.detail:
            content["detail"] = result.detail
        return JSONResponse(content, status_code=result.http_status)

    async def postback(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_POSTBACK_BYTES:
            return JSONResponse({"status": "too_large"}, status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_POSTBACK_BYTES:
                return JSONResponse({"status": "too_large"}, status_code=413)
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(postback_sync, headers, body)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        log.close()

    app = Starlette(
        routes=[
            Route("/l/{token}", redirect, methods=["GET"]),
            Route("/postback", postback, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return app


def serve(url: str, settings: LinksSettings, *, host: str = "127.0.0.1", port: int = 8710) -> None:
    """Migrate the operational store at ``url`` and serve the links service until stopped."""
    import uvicorn

    from redcat.store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(url, engine=engine)
    app = create_links_app(engine, settings)
    # Everything loaded so far (SQLAlchemy, Alembic, the app) lives as long as the process: keep
    # it out of the cyclic collector, whose full passes would otherwise walk it under load.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
