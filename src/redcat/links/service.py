"""Links service: keys (create, rotate, retire), link creation and listing, on the operational
store's session.

Three kinds of secret live in ``link_keys``: ``link`` keys sign link tokens (one active), each
retailer's ``postback`` keys verify the orders it posts back (one active per retailer, older ones
verify until retired), and one ``ip`` salt keys the hash of click addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from redcat.errors import ConfigError, InputError
from redcat.links.tokens import (
    KEY_ID_PATTERN,
    Keyring,
    KeyStatus,
    SigningKey,
    new_link_id,
    new_secret,
    sign_link,
)
from redcat.links.urls import validate_destination
from redcat.settings import LinksSettings
from redcat.store.links import Link, LinkKey

PURPOSES: tuple[str, ...] = ("link", "postback", "ip")


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (the store's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class KeyInfo:
    """A key's public facts (never its secret)."""

    kid: str
    purpose: str
    retailer_id: str | None
    status: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class LinkInfo:
    """A created link: ids, its token, public URL and destination."""

    link_id: str
    token: str
    url: str
    brand_id: str
    note_id: str
    retailer_id: str
    destination: str
    active: bool
    created_at: datetime


def _key_info(row: LinkKey) -> KeyInfo:
    return KeyInfo(
        row.kid, row.purpose, row.retailer_id, row.status, row.created_at, row.retired_at
    )


def _keys(session: Session, purpose: str, retailer_id: str | None) -> list[LinkKey]:
    query = select(LinkKey).where(LinkKey.purpose == purpose)
    if purpose == "postback":
        query = query.where(LinkKey.retailer_id == retailer_id)
    return list(session.scalars(query.order_by(LinkKey.created_at, LinkKey.kid)))


def _next_kid(session: Session, purpose: str, retailer_id: str | None) -> str:
    stem = {"link": "lk", "ip": "ip"}.get(purpose) or f"pb-{retailer_id}"
    existing = set(session.scalars(select(LinkKey.kid)))
    n = 1
    while f"{stem}{n}" in existing:
        n += 1
    return f"{stem}{n}"


def add_key(
    session: Session,
    purpose: str,
    *,
    retailer_id: str | None = None,
    kid: str | None = None,
    secret: bytes | None = None,
) -> tuple[KeyInfo, bytes]:
    """Add a new active key for ``purpose`` (and ``retailer_id`` for postback keys); the key
    that was active becomes verify-only. Returns the key's facts and its secret (shown once:
    a retailer needs its postback secret). Raises :class:`ConfigError` on a bad purpose, a
    missing retailer, a taken or malformed key id or a short secret."""
    if purpose not in PURPOSES:
        raise ConfigError(f"unknown key purpose {purpose!r} (known: {', '.join(PURPOSES)})")
    if (purpose == "postback") != (retailer_id is not None):
        raise ConfigError("postback keys need --retailer; other keys take none")
    kid = kid or _next_kid(session, purpose, retailer_id)
    if not KEY_ID_PATTERN.match(kid):
        raise ConfigError(f"key id {kid!r} must be 1-32 letters, digits, '-' or '_'")
    if session.get(LinkKey, kid) is not None:
        raise ConfigError(f"key id {kid!r} exists")
    secret = secret if secret is not None else new_secret()
    if len(secret) < 16:
        raise ConfigError("a secret needs at least 16 bytes")
    for old in _keys(session, purpose, retailer_id):
        if old.status == KeyStatus.active:
            old.status = KeyStatus.verify.value
    row = LinkKey(
        kid=kid,
        purpose=purpose,
        retailer_id=retailer_id,
        secret_hex=secret.hex(),
        status=KeyStatus.active.value,
        created_at=utcnow(),
        retired_at=None,
    )
    session.add(row)
    session.flush()
    return _key_info(row), secret


def retire_key(session: Session, kid: str) -> KeyInfo:
    """Retire key ``kid``: tokens or postbacks it signed are refused from now on. The active key
    cannot be retired (add a new one first); raises :class:`ConfigError`."""
    row = session.get(LinkKey, kid)
    if row is None:
        raise ConfigError(f"no key {kid!r}")
    if row.status == KeyStatus.active:
        raise ConfigError(f"key {kid!r} is active: add a new key first, then retire this one")
    row.status = KeyStatus.retired.value
    row.retired_at = row.retired_at or utcnow()
    session.flush()
    return _key_info(row)


def list_keys(session: Session) -> list[KeyInfo]:
    """Return every key's facts, by purpose, retailer and creation time."""
    rows = session.scalars(
        select(LinkKey).order_by(LinkKey.purpose, LinkKey.retailer_id, LinkKey.created_at)
    )
    return [_key_info(r) for r in rows]


def ensure_keys(session: Session) -> None:
    """Create the first link-signing key and the IP salt if the store has none."""
    for purpose in ("link", "ip"):
        if not _keys(session, purpose, None):
            add_key(session, purpose)


def keyring(session: Session, purpose: str = "link", retailer_id: str | None = None) -> Keyring:
    """Return the keyring of ``purpose`` (a retailer's postback keys with ``retailer_id``);
    raises :class:`ConfigError` when it has no active key."""
    keys = [
        SigningKey(r.kid, bytes.fromhex(r.secret_hex), KeyStatus(r.status))
        for r in _keys(session, purpose, retailer_id)
    ]
    if not any(k.status is KeyStatus.active for k in keys):
        who = f" for retailer {retailer_id!r}" if retailer_id else ""
        raise ConfigError(f"no active {purpose} key{who} (run `redcat links keys add`)")
    return Keyring.of(keys)


def ip_salt(session: Session) -> bytes:
    """Return the active IP-hash salt (created on first use)."""
    ensure_keys(session)
    return keyring(session, "ip").active.secret


def _link_info(row: Link, settings: LinksSettings) -> LinkInfo:
    return LinkInfo(
        link_id=row.link_id,
        token=row.token,
        url=f"{settings.public_base.rstrip('/')}/l/{row.token}",
        brand_id=row.brand_id,
        note_id=row.note_id,
        retailer_id=row.retailer_id,
        destination=row.destination,
        active=row.active,
        created_at=row.created_at,
    )


def create_link(
    session: Session,
    *,
    brand_id: str,
    note_id: str,
    retailer_id: str,
    url: str,
    settings: LinksSettings,
) -> LinkInfo:
    """Create an ad link under ``note_id`` to ``url`` on ``retailer_id`` and return it.

    The destination must pass :func:`~redcat.links.urls.validate_destination` against the
    retailer's allow-list; raises :class:`InputError` otherwise (or for an unknown retailer or an
    empty brand or note id). The token is signed with the active link key; it keeps verifying
    after rotation until that key is retired.
    """
    for name, value in (("brand", brand_id), ("note", note_id), ("retailer", retailer_id)):
        if not value.strip():
            raise InputError(f"the {name} id is empty", field=name)
    hosts = settings.allowed_hosts.get(retailer_id)
    if hosts is None:
        known = ", ".join(sorted(settings.allowed_hosts))
        raise InputError(f"retailer {retailer_id!r} has no allow-list (known: {known})")
    destination = validate_destination(url, hosts, reserved_param=settings.click_param)
    ensure_keys(session)
    ring = keyring(session)
    link_id = new_link_id()
    row = Link(
        link_id=link_id,
        token=sign_link(ring, link_id),
        kid=ring.active.kid,
        brand_id=brand_id,
        note_id=note_id,
        retailer_id=retailer_id,
        destination=destination,
        active=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _link_info(row, settings)


def list_links(
    session: Session, settings: LinksSettings, brand_id: str | None = None
) -> Sequence[LinkInfo]:
    """Return the links of ``brand_id`` (all brands if None), oldest first."""
    query = select(Link).order_by(Link.created_at, Link.link_id)
    if brand_id is not None:
        query = query.where(Link.brand_id == brand_id)
    return [_link_info(r, settings) for r in session.scalars(query)]


def set_link_active(session: Session, link_id: str, active: bool) -> None:
    """Enable or disable link ``link_id`` (a disabled link's redirect answers 404)."""
    row = session.get(Link, link_id)
    if row is None:
        raise InputError(f"no link {link_id!r}")
    row.active = active
    session.flush()
