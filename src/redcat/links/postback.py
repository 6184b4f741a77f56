"""Order postbacks: a retailer reports an order made after a link click, signed with its key.

A postback is ``POST /postback`` with a JSON body: an order ``{"order_id", "click_id", "amount",
"ts"}`` (``amount`` in the retailer's currency, ``ts`` the order time, ISO 8601 or Unix seconds,
UTC when no offset; ``"event": "order"`` optional) or a store visit (进店) ``{"event": "visit",
"click_id", "ts"}``, and the headers:

- ``X-Redcat-Retailer``: the retailer id; ``X-Redcat-Key``: the id of the retailer's key;
- ``X-Redcat-Timestamp``: Unix seconds when signed; ``X-Redcat-Nonce``: 16-64 characters of
  ``[A-Za-z0-9_-]``, never reused;
- ``X-Redcat-Signature``: hex HMAC-SHA256 under the key's secret of
  ``"{timestamp}\\n{nonce}\\n"`` followed by the raw body bytes.

Unsigned or badly signed requests are refused (401), so are stale ones (timestamp more than
``postback_max_age_seconds`` from the server clock, either way; 401) and replays (a nonce already
seen from that retailer; 409). The same order id from the same retailer is stored once: a second
postback of it answers 200 ``duplicate``; so does a second visit for the same click.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redcat.errors import ConfigError
from redcat.links.service import keyring
from redcat.store.links import Click, Link, PostbackNonce, PostbackOrder, PostbackVisit

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = (
    "x-redcat-retailer",
    "x-redcat-key",
    "x-redcat-timestamp",
    "x-redcat-nonce",
    "x-redcat-signature",
)


def sign_postback(secret: bytes, timestamp: int, nonce: str, body: bytes) -> str:
    """Return the hex signature of a postback (what the retailer sends)."""
    message = f"{timestamp}\n{nonce}\n".encode("ascii") + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def postback_headers(
    retailer_id: str, kid: str, secret: bytes, body: bytes, *, timestamp: int, nonce: str
) -> dict[str, str]:
    """Return the headers a retailer sends with ``body`` (for clients and tests)."""
    return {
        "X-Redcat-Retailer": retailer_id,
        "X-Redcat-Key": kid,
        "X-Redcat-Timestamp": str(timestamp),
        "X-Redcat-Nonce": nonce,
        "X-Redcat-Signature": sign_postback(secret, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


@dataclass(frozen=True)
class PostbackResult:
    """The answer to a postback: HTTP status and a short machine-readable status word
    (stored, duplicate, unsigned, bad_signature, stale, replayed, bad_body, unknown_click)."""

    http_status: int
    status: str
    detail: str = ""


def _refuse(code: int, status: str, detail: str) -> PostbackResult:
    return PostbackResult(code, status, detail)


def _order_time(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        return ts
    return None


def handle_postback(
    session: Session,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    max_age_seconds: int,
) -> PostbackResult:
    """Verify and store one postback; ``headers`` with lowercase names, ``now`` naive UTC.

    Returns the answer to give. Commits the session when the nonce is consumed (stored or
    duplicate order), rolls back otherwise.
    """
    if any(not headers.get(h) for h in HEADERS):
        return _refuse(401, "unsigned", "missing signature headers")
    retailer_id = headers["x-redcat-retailer"]
    kid = headers["x-redcat-key"]
    nonce = headers["x-redcat-nonce"]
    try:
        stamp = int(headers["x-redcat-timestamp"])
    except ValueError:
        return _refuse(401, "unsigned", "timestamp is not Unix seconds")
    if not NONCE_PATTERN.match(nonce):
        return _refuse(401, "unsigned", "nonce must be 16-64 of [A-Za-z0-9_-]")
    age = now.replace(tzinfo=UTC).timestamp() - stamp
    if abs(age) > max_age_seconds:
        return _refuse(401, "stale", f"timestamp {age:+.0f} s from the server clock")
    try:
        ring = keyring(session, "postback", retailer_id)
    except ConfigError:
        return _refuse(401, "bad_signature", "no key for this retailer")
    key = ring.verifying(kid)
    expected = sign_postback(key.secret, stamp, nonce, body) if key else ""
    if key is None or not hmac.compare_digest(expected, headers["x-redcat-signature"].lower()):
        return _refuse(401, "bad_signature", "signature does not verify")

    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(422, "bad_body", "body is not JSON")
    if not isinstance(payload, dict):
        return _refuse(422, "bad_body", "body is not a JSON object")
    event = payload.get("event", "order")
    order_id, click_id, amount = (payload.get(k) for k in ("order_id", "click_id", "amount"))
    order_ts = _order_time(payload.get("ts"))
    if event not in ("order", "visit"):
        return _refuse(422, "bad_body", "event must be order or visit")
    if not isinstance(click_id, str) or not click_id or len(click_id) > 32:
        return _refuse(422, "bad_body", "click_id must be a non-empty string")
    if order_ts is None:
        return _refuse(422, "bad_body", "ts must be ISO 8601 or Unix seconds")
    if event == "order":
        if not isinstance(order_id, str) or not order_id or len(order_id) > 128:
            return _refuse(422, "bad_body", "order_id must be a non-empty string")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return _refuse(422, "bad_body", "amount must be a number")
        if not math.isfinite(amount) or amount < 0:
            return _refuse(422, "bad_body", "amount must be finite and >= 0")

    # The replay cache first: a nonce is consumed once, whatever the order turns out to be.
    session.execute(
        delete(PostbackNonce).where(
            PostbackNonce.seen_at < now - timedelta(seconds=2 * max_age_seconds)
        )
    )
    session.add(PostbackNonce(retailer_id=retailer_id, nonce=nonce, seen_at=now))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return _refuse(409, "replayed", "nonce already used")

    row = session.execute(
        select(Link.link_id, Link.retailer_id)
        .join(Click, Click.link_id == Link.link_id)
        .where(Click.click_id == click_id)
    ).first()
    if row is None or row.retailer_id != retailer_id:
        session.rollback()
        return _refuse(422, "unknown_click", "no click with this id on this retailer's links")
    if event == "visit":
        return _store_visit(session, retailer_id, click_id, row.link_id, order_ts, now, kid)
    exists = select(PostbackOrder.id).where(
        PostbackOrder.retailer_id == retailer_id, PostbackOrder.order_id == order_id
    )
    order = PostbackOrder(
        retailer_id=retailer_id,
        order_id=order_id,
        click_id=click_id,
        link_id=row.link_id,
        amount=float(cast(float, amount)),  # checked above for an order
        order_ts=order_ts,
        received_at=now,
        kid=kid,
    )
    return _store_once(session, exists, order, "order")


def _store_visit(
    session: Session,
    retailer_id: str,
    click_id: str,
    link_id: str,
    visit_ts: datetime,
    now: datetime,
    kid: str,
) -> PostbackResult:
    exists = select(PostbackVisit.id).where(
        PostbackVisit.retailer_id == retailer_id, PostbackVisit.click_id == click_id
    )
    visit = PostbackVisit(
        retailer_id=retailer_id,
        click_id=click_id,
        link_id=link_id,
        visit_ts=visit_ts,
        received_at=now,
        kid=kid,
    )
    return _store_once(session, exists, visit, "visit")


def _store_once(session: Session, exists: Any, row: object, what: str) -> PostbackResult:
    # Stored once per key: a repeat (earlier, or a concurrent one that won the unique
    # constraint) answers 200 "duplicate" so the retailer stops retrying.
    if session.scalar(exists) is not None:
        session.commit()
        return PostbackResult(200, "duplicate", f"{what} already stored")
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return PostbackResult(200, "duplicate", f"{what} already stored")
    return PostbackResult(200, "stored")
