"""Signed link tokens: HMAC-SHA256 over a link id, under a rotating keyring.

A token is the URL-safe base64 (no padding) of::

    version (1 byte) | key id length (1 byte) | key id (ASCII) | link id (12 bytes) | tag (16 bytes)

where ``tag`` is HMAC-SHA256(secret, everything before it) truncated to 128 bits (truncation to at
least half the hash length is allowed by RFC 2104 §5 and NIST SP 800-107; 128 bits make forging a
token a 2^-128 guess). Decoding is strict: a token must be the canonical encoding of its bytes, so
flipping the unused low bits of the last base64 character is a different, refused token.

Keys have ids so they can be rotated: one *active* key signs new tokens, older keys still verify
tokens they signed until they are *retired*, after which their tokens are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from redcat.errors import ConfigError

TOKEN_VERSION = 1
LINK_ID_BYTES = 12
TAG_BYTES = 16
SECRET_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Longest possible token text: header + 32-char key id + link id + tag, base64 (4 chars / 3 bytes).
MAX_TOKEN_CHARS = ((2 + 32 + LINK_ID_BYTES + TAG_BYTES) * 4 + 2) // 3


class KeyStatus(StrEnum):
    """Lifecycle of a signing key: ``active`` signs and verifies, ``verify`` only verifies,
    ``retired`` does neither."""

    active = "active"
    verify = "verify"
    retired = "retired"


@dataclass(frozen=True)
class SigningKey:
    """One HMAC key: its id, secret bytes and status."""

    kid: str
    secret: bytes = field(repr=False)
    status: KeyStatus = KeyStatus.active

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.match(self.kid):
            raise ConfigError(f"key id {self.kid!r} must be 1-32 letters, digits, '-' or '_'")
        if len(self.secret) < 16:
            raise ConfigError(f"key {self.kid!r}: a secret needs at least 16 bytes")


def new_secret() -> bytes:
    """Return a fresh random secret (32 bytes from the OS CSPRNG)."""
    return secrets.token_bytes(SECRET_BYTES)


def new_link_id() -> str:
    """Return a fresh random link id: 12 random bytes as 24 lowercase hex characters."""
    return secrets.token_hex(LINK_ID_BYTES)


def b64encode(data: bytes) -> str:
    """Return URL-safe base64 of ``data`` without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_strict(text: str) -> bytes | None:
    """Return the bytes of unpadded URL-safe base64 ``text``, or None when ``text`` is not the
    canonical encoding of any bytes (bad characters, bad length, non-zero padding bits)."""
    if not text or len(text) % 4 == 1 or not text.isascii():
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # urlsafe_b64decode silently skips characters outside the alphabet and ignores set padding
    # bits; re-encoding catches both, so exactly one text maps to each byte string.
    return data if b64encode(data) == text else None


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id; exactly one is active (signs), retired keys verify nothing."""

    keys: Mapping[str, SigningKey]

    def __post_init__(self) -> None:
        active = [k.kid for k in self.keys.values() if k.status is KeyStatus.active]
        if len(active) != 1:
            raise ConfigError(f"a keyring needs exactly one active key, found {len(active)}")
        for kid, key in self.keys.items():
            if kid != key.kid:
                raise ConfigError(f"keyring entry {kid!r} holds key {key.kid!r}")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def of(cls, keys: Iterable[SigningKey]) -> Keyring:
        """Return a keyring of ``keys`` (ids must be distinct)."""
        by_id: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in by_id:
                raise ConfigError(f"duplicate key id {key.kid!r}")
            by_id[key.kid] = key
        return cls(by_id)

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens."""
        return next(k for k in self.keys.values() if k.status is KeyStatus.active)

    def verifying(self, kid: str) -> SigningKey | None:
        """Return key ``kid`` if it may verify (active or verify-only), else None."""
        key = self.keys.get(kid)
        if key is None or key.status is KeyStatus.retired:
            return None
        return key


def _tag(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()[:TAG_BYTES]


def sign_link(keyring: Keyring, link_id: str) -> str:
    """Return the token for ``link_id`` (24 hex characters) signed with the active key."""
    try:
        raw_id = bytes.fromhex(link_id)
    except ValueError:
        raw_id = b""
    if len(raw_id) != LINK_ID_BYTES:
        raise ConfigError(f"link id {link_id!r} must be {LINK_ID_BYTES * 2} hex characters")
    key = keyring.active
    kid = key.kid.encode("ascii")
    message = bytes((TOKEN_VERSION, len(kid))) + kid + raw_id
    return b64encode(message + _tag(key.secret, message))


@dataclass(frozen=True)
class VerifiedToken:
    """A token that verified: the link it names and the key that signed it."""

    link_id: str
    kid: str


def verify_link(keyring: Keyring, token: str) -> VerifiedToken | None:
    """Return the link id and key id of ``token`` if it is well formed, signed by a key of
    ``keyring`` that is not retired, and its tag matches (constant-time compare); else None.

    Never raises on malformed input: every refusal is None, so callers answer 404 alike.
    """
    if len(token) > MAX_TOKEN_CHARS:
        return None
    data = b64decode_strict(token)
    if data is None or len(data) < 2 + 1 + LINK_ID_BYTES + TAG_BYTES:
        return None
    version, kid_len = data[0], data[1]
    if version != TOKEN_VERSION or len(data) != 2 + kid_len + LINK_ID_BYTES + TAG_BYTES:
        return None
    try:
        kid = data[2 : 2 + kid_len].decode("ascii")
    except UnicodeDecodeError:
        return None
    key = keyring.verifying(kid)
    if key is None:
        return None
    message, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
    if not hmac.compare_digest(_tag(key.secret, message), tag):
        return None
    return VerifiedToken(link_id=message[2 + kid_len :].hex(), kid=kid)
